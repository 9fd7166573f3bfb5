/**
 * Every setting of the local stack, with its default and its range, in one place: `npm start` reads them from the
 * environment, tests and the benchmark pass them as an object, and both go through the same schema.
 */
import { z } from 'zod';
import { DEFAULT_LIMIT_POLICY, LIMIT_POLICIES } from '../core/policy.js';
import { RANGES, type Range, rangeText } from '../core/ranges.js';
import { type LatencyBand, parseStoreLatency, STORE_LATENCY_FORMAT } from './store-latency.js';

/** `setTimeout` fires at once for anything above 2^31-1 ms; no timer here may be longer. */
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
/** API Gateway closes every socket after 2 hours, and the handlers judge older connections gone for sure. */
const MAX_CONNECTION_SECONDS = RANGES.maxConnectionSeconds.default;

/** The environment leaves a variable empty (`X= npm start`) to mean "unset". */
const unsetIfEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema);

const PORT = 'must be a port number from 0 to 65535 (0 picks a free one)';
const port = (fallback: number) =>
  z.coerce.number({ error: PORT }).int(PORT).min(0, PORT).max(65_535, PORT).default(fallback);
const whole = (fallback: number, min: number, max: number) => {
  const range = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: range }).int(range).min(min, range).max(max, range).default(fallback);
};
/** Fractions allowed: tests shorten timeouts below a second. */
const timerSeconds = (fallback: number, max: number) => {
  const range = `must be a number of seconds above 0 and at most ${max}`;
  return z.coerce.number({ error: range }).positive(range).max(max, range).default(fallback);
};
/** A setting the handlers read too: its range and default are core/ranges.ts's. */
const shared = (r: Range) => {
  const range = rangeText(r);
  const n = z.coerce.number({ error: range }).min(r.min, range).max(r.max, range);
  return (r.integer ? n.int(range) : n).default(r.default);
};
const RATE = 'must be a number from 0 to 1';
const rate = z.coerce.number({ error: RATE }).min(0, RATE).max(1, RATE).default(0);
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });

const SWEEP = `must be 0 (off) or a number of seconds up to ${MAX_TIMER_SECONDS}`;

/**
 * API Gateway's account-level defaults (10,000 requests a second, a burst of 5,000) are the ceiling of any stage or
 * route limit there, and so here.
 */
const MAX_RATE = 10_000;
const MAX_BURST = 5_000;
const RATE_LIMIT = `must be a number of requests per second above 0 and at most ${MAX_RATE}`;
const rateLimit = (fallback: number) =>
  z.coerce.number({ error: RATE_LIMIT }).positive(RATE_LIMIT).max(MAX_RATE, RATE_LIMIT).default(fallback);
/** A route key as API Gateway takes one: `$connect`, `$default` or an action name. */
const ROUTE_KEY = /^\$?[A-Za-z0-9_.:@-]{1,128}$/;
const ROUTES =
  `must be ROUTE=RATE/BURST pairs separated by commas (e.g. $default=50/100), RATE above 0 and at most ${MAX_RATE}, ` +
  `BURST a whole number from 1 to ${MAX_BURST}, and not $disconnect (API Gateway's own event, never throttled)`;
/** `THROTTLE_ROUTES=$default=50/100,heartbeat=5/10`; tests pass the parsed list. */
const routeLimits = z.preprocess(
  (v) =>
    typeof v !== 'string'
      ? v
      : v
          .split(',')
          .filter((pair) => pair.trim() !== '')
          .map((pair) => {
            const match = /^\s*(\S+?)=([^/\s]+)\/(\S+?)\s*$/.exec(pair);
            return match ? { route: match[1], rateLimit: Number(match[2]), burstLimit: Number(match[3]) } : pair;
          }),
  z
    .array(
      z.object(
        {
          route: z
            .string({ error: ROUTES })
            .regex(ROUTE_KEY, ROUTES)
            .refine((k) => k !== '$disconnect', ROUTES),
          rateLimit: z.number({ error: ROUTES }).positive(ROUTES).max(MAX_RATE, ROUTES),
          burstLimit: z.number({ error: ROUTES }).int(ROUTES).min(1, ROUTES).max(MAX_BURST, ROUTES),
        },
        { error: ROUTES },
      ),
      { error: ROUTES },
    )
    // A route named twice is a typo, not something to settle silently.
    .refine((routes) => new Set(routes.map((r) => r.route)).size === routes.length, ROUTES)
    .default([]),
);

