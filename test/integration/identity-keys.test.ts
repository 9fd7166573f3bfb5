import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, InvalidTokenError, KeysUnavailableError } from '../../core/identity/verify.js';
import {
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  loadOrCreateSigningKey,
  mintToken,
  publicKeySet,
  SigningKeyFileError,
} from '../../local/signing-key.js';
import { AUDIENCE, ISSUER, sign, testKey } from '../support/tokens.js';

const run = promisify(execFile);
const now = () => Math.floor(Date.now() / 1000);
const claims = (sub: string) => ({ iss: ISSUER, aud: AUDIENCE, sub, exp: now() + 600 });

/** A JWKS endpoint on loopback whose key set and health the test controls, counting its requests. */
class JwksServer {
  jwks: JSONWebKeySet = { keys: [] };
  status = 200;
  requests = 0;
  private readonly server: Server = createServer((_req, res) => {
    this.requests++;
    res.writeHead(this.status, { 'content-type': 'application/json' }).end(JSON.stringify(this.jwks));
  });
  url = '';
  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('remote JWKS', () => {
  const server = new JwksServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  const remote = (cooldownMs = 60_000) =>
    createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: { kind: 'jwksUrl', url: server.url, cooldownMs } });

  it('fetches the key set once and verifies many tokens from the cache', async () => {
    const key = testKey('ES256', 'k1');
    server.jwks = { keys: [key.publicJwk] };
    server.requests = 0;
    const verifier = remote();
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => sign(key, claims(`user-${i}`))));

    const identities = await Promise.all(tokens.map((t) => verifier.verify(t)));

    expect(identities.map((i) => i.userId)).toEqual(tokens.map((_, i) => `user-${i}`));
    expect(server.requests).toBe(1);
  });

  it('follows a key rotation: a token with a new key id fetches the set again', async () => {
    const [old, fresh] = [testKey('ES256', 'old'), testKey('ES256', 'new')];
    server.jwks = { keys: [old.publicJwk] };
    server.requests = 0;
    const verifier = remote(0);
    await verifier.verify(await sign(old, claims('before')));

    server.jwks = { keys: [fresh.publicJwk] };
    const identity = await verifier.verify(await sign(fresh, claims('after')));

    expect(identity.userId).toBe('after');
    expect(server.requests).toBe(2);
  });

  it('refetches at most once per cooldown however many unknown key ids arrive', async () => {
    const key = testKey('ES256', 'known');
    server.jwks = { keys: [key.publicJwk] };
    server.requests = 0;
    const verifier = remote(60_000);
    await verifier.verify(await sign(key, claims('warm')));
    const forged = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sign(testKey('ES256', `made-up-${i}`), claims('x'))),
    );

    const outcomes = await Promise.allSettled(forged.map((t) => verifier.verify(t)));

    expect(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof InvalidTokenError)).toBe(true);
    expect(server.requests).toBe(1);
  });

  it('reports an unavailable key set as an outage, not as a bad token', async () => {
    const key = testKey('ES256', 'k');
    server.status = 500;
    try {
      await expect(remote().verify(await sign(key, claims('u')))).rejects.toBeInstanceOf(KeysUnavailableError);
    } finally {
      server.status = 200;
    }
    const nobody = createTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: { kind: 'jwksUrl', url: 'http://127.0.0.1:1/jwks.json' },
    });
    await expect(nobody.verify(await sign(key, claims('u')))).rejects.toBeInstanceOf(KeysUnavailableError);
  });
});

describe('local signing key', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sg-key-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is made once, private to its owner, and read back the same', async () => {
    const file = join(dir, 'nested', 'signing-key.json');

    const first = await loadOrCreateSigningKey(file);
    const second = await loadOrCreateSigningKey(file);

    expect([first.created, second.created]).toEqual([true, false]);
    expect(second.key.kid).toBe(first.key.kid);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const verifier = createTokenVerifier({
      issuer: LOCAL_ISSUER,
      audience: LOCAL_AUDIENCE,
      keys: { kind: 'jwks', jwks: publicKeySet(first.key) },
    });
    const token = await mintToken(second.key, { userId: 'alice', limit: 2, staff: true });
    expect(await verifier.verify(token)).toMatchObject({ userId: 'alice', streamLimit: 2, staff: true });
  });

  it('ends up with one key when many processes make it at once', async () => {
    const file = join(dir, 'raced.json');

    const results = await Promise.all(Array.from({ length: 12 }, () => loadOrCreateSigningKey(file)));

    expect(new Set(results.map((r) => r.key.kid)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it('refuses a file that is not a key, saying how to recover', async () => {
    const file = join(dir, 'corrupt.json');
    await writeFile(file, '{"alg":"HS256","k":"secret"}');

    await expect(loadOrCreateSigningKey(file)).rejects.toThrow(SigningKeyFileError);
    await expect(loadOrCreateSigningKey(file)).rejects.toThrow(/delete it/);
    expect(await readFile(file, 'utf8')).toBe('{"alg":"HS256","k":"secret"}');
  });
});

describe('npm run token', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sg-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, ['--import', 'tsx', 'tools/token/cli.ts', ...args], {
      env: { ...process.env, ...env },
    });

  it('prints a token signed with the key in DATA_DIR, with the limit and staff claims asked for', async () => {
    const { stdout } = await cli(['--user', 'alice', '--limit', '4', '--staff', '--ttl', '120'], { DATA_DIR: dir });

    const { key } = await loadOrCreateSigningKey(join(dir, 'signing-key.json'));
    const verifier = createTokenVerifier({
      issuer: LOCAL_ISSUER,
      audience: LOCAL_AUDIENCE,
      keys: { kind: 'jwks', jwks: publicKeySet(key) },
    });
    const identity = await verifier.verify(stdout.trim());
    expect(identity).toMatchObject({ userId: 'alice', streamLimit: 4, staff: true });
    expect(identity.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(120_000);
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 on bad usage, printing nothing on stdout', async () => {
    const misuses = [
      [],
      ['--user', 'a b'],
      ['--user', 'u', '--limit', '101'],
      ['--user', 'u', '--ttl', '-5'],
      ['--user', 'u', '--admin'],
    ];

    const failures = await Promise.all(
      misuses.map((args) =>
        cli(args, { SIGNING_KEY_FILE: join(dir, 'k.json') }).then(
          () => undefined,
          (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
        ),
      ),
    );

    expect(failures).toEqual(misuses.map(() => ({ code: 2, stdout: '' })));
  });

  it.each([['--help'], ['-h']])('prints its usage on stdout for %s, and nothing on stderr', async (flag) => {
    const { stdout, stderr } = await cli([flag]);

    expect(stdout).toMatch(/^usage: npm run --silent token -- --user U/);
    expect(stdout).toContain('--key-file F');
    expect(stderr).toBe('');
  });
});
