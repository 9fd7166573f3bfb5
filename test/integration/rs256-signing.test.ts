/**
 * `SIGNING_KEY_ALGORITHM=RS256`: the local stack signs as the deployed APIs verify (API Gateway's HTTP JWT authorizers
 * take RSA signatures only). The key file records its algorithm, so `npm start` and `npm run token` agree, and a file
 * of the other algorithm is refused rather than silently used.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigningKeyFileError } from '../../local/signing-key.js';
import type { LocalStack } from '../../local/stack.js';
import { runTsx } from '../support/cli.js';
import { openSocket } from '../support/sockets.js';
import { newUserId, startTestStack, supportRequest } from '../support/stack.js';

describe('When the local stack signs with RS256', () => {
  let dir: string;
  let keyFile: string;
  let stack: LocalStack;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sg-rs256-'));
    keyFile = join(dir, 'signing-key.json');
    stack = await startTestStack({
      authMode: 'jwt',
      signingKeyFile: keyFile,
      signingKeyAlgorithm: 'RS256',
      sweepIntervalSeconds: 0,
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves an RSA public key, and nothing of the private one', async () => {
    // Act
    const jwks = await (await fetch(`${stack.httpUrl}/.well-known/jwks.json`)).json();

    // Assess
    expect(jwks.keys).toEqual([
      { kty: 'RSA', n: expect.any(String), e: 'AQAB', kid: expect.any(String), alg: 'RS256', use: 'sig' },
    ]);
  });

  it('lets npm run token sign with the same key, RS256, for the socket and the support API', async () => {
    // Act
    const player = newUserId('rsa');
    const minted = await Promise.all([
      runTsx('tools/token/cli.ts', ['--user', player], { ...process.env, SIGNING_KEY_FILE: keyFile }),
      runTsx('tools/token/cli.ts', ['--user', 'agent-7', '--staff'], { ...process.env, SIGNING_KEY_FILE: keyFile }),
    ]);
    const [playerToken, staffToken] = minted.map((r) => r.stdout.trim());
    const socket = await openSocket(stack.wsUrl, { token: playerToken!, streamId: 'a' });
    const listing = await supportRequest(stack, {
      method: 'GET',
      path: `/users/${player}/connections`,
      token: staffToken,
    });

    // Assess
    expect(decodeProtectedHeader(playerToken!)).toMatchObject({ alg: 'RS256' });
    expect(socket.status).toBe(101);
    expect(listing.status).toBe(200);
    expect((await listing.json()).active).toBe(1);
    socket.socket?.close();
  });

  it('refuses to start with that key file when ES256 is asked for, saying what to do', async () => {
    // Act
    const start = startTestStack({ authMode: 'jwt', signingKeyFile: keyFile, signingKeyAlgorithm: 'ES256' });

    // Assess
    await expect(start).rejects.toThrow(SigningKeyFileError);
    await expect(start).rejects.toThrow(/holds an RS256 key, not ES256: delete it/);
  });
});