const LocalSettingsSchema = z.object({
  host: unsetIfEmpty(z.string().regex(/^\S+$/, 'must be an address or host name').default('127.0.0.1')),
  wsPort: unsetIfEmpty(port(3001)),
  httpPort: unsetIfEmpty(port(3000)),
  streamLimit: unsetIfEmpty(shared(RANGES.streamLimit)),
  /** random, and printed at start, when unset */
  adminToken: unsetIfEmpty(z.string().regex(/^\S+$/, 'must not contain spaces').optional()),
  authMode: unsetIfEmpty(oneOf(['dev', 'jwt']).default('dev')),
  /** in memory when unset */
  dataDir: unsetIfEmpty(z.string().optional()),
  /** the embedded DynamoDB Local when unset */
  dynamodbEndpoint: unsetIfEmpty(z.url({ error: 'must be a URL such as http://127.0.0.1:8000' }).optional()),
  limitPolicy: unsetIfEmpty(oneOf(LIMIT_POLICIES).default(DEFAULT_LIMIT_POLICY)),
  leaseSeconds: unsetIfEmpty(shared(RANGES.leaseSeconds)),
  handshakeGraceSeconds: unsetIfEmpty(shared(RANGES.handshakeGraceSeconds)),
  /** core/lifecycle.ts: by when after its admitting write a socket is open or never will be */
  openingWindowSeconds: unsetIfEmpty(shared(RANGES.openingWindowSeconds)),
  /** core/lifecycle.ts: how long a `resume` player's dropped stream keeps its slot */
  resumeHoldSeconds: unsetIfEmpty(shared(RANGES.resumeHoldSeconds)),
  sharingNetworks: unsetIfEmpty(shared(RANGES.sharingNetworks)),
  sharingRefusalsPerDay: unsetIfEmpty(shared(RANGES.sharingRefusalsPerDay)),
  /** 0 turns the periodic sweep off (tests that run it themselves) */
  sweepIntervalSeconds: unsetIfEmpty(
    z.coerce
      .number({ error: SWEEP })
      .min(0, SWEEP)
      .max(MAX_TIMER_SECONDS, SWEEP)
      .refine((s) => s === 0 || s >= 0.001, SWEEP)
      .default(60),
  ),
  /**
   * API Gateway's stage throttling of messages (token bucket). Far below AWS's account defaults: those would let one
   * socket keep this machine's DynamoDB Local and both cores busy, starving `/health`, support and new connects.
   */
  throttleRateLimit: unsetIfEmpty(rateLimit(100)),
  throttleBurstLimit: unsetIfEmpty(whole(200, 1, MAX_BURST)),
  /** per-route limits on top of the stage's, by route key */
  throttleRoutes: unsetIfEmpty(routeLimits),
  /** messages handed to handlers and not yet answered, over all sockets and per socket; more are throttled */
  maxMessagesInFlight: unsetIfEmpty(whole(100, 1, 10_000)),
  maxMessagesInFlightPerConnection: unsetIfEmpty(whole(10, 1, 1_000)),
  idleTimeoutSeconds: unsetIfEmpty(timerSeconds(600, MAX_TIMER_SECONDS)),
  hardTimeoutSeconds: unsetIfEmpty(timerSeconds(MAX_CONNECTION_SECONDS, MAX_CONNECTION_SECONDS)),
  /** share (0 to 1) of `$disconnect` events never delivered, as API Gateway may do */
  faultDropDisconnect: unsetIfEmpty(rate),
  /** share (0 to 1) of admitted `$connect`s whose handshake then fails, with no `$disconnect` */
  faultFailHandshake: unsetIfEmpty(rate),
  /** every DynamoDB call of the handlers delayed by a draw from these bands (store-latency.ts); none when unset */
  faultStoreLatency: unsetIfEmpty(
    z
      .preprocess(
        (v) => (typeof v === 'string' ? (parseStoreLatency(v) ?? v) : v),
        z.array(z.object({ share: z.number(), minMs: z.number(), maxMs: z.number() }), {
          error: STORE_LATENCY_FORMAT,
        }),
      )
      .optional() as z.ZodType<LatencyBand[] | undefined>,
  ),
  /** the handlers' log level (Powertools' own variable) */
  logLevel: unsetIfEmpty(
    z.preprocess(
      (v) => (typeof v === 'string' ? v.toUpperCase() : v),
      oneOf(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT']).default('WARN'),
    ),
  ),
  /**
   * jwt mode. Unset: the stack is its own issuer (`streamgate-local`, audience `streamgate`), signing with its local
   * key (`signingKeyFile`, else `DATA_DIR/signing-key.json`, else `.data/`). Set: tokens of another issuer, checked
   * like the Lambda authorizer's settings (issuer, audience and exactly one key source).
   */
  jwtIssuer: unsetIfEmpty(z.string().optional()),
  jwtAudience: unsetIfEmpty(z.string().optional()),
  jwtJwksUrl: unsetIfEmpty(z.string().optional()),
  jwtPublicKey: unsetIfEmpty(z.string().optional()),
  jwtLimitClaim: unsetIfEmpty(z.string().optional()),
  jwtStaffClaim: unsetIfEmpty(z.string().optional()),
  jwtStaffValue: unsetIfEmpty(z.string().optional()),
  signingKeyFile: unsetIfEmpty(z.string().optional()),
  /** the algorithm of the signing key (RS256: as API Gateway's HTTP JWT authorizers verify); ES256 when made unset */
  signingKeyAlgorithm: unsetIfEmpty(oneOf(['ES256', 'RS256']).optional()),
  /** where every lifecycle event is POSTed (CloudEvents, one per request); unset: events go to `GET /events` only */
  eventsWebhookUrl: unsetIfEmpty(
    z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:9000/events' }).optional(),
  ),
  /** `off`: no events processor beside the stack (the table still records its changes); for comparisons */
  eventsProcessor: unsetIfEmpty(oneOf(['on', 'off']).default('on')),
  /** signs each webhook request (HMAC-SHA256); at least 16 characters */
  eventsWebhookSecret: unsetIfEmpty(z.string().min(16, 'must have at least 16 characters').optional()),
  /** set by code only: tests give each file a table of its own */
  tableName: z.string().min(3, 'must have at least 3 characters').default('streamgate'),
});

export type LocalSettings = z.output<typeof LocalSettingsSchema>;

/** The environment variable behind each setting; settings without one are set by code only. */
export const SETTINGS_ENV: Readonly<Partial<Record<keyof LocalSettings, string>>> = {
  host: 'HOST',
  wsPort: 'WS_PORT',
  httpPort: 'HTTP_PORT',
  streamLimit: 'STREAM_LIMIT',
  adminToken: 'ADMIN_TOKEN',
  authMode: 'AUTH_MODE',
  dataDir: 'DATA_DIR',
  dynamodbEndpoint: 'DYNAMODB_ENDPOINT',
  limitPolicy: 'LIMIT_POLICY',
  leaseSeconds: 'LEASE_SECONDS',
  handshakeGraceSeconds: 'HANDSHAKE_GRACE_SECONDS',
  openingWindowSeconds: 'OPENING_WINDOW_SECONDS',
  resumeHoldSeconds: 'RESUME_HOLD_SECONDS',
  sharingNetworks: 'SHARING_NETWORKS',
  sharingRefusalsPerDay: 'SHARING_REFUSALS_PER_DAY',
  sweepIntervalSeconds: 'SWEEP_INTERVAL_SECONDS',
  throttleRateLimit: 'THROTTLE_RATE_LIMIT',
  throttleBurstLimit: 'THROTTLE_BURST_LIMIT',
  throttleRoutes: 'THROTTLE_ROUTES',
  maxMessagesInFlight: 'MAX_MESSAGES_IN_FLIGHT',
  maxMessagesInFlightPerConnection: 'MAX_MESSAGES_IN_FLIGHT_PER_CONNECTION',
  idleTimeoutSeconds: 'IDLE_TIMEOUT_SECONDS',
  hardTimeoutSeconds: 'HARD_TIMEOUT_SECONDS',
  faultDropDisconnect: 'FAULT_DROP_DISCONNECT',
  faultFailHandshake: 'FAULT_FAIL_HANDSHAKE',
  faultStoreLatency: 'FAULT_STORE_LATENCY',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  jwtIssuer: 'JWT_ISSUER',
  jwtAudience: 'JWT_AUDIENCE',
  jwtJwksUrl: 'JWT_JWKS_URL',
  jwtPublicKey: 'JWT_PUBLIC_KEY',
  jwtLimitClaim: 'JWT_LIMIT_CLAIM',
  jwtStaffClaim: 'JWT_STAFF_CLAIM',
  jwtStaffValue: 'JWT_STAFF_VALUE',
  signingKeyFile: 'SIGNING_KEY_FILE',
  signingKeyAlgorithm: 'SIGNING_KEY_ALGORITHM',
  eventsWebhookUrl: 'EVENTS_WEBHOOK_URL',
  eventsWebhookSecret: 'EVENTS_WEBHOOK_SECRET',
  eventsProcessor: 'EVENTS_PROCESSOR',
};

/** A setting out of range or malformed; the message names every bad one, on one line. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

function parse(input: Record<string, unknown>, nameOf: (key: string) => string): LocalSettings {
  const parsed = LocalSettingsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0]);
    const value = input[key];
    const shown = typeof value === 'string' || typeof value === 'number' ? ` (got ${JSON.stringify(value)})` : '';
    return `${nameOf(key)} ${issue.message}${shown}`;
  });
  throw new SettingsError(problems.join('; '));
}

/** The settings of `npm start`, from the environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): LocalSettings {
  const input: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(SETTINGS_ENV)) input[key] = env[name];
  return parse(input, (key) => SETTINGS_ENV[key as keyof LocalSettings] ?? key);
}

/** The defaults with these overrides, checked against the same ranges (unknown keys are dropped). */
export function localSettings(overrides: Partial<LocalSettings> = {}): LocalSettings {
  return parse(overrides, (key) => key);
}
