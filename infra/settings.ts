/**
 * The deploy-time settings, read once from CDK context (`cdk.json`, or `-c streamgate:key=value`) and checked before
 * anything is built, so a typo stops `cdk synth` with a message instead of deploying a half-configured service.
 */
import { z } from 'zod';
import { LIMIT_POLICIES } from '../core/policy.js';
import { RANGES, type Range } from '../core/ranges.js';

/** Every context key this app reads starts with this, so they cannot collide with CDK's own flags. */
export const CONTEXT_PREFIX = 'streamgate:';

export const IDENTITY_KINDS = ['cognito', 'external'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

/** What API Gateway's HTTP JWT authorizers verify ("only RSA-based algorithms are supported"). */
export const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512'] as const;
export type RsaAlgorithm = (typeof RSA_ALGORITHMS)[number];
const RSA_ONLY =
  "jwtAlgorithms must be RS256, RS384 or RS512: API Gateway's HTTP JWT authorizers verify RSA signatures only, " +
  'so the support and player APIs would refuse every other token';

/** The settings of `identity=external` only, with their defaults there. */
const EXTERNAL_KEYS = ['jwtIssuer', 'jwtAudience', 'jwksUrl', 'jwtAlgorithms', 'limitClaim', 'staffScope'] as const;
const EXTERNAL_DEFAULTS = { jwtAlgorithms: ['RS256'], limitClaim: 'streams', staffScope: 'streamgate:staff' };
/** The settings of `identity=cognito` only. */
const COGNITO_KEYS = ['cognitoDomainPrefix'] as const;

const count = (max: number) => z.coerce.number().int().min(1).max(max);
/** A setting the handlers read too: its range comes from core/ranges.ts (the default is cdk.json's). */
const shared = (r: Range) => {
  const n = z.coerce.number().min(r.min).max(r.max);
  return r.integer ? n.int() : n;
};
/** `-c key=true` arrives as a string; cdk.json gives a boolean. */
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

const SettingsSchema = z.object({
  /** WebSocket stage throttling: steady requests per second and burst, across `$connect`, messages and `$disconnect`. */
  stageRateLimit: count(100_000),
  stageBurstLimit: count(100_000),
  /** Support HTTP API throttling. */
  supportRateLimit: count(10_000),
  supportBurstLimit: count(10_000),
  /** Player HTTP API throttling (players ask why they were refused, and end a stream of theirs). */
  playerRateLimit: count(10_000),
  playerBurstLimit: count(10_000),
  /** How often the ghost sweep runs, in minutes. */
  sweepRateMinutes: count(1_440),
  /**
   * Who signs player and staff tokens: `cognito` (the stack makes a user pool) or `external` (the team's own OpenID
   * Connect provider, described by the `jwt*`, `limitClaim` and `staffScope` keys below).
   */
  identity: z.enum(IDENTITY_KINDS, { error: 'identity must be cognito or external' }),
  /** external: the issuer (https; API Gateway fetches its OpenID configuration) and the audience of its tokens. */
  jwtIssuer: z.url({ protocol: /^https$/, error: 'jwtIssuer must be an https URL (the token issuer)' }).optional(),
  jwtAudience: z.string().trim().min(1, 'jwtAudience must not be empty').optional(),
  /** external: where the `$connect` authorizer fetches the issuer's public keys (cached, rotated by key id). */
  jwksUrl: z
    .url({ protocol: /^https$/, error: 'jwksUrl must be an https URL (the issuer JSON Web Key Set)' })
    .optional(),
  /** external: the signing algorithms accepted; RSA only, because API Gateway's HTTP JWT authorizers verify no other. */
  jwtAlgorithms: z
    .union([z.string().transform((raw) => raw.split(',').map((a) => a.trim())), z.array(z.string())])
    .pipe(z.array(z.enum(RSA_ALGORITHMS, { error: RSA_ONLY })).min(1, RSA_ONLY))
    .optional(),
  /** external: the token claim carrying the plan's stream limit (an override set by support staff beats it). */
  limitClaim: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_:.-]{0,63}$/, 'limitClaim must be a plain claim name')
    .optional(),
  /** external: the OAuth scope a token must carry to use the support routes (API Gateway and the handler both check). */
  staffScope: z
    .string()
    .regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'staffScope must be one scope token')
    .optional(),
  /** cognito: the hosted sign-in's domain prefix (`PREFIX.auth.REGION.amazoncognito.com`); unique per region. */
  cognitoDomainPrefix: z
    .string()
    .regex(
      /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
      'cognitoDomainPrefix must be 1 to 63 of a-z 0-9 - (not starting or ending with -)',
    )
    .refine((p) => !/aws|amazon|cognito/.test(p), 'cognitoDomainPrefix must not contain aws, amazon or cognito')
    .optional(),
  /** Limit policy, passed to the handlers as their environment (see core/config.ts). */
  streamLimit: shared(RANGES.streamLimit),
  /** At the limit: refuse the newest stream, or end the least recently active one (support staff can set it per user). */
  limitPolicy: z.enum(LIMIT_POLICIES, { error: 'limitPolicy must be block-new or evict-oldest' }),
  leaseSeconds: shared(RANGES.leaseSeconds),
  maxConnectionSeconds: shared(RANGES.maxConnectionSeconds),
  handshakeGraceSeconds: shared(RANGES.handshakeGraceSeconds),
  /** core/lifecycle.ts: by when after its admitting write a socket is open or never will be */
  openingWindowSeconds: shared(RANGES.openingWindowSeconds),
  sharingNetworks: shared(RANGES.sharingNetworks),
  sharingRefusalsPerDay: shared(RANGES.sharingRefusalsPerDay),
  /** Connects a second the deployment is sized for: sets the sweep index's shard count (`leaseShardsFor`). */
  expectedConnectsPerSecond: count(1_000_000),
  /** Lambda sizing and log keeping. */
  memoryMb: z.coerce.number().int().min(128).max(10_240),
  logRetentionDays: z.coerce
    .number()
    .int()
    .refine((d) => LOG_RETENTION_DAYS.includes(d), {
      message: 'logRetentionDays must be one CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)',
    }),
  /** WebSocket access logs need the account-wide API Gateway CloudWatch role; off where it is not set up. */
  webSocketAccessLogs: flag,
  /**
   * That role: `create` (the stack makes it and sets it as the account's, kept when the stack goes) or `existing`
   * (the account already has one; the stack leaves the account setting alone).
   */
  apiGatewayCloudWatchRole: z.enum(['create', 'existing'], {
    error: 'apiGatewayCloudWatchRole must be create or existing',
  }),
  /** Alarm thresholds over 5 minutes. */
  storeErrorAlarmThreshold: count(1_000_000),
  ghostReclaimAlarmThreshold: count(1_000_000),
  /** Optional: an existing SNS topic the alarms notify. */
  alarmTopicArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/, 'alarmTopicArn must be an SNS topic ARN')
    .optional(),
});

