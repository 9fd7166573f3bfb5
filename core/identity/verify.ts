/**
 * Who is this? A player's or staff member's identity from a signed JWT, verified with `jose` against the issuer's
 * public keys (a JWKS URL, kept fresh by jose's cache, or keys given in configuration).
 *
 * Only asymmetric algorithms are ever accepted: a verifier that holds public keys must never accept a token "signed"
 * with a shared secret (HS256 keyed with the RSA public key, the classic confusion) or with no signature (`none`).
 */
import { createPublicKey } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { LimitSchema, UserIdSchema } from '../params.js';
import { IDENTITY_DEFAULTS, isStaff, ownClaim, type StaffRule } from './claims.js';

export type { StaffRule } from './claims.js';

/** Every asymmetric JWS algorithm jose verifies. Symmetric (HS*) and `none` are not in the vocabulary at all. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export type KeySource =
  /** the issuer's JWKS endpoint: fetched on first use, cached, fetched again for an unknown key id (rotation) */
  | { kind: 'jwksUrl'; url: string; cacheMaxAgeMs?: number; cooldownMs?: number; timeoutMs?: number }
  /** a key set held in memory (the local stack's own key, tests) */
  | { kind: 'jwks'; jwks: JSONWebKeySet }
  /** one public key, PEM (SPKI) or JWK JSON, or a JWKS JSON document, from configuration */
  | { kind: 'publicKey'; key: string };

export interface VerifierOptions {
  issuer: string;
  audience: string;
  keys: KeySource;
  /** allow-list; defaults to every asymmetric algorithm */
  algorithms?: readonly AsymmetricAlgorithm[];
  /** tolerated clock difference for `exp` and `nbf` */
  clockSkewSeconds?: number;
  /** claim carrying the plan's stream limit (0 to 100); absent means the default limit */
  limitClaim?: string;
  staff?: StaffRule;
  /** for tests; jose reads the clock otherwise */
  now?: () => Date;
}

export interface Identity {
  userId: string;
  /** the plan's limit from the token, when it carries one */
  streamLimit?: number;
  staff: boolean;
  expiresAt: Date;
  /** every claim of the verified token, for an emulated API Gateway authorizer to pass on */
  claims: Record<string, unknown>;
}

export type TokenProblem =
  | 'missing'
  | 'malformed'
  | 'expired'
  | 'notYetValid'
  | 'badSignature'
  | 'wrongIssuer'
  | 'wrongAudience'
  | 'unknownKey'
  | 'algorithmNotAllowed'
  | 'badClaims';

/** The token does not prove an identity. Maps to 401; `problem` is for logs, never for the caller. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
  constructor(
    readonly problem: TokenProblem,
    message: string,
  ) {
    super(message);
  }
}

/** The issuer's keys could not be had (JWKS endpoint down, slow or answering garbage): an outage, not a bad token. */
export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError';
}

export interface TokenVerifier {
  /** Resolves with the identity, or rejects with `InvalidTokenError` or `KeysUnavailableError`. */
  verify(token: string | undefined | null): Promise<Identity>;
}

export const DEFAULTS = IDENTITY_DEFAULTS;

/** Larger than any sane token, small enough that parsing it costs nothing. */
const MAX_TOKEN_LENGTH = 8192;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const getKey = keyResolver(options.keys);
  const algorithms = [...(options.algorithms ?? ASYMMETRIC_ALGORITHMS)];
  const limitClaim = options.limitClaim ?? DEFAULTS.limitClaim;
  const staff = options.staff ?? DEFAULTS.staff;
  const clockTolerance = options.clockSkewSeconds ?? DEFAULTS.clockSkewSeconds;

  return {
    async verify(token) {
      if (token === undefined || token === null || token === '') throw new InvalidTokenError('missing', 'no token');
      if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
        throw new InvalidTokenError('malformed', 'not a compact JWS');
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms,
          clockTolerance,
          requiredClaims: ['exp', 'sub'],
          currentDate: options.now?.(),
        }));
      } catch (error) {
        throw classify(error);
      }
      return toIdentity(payload, limitClaim, staff);
    },
  };
}

