/** The verifier's settings from the environment (jwt mode), read once and refused early when incomplete. */
import { ConfigError } from '../errors.js';
import * as z from '../zod.js';
import { ClaimName, StaffValue } from './claims.js';
import { ASYMMETRIC_ALGORITHMS, DEFAULTS, parsePublicKeys, type VerifierOptions } from './verify.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Keys must come over TLS, except from this machine (the local stack serves its own JWKS on loopback). */
const JwksUrl = z.url().check(
  z.refine((raw) => {
    const url = new URL(raw);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  }, 'must be https:// (http:// only on loopback)'),
);

const Algorithms = z.pipe(
  z.pipe(
    z.string(),
    z.transform((raw) => raw.split(',').map((a) => a.trim())),
  ),
  z.array(z.enum(ASYMMETRIC_ALGORITHMS, 'asymmetric algorithms only (RS*, PS*, ES*, EdDSA)')).check(z.minLength(1)),
);

export const IdentityEnvSchema = z
  .object({
    JWT_ISSUER: z.string().check(z.minLength(1, 'required in jwt mode')),
    JWT_AUDIENCE: z.string().check(z.minLength(1, 'required in jwt mode')),
    JWT_JWKS_URL: z.optional(JwksUrl),
    JWT_PUBLIC_KEY: z.optional(z.string().check(z.minLength(1))),
    JWT_ALGORITHMS: z.optional(Algorithms),
    JWT_CLOCK_SKEW_SECONDS: z._default(
      z.coerce.number().check(z.int(), z.minimum(0), z.maximum(300)),
      DEFAULTS.clockSkewSeconds,
    ),
    JWT_LIMIT_CLAIM: z._default(ClaimName, DEFAULTS.limitClaim),
    JWT_STAFF_CLAIM: z._default(ClaimName, DEFAULTS.staff.claim),
    JWT_STAFF_VALUE: z._default(StaffValue, DEFAULTS.staff.value),
  })
  .check(
    z.refine((e) => (e.JWT_JWKS_URL === undefined) !== (e.JWT_PUBLIC_KEY === undefined), {
      message: 'set exactly one of JWT_JWKS_URL and JWT_PUBLIC_KEY',
      path: ['JWT_JWKS_URL'],
    }),
  );

export function loadIdentityConfig(env: Record<string, string | undefined>): VerifierOptions {
  // An empty variable is an unset one (a blank line in an env file must not become an issuer of "").
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = IdentityEnvSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid jwt configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.JWT_PUBLIC_KEY !== undefined) {
    try {
      parsePublicKeys(e.JWT_PUBLIC_KEY);
    } catch (error) {
      throw new ConfigError(`invalid jwt configuration: JWT_PUBLIC_KEY: ${(error as Error).message}`);
    }
  }
  return {
    issuer: e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE,
    keys:
      e.JWT_JWKS_URL !== undefined
        ? { kind: 'jwksUrl', url: e.JWT_JWKS_URL }
        : { kind: 'publicKey', key: e.JWT_PUBLIC_KEY as string },
    ...(e.JWT_ALGORITHMS ? { algorithms: e.JWT_ALGORITHMS } : {}),
    clockSkewSeconds: e.JWT_CLOCK_SKEW_SECONDS,
    limitClaim: e.JWT_LIMIT_CLAIM,
    staff: { claim: e.JWT_STAFF_CLAIM, value: e.JWT_STAFF_VALUE },
  };
}