export type Settings = z.infer<typeof SettingsSchema>;

/** Every CDK context key, without its `streamgate:` prefix (the docs check holds the deploy guide to it). */
export const CONTEXT_KEYS: readonly string[] = Object.keys(SettingsSchema.shape);

/** The retention periods CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557];

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/**
 * Host names reserved for documentation and tests (RFC 2606, RFC 6761): a value naming one is a placeholder someone
 * forgot to replace, and would deploy a stack where every connect fails.
 */
const PLACEHOLDER_HOST = /(^|\.)(example\.(com|net|org)|example|invalid|test|localhost)$/i;

/** Why `value` is a placeholder, or undefined when it is not. */
export function placeholder(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.trim() === '') return 'is empty';
  let host: string | undefined;
  try {
    host = new URL(value).hostname;
  } catch {
    host = /^[a-z0-9.-]+$/i.test(value) ? value : undefined;
  }
  const reserved = host?.match(PLACEHOLDER_HOST);
  return reserved ? `${JSON.stringify(value)} is a placeholder (${reserved[2]} is reserved for examples)` : undefined;
}

/** Reads every `streamgate:` key through `lookup` (a construct's `tryGetContext`) and validates them together. */
export function readSettings(lookup: (key: string) => unknown): Settings {
  const raw: Record<string, unknown> = Object.fromEntries(
    Object.keys(SettingsSchema.shape).map((key) => [key, lookup(`${CONTEXT_PREFIX}${key}`) ?? undefined]),
  );
  const problems: string[] = [];
  const problem = (key: string, message: string) => problems.push(`${CONTEXT_PREFIX}${key}: ${message}`);
  const kind = raw.identity ?? 'cognito';
  raw.identity = kind;
  if (kind === 'external') {
    const nouns = { jwtIssuer: 'issuer', jwtAudience: 'audience', jwksUrl: 'key set URL' } as const;
    for (const [key, noun] of Object.entries(nouns)) {
      if (raw[key] === undefined) problem(key, `required with streamgate:identity=external (your provider's ${noun})`);
      const why = placeholder(raw[key]);
      if (why) problem(key, `${why}: set your provider's ${noun}, or deploy with streamgate:identity=cognito`);
    }
    for (const [key, value] of Object.entries(EXTERNAL_DEFAULTS)) raw[key] ??= value;
    for (const key of COGNITO_KEYS)
      if (raw[key] !== undefined) problem(key, 'applies to streamgate:identity=cognito only');
  } else if (kind === 'cognito') {
    for (const key of EXTERNAL_KEYS) {
      if (raw[key] !== undefined) problem(key, 'applies to streamgate:identity=external only (the user pool sets it)');
    }
  }
  if (problems.length > 0) throw new SettingsError(`invalid CDK context: ${problems.join('; ')}`);
  const parsed = SettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${CONTEXT_PREFIX}${String(i.path[0])}: ${i.message}`).join('; ');
    throw new SettingsError(`invalid CDK context: ${issues}`);
  }
  return parsed.data;
}

/** Who signs the tokens, as the stack needs it. */
export type IdentitySettings =
  | { kind: 'cognito'; domainPrefix?: string }
  | {
      kind: 'external';
      issuer: string;
      audience: string;
      jwksUrl: string;
      algorithms: RsaAlgorithm[];
      limitClaim: string;
      staffScope: string;
    };

export function identityOf(s: Settings): IdentitySettings {
  if (s.identity === 'cognito') return { kind: 'cognito', domainPrefix: s.cognitoDomainPrefix };
  // readSettings required these (and filled in the defaults) for an external identity.
  return {
    kind: 'external',
    issuer: s.jwtIssuer!,
    audience: s.jwtAudience!,
    jwksUrl: s.jwksUrl!,
    algorithms: s.jwtAlgorithms!,
    limitClaim: s.limitClaim!,
    staffScope: s.staffScope!,
  };
}
