/**
 * The local stack's own token issuer: one ES256 key pair, made on first use, whose public half the stack serves at
 * `/.well-known/jwks.json` and whose private half `npm run token` signs with.
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
const STAFF_SCOPE = 'streamgate:staff';

export interface LocalSigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** the file it was read from or written to; undefined when held in memory only */
  file?: string;
}

export class SigningKeyFileError extends Error {
  override name = 'SigningKeyFileError';
}

const KeyFileSchema = z.object({
  alg: z.literal(LOCAL_ALGORITHM),
  kid: z.string().min(1),
  privateJwk: z.looseObject({ kty: z.literal('EC'), crv: z.literal('P-256'), d: z.string(), x: z.string() }),
});

const CHECKOUT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The key file `npm start` and `npm run token` use, from their environment. */
export function signingKeyPath(env: { SIGNING_KEY_FILE?: string; DATA_DIR?: string }): string {
  if (env.SIGNING_KEY_FILE) return env.SIGNING_KEY_FILE;
  if (env.DATA_DIR) return join(env.DATA_DIR, 'signing-key.json');
  return join(CHECKOUT_ROOT, '.data', 'signing-key.json');
}

/** A fresh key held in memory only (tests, throwaway stacks). */
export async function newSigningKey(): Promise<LocalSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(LOCAL_ALGORITHM, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: LOCAL_ALGORITHM, use: 'sig' } };
}

/** Reads the key file, or makes the key and writes the file when there is none. Safe when two processes race. */
export async function loadOrCreateSigningKey(file: string): Promise<{ key: LocalSigningKey; created: boolean }> {
  const existing = await readKeyFile(file);
  if (existing) return { key: existing, created: false };
  const key = await newSigningKey();
  const text = `${JSON.stringify({ alg: LOCAL_ALGORITHM, kid: key.kid, privateJwk: await exportJWK(key.privateKey) })}\n`;
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
  const { d: _private, ...publicPart } = parsed.privateJwk;
  const publicJwk: JWK = { kty: publicPart.kty, crv: publicPart.crv, x: publicPart.x, y: publicPart.y as string };
  const privateKey = (await importJWK(parsed.privateJwk, LOCAL_ALGORITHM)) as CryptoKey;
  return {
    kid: parsed.kid,
    privateKey,
    publicJwk: { ...publicJwk, kid: parsed.kid, alg: LOCAL_ALGORITHM, use: 'sig' },
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
    .setProtectedHeader({ alg: LOCAL_ALGORITHM, kid: key.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? LOCAL_ISSUER)
    .setAudience(options.audience ?? LOCAL_AUDIENCE)
    .setSubject(options.userId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (options.ttlSeconds ?? 3600))
    .sign(key.privateKey);
}
