/**
 * The local stack's own token issuer: one key pair, made on first use, whose public half the stack serves at
 * `/.well-known/jwks.json` and whose private half `npm run token` signs with. ES256 by default; RS256
 * (`SIGNING_KEY_ALGORITHM=RS256` when the key is made) signs as the deployed APIs verify: API Gateway's HTTP JWT
 * authorizers take RSA signatures only. The key file records its algorithm, so the stack and the CLI always agree.
 *
 * Where the key lives (the same rule for `npm start` and the token CLI, so they always agree):
 *   1. `SIGNING_KEY_FILE` when set;
 *   2. `$DATA_DIR/signing-key.json` when `DATA_DIR` is set (it travels with the data it protects);
 *   3. `.data/signing-key.json` in this checkout (git-ignored) otherwise.
 * A file rather than memory even without `DATA_DIR`: the CLI runs in another process and must sign with the key the
 * running stack trusts. A file needs no minting endpoint on the network (anyone reaching the port could mint
 * identities) and no knowledge of the stack's port; it is private to the user (0600) and to this checkout.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  SignJWT,
} from 'jose';
import { z } from 'zod';

export const LOCAL_ISSUER = 'streamgate-local';
export const LOCAL_AUDIENCE = 'streamgate';
export const LOCAL_ALGORITHM = 'ES256';
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];
const STAFF_SCOPE = 'streamgate:staff';

export interface LocalSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** the file it was read from or written to; undefined when held in memory only */
  file?: string;
}

export class SigningKeyFileError extends Error {
  override name = 'SigningKeyFileError';
}

const KeyFileSchema = z.discriminatedUnion('alg', [
  z.object({
    alg: z.literal('ES256'),
    kid: z.string().min(1),
    privateJwk: z.looseObject({ kty: z.literal('EC'), crv: z.literal('P-256'), d: z.string(), x: z.string() }),
  }),
  z.object({
    alg: z.literal('RS256'),
    kid: z.string().min(1),
    privateJwk: z.looseObject({ kty: z.literal('RSA'), n: z.string(), e: z.string(), d: z.string() }),
  }),
]);

const CHECKOUT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The algorithm `SIGNING_KEY_ALGORITHM` asks for, if any (the token CLI reads it as `npm start` does). */
export function signingAlgorithmOf(env: { SIGNING_KEY_ALGORITHM?: string }): SigningAlgorithm | undefined {
  const raw = env.SIGNING_KEY_ALGORITHM;
  if (raw === undefined || raw === '') return undefined;
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(raw)) {
    throw new SigningKeyFileError(`SIGNING_KEY_ALGORITHM must be ES256 or RS256, not ${JSON.stringify(raw)}`);
  }
  return raw as SigningAlgorithm;
}

/** The key file `npm start` and `npm run token` use, from their environment. */
export function signingKeyPath(env: { SIGNING_KEY_FILE?: string; DATA_DIR?: string }): string {
  if (env.SIGNING_KEY_FILE) return env.SIGNING_KEY_FILE;
  if (env.DATA_DIR) return join(env.DATA_DIR, 'signing-key.json');
  return join(CHECKOUT_ROOT, '.data', 'signing-key.json');
}

/** A fresh key held in memory only (tests, throwaway stacks). */
export async function newSigningKey(alg: SigningAlgorithm = LOCAL_ALGORITHM): Promise<LocalSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, alg, privateKey, publicJwk: { ...publicJwk, kid, alg, use: 'sig' } };
}

/** Reads the key file, or makes the key and writes the file when there is none. Safe when two processes race. */
/**
 * `alg`: the algorithm asked for (`SIGNING_KEY_ALGORITHM`); a file holding a key of another is refused rather than
 * silently used. Unset: the file's key, or a new ES256 one.
 */
export async function loadOrCreateSigningKey(
  file: string,
  requested?: SigningAlgorithm,
): Promise<{ key: LocalSigningKey; created: boolean }> {
  const existing = await readKeyFile(file);
  if (existing && requested !== undefined && existing.alg !== requested) {
    throw new SigningKeyFileError(
      `${file} holds an ${existing.alg} key, not ${requested}: delete it and a new ${requested} key is made`,
    );
  }
  if (existing) return { key: existing, created: false };
  const alg = requested ?? LOCAL_ALGORITHM;
  const key = await newSigningKey(alg);
  const text = `${JSON.stringify({ alg, kid: key.kid, privateJwk: await exportJWK(key.privateKey) })}\n`;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // Written aside, then linked into place: link fails if the name exists, so of two racing creators one wins and
  // the other reads the winner's complete file (never a half-written one).
  const aside = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(aside, text, { mode: 0o600, flag: 'wx' });
  try {
    await link(aside, file);
    return { key: { ...key, file }, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await readKeyFile(file);
    if (!winner) throw new SigningKeyFileError(`${file} vanished while it was being made`);
    return { key: winner, created: false };
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

async function readKeyFile(file: string): Promise<LocalSigningKey | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SigningKeyFileError(`cannot read the signing key ${file}: ${(error as Error).message}`);
  }
  let parsed: z.infer<typeof KeyFileSchema>;
  try {
    parsed = KeyFileSchema.parse(JSON.parse(text));
  } catch {
    throw new SigningKeyFileError(`${file} is not a signing key; delete it and a new one is made`);
  }
  const jwk = parsed.privateJwk;
  // The public half only: no private member (d, p, q, dp, dq, qi) reaches the key set the stack serves.
  const publicJwk: JWK =
    jwk.kty === 'EC' ? { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y as string } : { kty: 'RSA', n: jwk.n, e: jwk.e };
  const privateKey = (await importJWK(jwk, parsed.alg)) as CryptoKey;
  return {
    kid: parsed.kid,
    alg: parsed.alg,
    privateKey,
    publicJwk: { ...publicJwk, kid: parsed.kid, alg: parsed.alg, use: 'sig' },
    file,
  };
}

/** What `/.well-known/jwks.json` serves. */
export function publicKeySet(...keys: LocalSigningKey[]): JSONWebKeySet {
  return { keys: keys.map((k) => k.publicJwk) };
}

export interface MintOptions {
  userId: string;
  /** the plan's stream limit claim */
  limit?: number;
  staff?: boolean;
  ttlSeconds?: number;
  /** for tests of tokens from elsewhere; the local issuer and audience otherwise */
  issuer?: string;
  audience?: string;
  /** seconds since the epoch; now by default */
  issuedAt?: number;
  limitClaim?: string;
}

export async function mintToken(key: LocalSigningKey, options: MintOptions): Promise<string> {
  const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  if (options.limit !== undefined) claims[options.limitClaim ?? 'streams'] = options.limit;
  if (options.staff) claims.scope = STAFF_SCOPE;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? LOCAL_ISSUER)
    .setAudience(options.audience ?? LOCAL_AUDIENCE)
    .setSubject(options.userId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (options.ttlSeconds ?? 3600))
    .sign(key.privateKey);
}
