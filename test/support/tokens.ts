import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { type JWK, SignJWT } from 'jose';

/** An issuer's key pair for tests: RSA or EC, with a key id. */
export interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
  publicPem: string;
}

export function testKey(alg: 'RS256' | 'ES256', kid: string): TestKey {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicJwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  const publicPem = publicKey.export({ format: 'pem', type: 'spki' }) as string;
  return { kid, alg, privateKey, publicKey, publicJwk, publicPem };
}

export const ISSUER = 'https://issuer.example';
export const AUDIENCE = 'streamgate';
/** A fixed "now" for tests that reason about time (seconds since the epoch). */
export const NOW = 1_800_000_000;

/** Valid claims for `sub`, relative to NOW; tests override what they break. */
export function claims(sub: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: ISSUER, aud: AUDIENCE, sub, iat: NOW, exp: NOW + 600, ...extra };
}

export function sign(
  key: TestKey,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `alg: none`: a header, a payload and an empty signature. */
export function unsigned(payload: Record<string, unknown>, kid?: string): string {
  return `${b64url({ alg: 'none', typ: 'JWT', kid })}.${b64url(payload)}.`;
}

/** The HS/RS confusion attack: HS256 "signed" with the issuer's public key (as PEM text) as the HMAC secret. */
export function hmacWithPublicKey(key: TestKey, payload: Record<string, unknown>): string {
  const input = `${b64url({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64url(payload)}`;
  const signature = createHmac('sha256', key.publicPem).update(input).digest('base64url');
  return `${input}.${signature}`;
}
