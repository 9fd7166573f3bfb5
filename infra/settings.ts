/**
 * The deploy-time settings, read once from CDK context (`cdk.json`, or `-c streamgate:key=value`) and checked before
 * anything is built, so a typo stops `cdk synth` with a message instead of deploying a half-configured service.
 */
import { z } from 'zod';
import { LIMIT_POLICIES } from '../core/policy.js';
import { RANGES, type Range } from '../core/ranges.js';

/** Every context key this app reads starts with this, so they cannot collide with CDK's own flags. */
export const CONTEXT_PREFIX = 'streamgate:';

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
  /** The identity provider that signs player and staff tokens (API Gateway fetches its OpenID configuration). */
  jwtIssuer: z.url({ protocol: /^https$/, error: 'jwtIssuer must be an https URL (the token issuer)' }),
  jwtAudience: z.string().min(1),
  /** Where the `$connect` authorizer fetches the issuer's public keys (cached, rotated by key id). */
  jwksUrl: z.url({ protocol: /^https$/, error: 'jwksUrl must be an https URL (the issuer JSON Web Key Set)' }),
  /** The token claim carrying the plan's stream limit (an override set by support staff beats it). */
  limitClaim: z.string().regex(/^[A-Za-z][A-Za-z0-9_:.-]{0,63}$/, 'limitClaim must be a plain claim name'),
  /** The OAuth scope a token must carry to use the support routes (API Gateway and the handler both check). */
  staffScope: z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'staffScope must be one scope token'),
  /** Limit policy, passed to the handlers as their environment (see core/config.ts). */
  streamLimit: shared(RANGES.streamLimit),
  /** At the limit: refuse the newest stream, or end the least recently active one (support staff can set it per user). */
  limitPolicy: z.enum(LIMIT_POLICIES, { error: 'limitPolicy must be block-new or evict-oldest' }),
  leaseSeconds: shared(RANGES.leaseSeconds),
  maxConnectionSeconds: shared(RANGES.maxConnectionSeconds),
  handshakeGraceSeconds: shared(RANGES.handshakeGraceSeconds),
  /** core/lifecycle.ts: by when after its admitting write a socket is open or never will be */
  openingWindowSeconds: shared(RANGES.openingWindowSeconds),
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

/** The retention periods CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557];

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** Reads every `streamgate:` key through `lookup` (a construct's `tryGetContext`) and validates them together. */
export function readSettings(lookup: (key: string) => unknown): Settings {
  const raw = Object.fromEntries(
    Object.keys(SettingsSchema.shape).map((key) => [key, lookup(`${CONTEXT_PREFIX}${key}`) ?? undefined]),
  );
  const parsed = SettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${CONTEXT_PREFIX}${i.path.join('.')}: ${i.message}`).join('; ');
    throw new SettingsError(`invalid CDK context: ${problems}`);
  }
  return parsed.data;
}
