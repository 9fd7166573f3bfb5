import { ConfigError } from './errors.js';
import { ClaimName, IDENTITY_DEFAULTS, type StaffRule, StaffValue } from './identity/claims.js';
import { DEFAULT_LIMIT_POLICY, LIMIT_POLICIES, type LimitPolicy } from './policy.js';
import { DEFAULT_LEASE_SHARDS, MAX_LEASE_SHARDS } from './store/schema.js';
import * as z from './zod.js';

const positiveInt = (fallback: number, max: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(max)), fallback);

const EnvSchema = z.object({
  TABLE_NAME: z.string().check(z.minLength(3)),
  AUTH_MODE: z.enum(['dev', 'jwt']),
  /** Where `@connections` lives: the emulator's port locally, the stage's callback URL in AWS. */
  MANAGEMENT_ENDPOINT: z.url(),
  STREAM_LIMIT: positiveInt(3, 100),
  /** How long a connection counts without a heartbeat before it may be checked as a ghost. */
  LEASE_SECONDS: positiveInt(300, 86_400),
  /** API Gateway closes every socket after 2 hours; a connection older than this is gone for sure. */
  MAX_CONNECTION_SECONDS: positiveInt(7_200, 86_400),
  /**
   * While `$connect` runs, API Gateway answers GetConnection with 410 for the connection being set up, so a
   * connection younger than this that answers 410 is asked twice before it is judged a ghost.
   */
  HANDSHAKE_GRACE_SECONDS: positiveInt(30, 3_600),
  /** Partitions of the sweep's index; the CDK app sizes it from the expected connects per second (`leaseShardsFor`). */
  LEASE_SHARDS: positiveInt(DEFAULT_LEASE_SHARDS, MAX_LEASE_SHARDS),
  DYNAMODB_ENDPOINT: z.optional(z.url()),
  /**
   * jwt mode: which claim of a verified token makes its bearer staff (the support API). The token itself is verified
   * before any handler runs (the `$connect` authorizer, the HTTP API's JWT authorizer); handlers read its claims.
   */
  JWT_STAFF_CLAIM: z._default(ClaimName, IDENTITY_DEFAULTS.staff.claim),
  JWT_STAFF_VALUE: z._default(StaffValue, IDENTITY_DEFAULTS.staff.value),
  /** At the limit: refuse the newest (`block-new`) or end the least recently active (`evict-oldest`). */
  LIMIT_POLICY: z._default(z.enum(LIMIT_POLICIES), DEFAULT_LIMIT_POLICY),
});

export interface Config {
  tableName: string;
  authMode: 'dev' | 'jwt';
  managementEndpoint: string;
  defaultLimit: number;
  leaseMs: number;
  maxConnectionMs: number;
  handshakeGraceMs: number;
  leaseShards: number;
  dynamodbEndpoint?: string;
  /** jwt mode: the claim and value that make a token's bearer staff */
  staff?: StaffRule;
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
    leaseShards: e.LEASE_SHARDS,
    dynamodbEndpoint: e.DYNAMODB_ENDPOINT,
    staff: { claim: e.JWT_STAFF_CLAIM, value: e.JWT_STAFF_VALUE },
    defaultPolicy: e.LIMIT_POLICY,
  };
}
