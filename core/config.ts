import { ConfigError } from './errors.js';
import { ClaimName, IDENTITY_DEFAULTS, type StaffRule, StaffValue } from './identity/claims.js';
import { DEFAULT_LIMIT_POLICY, LIMIT_POLICIES, type LimitPolicy } from './policy.js';
import { RANGES, type Range } from './ranges.js';
import * as z from './zod.js';

/** A setting shared with the local stack and the CDK app: its range and default come from core/ranges.ts. */
const inRange = (r: Range) =>
  z._default(z.coerce.number().check(...(r.integer ? [z.int()] : []), z.minimum(r.min), z.maximum(r.max)), r.default);

const EnvSchema = z.object({
  TABLE_NAME: z.string().check(z.minLength(3)),
  AUTH_MODE: z.enum(['dev', 'jwt']),
  /** Where `@connections` lives: the emulator's port locally, the stage's callback URL in AWS. */
  MANAGEMENT_ENDPOINT: z.url(),
  STREAM_LIMIT: inRange(RANGES.streamLimit),
  /** How long a connection counts without a heartbeat before it may be checked as a ghost. */
  LEASE_SECONDS: inRange(RANGES.leaseSeconds),
  /** API Gateway closes every socket after 2 hours; a connection older than this is gone for sure. */
  MAX_CONNECTION_SECONDS: inRange(RANGES.maxConnectionSeconds),
  /** How long a `$connect` keeps trying to admit (races, a slow store) before it gives up with 503. */
  HANDSHAKE_GRACE_SECONDS: inRange(RANGES.handshakeGraceSeconds),
  /** By when after its admitting write a socket is open or never will be (core/lifecycle.ts). */
  OPENING_WINDOW_SECONDS: inRange(RANGES.openingWindowSeconds),
  /** How long a dropped stream of a player that reconnects by itself (`resume=1`) keeps its slot (core/lifecycle.ts). */
  RESUME_HOLD_SECONDS: inRange(RANGES.resumeHoldSeconds),
  SHARING_NETWORKS: inRange(RANGES.sharingNetworks),
  SHARING_REFUSALS_PER_DAY: inRange(RANGES.sharingRefusalsPerDay),
  /** Partitions of the sweep's index; the CDK app sizes it from the expected connects per second (`leaseShardsFor`). */
  LEASE_SHARDS: inRange(RANGES.leaseShards),
  DYNAMODB_ENDPOINT: z.optional(z.url()),
  /**
   * jwt mode: which claim of a verified token makes its bearer staff (the support API). The token itself is verified
   * before any handler runs (the `$connect` authorizer, the HTTP API's JWT authorizer); handlers read its claims.
   */
  JWT_STAFF_CLAIM: z._default(ClaimName, IDENTITY_DEFAULTS.staff.claim),
  JWT_STAFF_VALUE: z._default(StaffValue, IDENTITY_DEFAULTS.staff.value),
  /** jwt mode: the claim holding the user's plan limit, which the player API reads from the caller's token */
  JWT_LIMIT_CLAIM: z._default(ClaimName, IDENTITY_DEFAULTS.limitClaim),
  /** At the limit: refuse the newest (`block-new`) or end the least recently active (`evict-oldest`). */
  LIMIT_POLICY: z._default(z.enum(LIMIT_POLICIES), DEFAULT_LIMIT_POLICY),
});

/** Every variable of the handlers' environment (the docs check holds the docs to it). */
export const CONFIG_ENV: readonly string[] = Object.keys(EnvSchema.shape);

export interface Config {
  tableName: string;
  authMode: 'dev' | 'jwt';
  managementEndpoint: string;
  defaultLimit: number;
  leaseMs: number;
  maxConnectionMs: number;
  handshakeGraceMs: number;
  openingWindowMs: number;
  resumeHoldMs: number;
  /** the sharing signals' thresholds (core/events/signals.ts) */
  sharing: { networks: number; refusalsPerDay: number };
  leaseShards: number;
  dynamodbEndpoint?: string;
  /** jwt mode: the claim and value that make a token's bearer staff */
  staff?: StaffRule;
  /** jwt mode: the claim holding a user's plan limit */
  limitClaim: string;
  /** what happens at the limit for users without a staff-set policy */
  defaultPolicy: LimitPolicy;
}

/** Reads the environment once, at cold start, and refuses to start on anything missing or malformed. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  return {
    tableName: e.TABLE_NAME,
    authMode: e.AUTH_MODE,
    managementEndpoint: e.MANAGEMENT_ENDPOINT,
    defaultLimit: e.STREAM_LIMIT,
    leaseMs: e.LEASE_SECONDS * 1000,
    maxConnectionMs: e.MAX_CONNECTION_SECONDS * 1000,
    handshakeGraceMs: e.HANDSHAKE_GRACE_SECONDS * 1000,
    openingWindowMs: Math.round(e.OPENING_WINDOW_SECONDS * 1000),
    resumeHoldMs: Math.round(e.RESUME_HOLD_SECONDS * 1000),
    sharing: { networks: e.SHARING_NETWORKS, refusalsPerDay: e.SHARING_REFUSALS_PER_DAY },
    leaseShards: e.LEASE_SHARDS,
    dynamodbEndpoint: e.DYNAMODB_ENDPOINT,
    staff: { claim: e.JWT_STAFF_CLAIM, value: e.JWT_STAFF_VALUE },
    limitClaim: e.JWT_LIMIT_CLAIM,
    defaultPolicy: e.LIMIT_POLICY,
  };
}