function keyResolver(source: KeySource): JWTVerifyGetKey {
  switch (source.kind) {
    case 'jwksUrl': {
      const url = new URL(source.url);
      // Made on the first token, not at module load: building it loads Node's fetch (undici), about 25 ms of a cold
      // start's init (`npm run bundles`), and the first token has to fetch the keys anyway.
      let remote: JWTVerifyGetKey | undefined;
      return (header, token) => {
        remote ??= createRemoteJWKSet(url, {
          cacheMaxAge: source.cacheMaxAgeMs ?? 10 * 60_000,
          // An unknown key id refetches the set (rotation), but at most once per cooldown: a flood of tokens with
          // made-up key ids cannot turn into a flood of requests to the issuer.
          cooldownDuration: source.cooldownMs ?? 30_000,
          timeoutDuration: source.timeoutMs ?? 3_000,
        });
        return remote(header, token);
      };
    }
    case 'jwks':
      return createLocalJWKSet(source.jwks);
    case 'publicKey': {
      const jwks = parsePublicKeys(source.key);
      const local = createLocalJWKSet(jwks);
      // One configured key without a key id (a PEM) is the key, whatever id the token names.
      const [only] = jwks.keys;
      if (jwks.keys.length === 1 && only?.kid === undefined)
        return (header, token) => local({ ...header, kid: undefined }, token);
      return local;
    }
  }
}

/** PEM, one JWK or a JWKS, as configuration gives it; private or symmetric keys are refused outright. */
export function parsePublicKeys(text: string): JSONWebKeySet {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    if (/PRIVATE KEY-----/.test(trimmed)) throw new TypeError('the public key setting holds a private key');
    const jwk = createPublicKey(trimmed).export({ format: 'jwk' }) as JWK;
    return { keys: [jwk] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new TypeError('the public key setting is neither PEM nor JSON');
  }
  const keys = (isObject(parsed) && Array.isArray(parsed.keys) ? parsed.keys : [parsed]) as unknown[];
  if (keys.length === 0) throw new TypeError('the public key setting holds no key');
  for (const key of keys) {
    if (!isObject(key) || typeof key.kty !== 'string') throw new TypeError('the public key setting holds a non-JWK');
    if (key.kty === 'oct') throw new TypeError('the public key setting holds a symmetric key');
    if ('d' in key) throw new TypeError('the public key setting holds a private key');
  }
  return { keys: keys as JWK[] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function classify(error: unknown): Error {
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('expired', 'the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf':
        return new InvalidTokenError('notYetValid', 'the token is not valid yet');
      case 'iss':
        return new InvalidTokenError('wrongIssuer', 'the token is from another issuer');
      case 'aud':
        return new InvalidTokenError('wrongAudience', 'the token is for another audience');
      default:
        return new InvalidTokenError('badClaims', `claim ${error.claim}: ${error.reason}`);
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new InvalidTokenError('badSignature', 'the signature does not verify');
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new InvalidTokenError('algorithmNotAllowed', 'the token uses an algorithm that is not allowed');
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new InvalidTokenError('unknownKey', 'no key of the issuer matches the token');
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return new InvalidTokenError('malformed', 'the token is malformed');
  }
  // Fetch failures, timeouts, an unparsable key set: nothing the token did.
  return new KeysUnavailableError('the issuer keys are unavailable', { cause: error });
}

function toIdentity(payload: JWTPayload, limitClaim: string, staff: StaffRule): Identity {
  const userId = UserIdSchema.safeParse(payload.sub);
  if (!userId.success) throw new InvalidTokenError('badClaims', 'sub is not a valid user id');
  const rawLimit = ownClaim(payload, limitClaim);
  let streamLimit: number | undefined;
  if (rawLimit !== undefined) {
    // A number, or its decimal text: Cognito puts custom attributes (`custom:streams`) in tokens as strings.
    const limit = LimitSchema.safeParse(
      typeof rawLimit === 'string' && /^\d{1,3}$/.test(rawLimit) ? Number(rawLimit) : rawLimit,
    );
    // A plan limit we cannot read is not silently replaced by the default, which may be more generous.
    if (!limit.success) throw new InvalidTokenError('badClaims', `${limitClaim} is not a whole number from 0 to 100`);
    streamLimit = limit.data;
  }
  return {
    userId: userId.data,
    ...(streamLimit === undefined ? {} : { streamLimit }),
    staff: isStaff(payload, staff),
    expiresAt: new Date((payload.exp as number) * 1000),
    claims: payload,
  };
}
