/**
 * AUTH_MODE=jwt end to end: real `ws` clients through the local gateway, which runs the `$connect` authorizer before
 * `$connect` as API Gateway does; real HTTP against the support API; real DynamoDB Local.
 */
import { createHmac, createPublicKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { createTokenVerifier } from '../../core/identity/verify.js';
import { createDocumentClient } from '../../core/store/dynamodb/store.js';
import { isEventsItem } from '../../core/store/schema.js';
import {
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  type LocalSigningKey,
  type MintOptions,
  mintToken,
  newSigningKey,
} from '../../local/signing-key.js';
import type { LocalStack } from '../../local/stack.js';
import { runTsx } from '../support/cli.js';
import { openSocket, request } from '../support/sockets.js';
import { newUserId, startTestStack } from '../support/stack.js';
import { unsigned } from '../support/tokens.js';

let stack: LocalStack;
let key: LocalSigningKey;
const sockets: WebSocket[] = [];
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  key = await newSigningKey();
  stack = await startTestStack({ authMode: 'jwt', streamLimit: 3, signingKey: key, sweepIntervalSeconds: 0 });
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await stack?.stop();
});

async function open(params: Record<string, string>) {
  const result = await openSocket(stack.wsUrl, params);
  if (result.socket) sockets.push(result.socket);
  return result;
}

const token = (userId: string, extra: Omit<MintOptions, 'userId'> = {}) => mintToken(key, { userId, ...extra });

/** Signs arbitrary claims and header with a key (ES256). */
function signed(with_: LocalSigningKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: with_.kid, typ: 'JWT', ...header })
    .sign(with_.privateKey);
}
const validClaims = (sub: string, extra: Record<string, unknown> = {}) => ({
  iss: LOCAL_ISSUER,
  aud: LOCAL_AUDIENCE,
  sub,
  iat: now(),
  exp: now() + 600,
  ...extra,
});

/** Every item in the stack's own table. */
async function tableItems() {
  const db = createDocumentClient(stack.dynamodbEndpoint);
  const { Items = [] } = await db.send(new ScanCommand({ TableName: stack.tableName, ConsistentRead: true }));
  // The events processor's own items (its checkpoints) change beside the requests.
  return Items.filter((item) => !isEventsItem(item));
}

describe('AUTH_MODE=jwt: the player socket', () => {
  it('admits a valid token, as the user its sub names, whatever userId the query claims', async () => {
    // Prepare
    const alice = newUserId('alice');
    const t = await token(alice);

    // Act
    const result = await open({ token: t, userId: 'mallory', streamId: 's1' });

    // Assess
    expect(result.status).toBe(101);
    const status = await request(result.socket!, { action: 'status' });
    expect(status).toMatchObject({ type: 'status', userId: alice, active: 1, limit: 3 });
  });

  it('refuses every bad token with 401, before $connect runs, writing nothing', async () => {
    // Prepare
    const stranger = { ...(await newSigningKey()), kid: key.kid }; // another key posing as ours
    const [u0, u1, u2, u3, u4, u5, u6, u7] = Array.from({ length: 8 }, () => newUserId('bad')) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const publicPem = createPublicKey({ key: key.publicJwk as never, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    }) as string;
    const hs256 = (claims: Record<string, unknown>) => {
      const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const input = `${part({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${part(claims)}`;
      return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
    };
    const cases: Array<[string, Record<string, string>]> = [
      ['expired', { token: await signed(key, validClaims(u0, { iat: now() - 7200, exp: now() - 3600 })) }],
      ['not yet valid', { token: await signed(key, validClaims(u1, { nbf: now() + 3600 })) }],
      ['wrongly signed', { token: await signed(stranger, validClaims(u2)) }],
      ['wrong issuer', { token: await signed(key, validClaims(u3, { iss: 'https://evil.example' })) }],
      ['wrong audience', { token: await signed(key, validClaims(u4, { aud: 'another-service' })) }],
      ['unknown key id', { token: await signed(key, validClaims(u5), { kid: 'retired-key' }) }],
      ['alg none', { token: unsigned(validClaims(u6), key.kid) }],
      ['HS256 keyed with the public key', { token: hs256(validClaims(u7)) }],
      ['malformed', { token: 'not-a-jwt' }],
      ['missing', { streamId: 's' }],
      ['a dev-mode userId instead of a token', { userId: newUserId('dev') }],
      ['an empty token', { token: '' }],
    ];
    const before = {
      authorizer: stack.emulator.invocations('authorizer'),
      connect: stack.emulator.invocations('$connect'),
    };
    const itemsBefore = await tableItems();

    // Act
    const results = await Promise.all(cases.map(([, params]) => open(params)));

    // Assess
    expect(Object.fromEntries(cases.map(([name], i) => [name, results[i]!.status]))).toEqual(
      Object.fromEntries(cases.map(([name]) => [name, 401])),
    );
    expect(results.map((r) => JSON.parse(r.body!).error.code)).toEqual(cases.map(() => 'UNAUTHORIZED'));
    expect(stack.emulator.invocations('authorizer') - before.authorizer).toBe(cases.length);
    expect(stack.emulator.invocations('$connect') - before.connect).toBe(0);
    expect(await tableItems()).toEqual(itemsBefore);
  });

  it("honours the token's plan limit, above and below the default", async () => {
    // Prepare
    const [big, small] = [newUserId('plan5'), newUserId('plan1')];
    const [bigToken, smallToken] = await Promise.all([token(big, { limit: 5 }), token(small, { limit: 1 })]);

    // Act
    const bigResults = await Promise.all(Array.from({ length: 7 }, () => open({ token: bigToken })));
    const smallResults = await Promise.all(Array.from({ length: 3 }, () => open({ token: smallToken })));

    // Assess
    const count = (rs: Array<{ status: number }>, status: number) => rs.filter((r) => r.status === status).length;
    expect([count(bigResults, 101), count(bigResults, 429)]).toEqual([5, 2]);
    expect([count(smallResults, 101), count(smallResults, 429)]).toEqual([1, 2]);
    const admitted = bigResults.find((r) => r.socket)!.socket!;
    expect(await request(admitted, { action: 'status' })).toMatchObject({ userId: big, active: 5, limit: 5 });
  });

  it("lets a staff override beat the token's plan limit", async () => {
    // Prepare
    const userId = newUserId('override');
    const [player, staff] = await Promise.all([token(userId, { limit: 5 }), token('staff-1', { staff: true })]);
    const put = await support('PUT', `/users/${userId}/limit`, staff, { limit: 2 });
    expect(put.status).toBe(200);

    // Act
    const results = await Promise.all(Array.from({ length: 4 }, () => open({ token: player })));

    // Assess
    expect(results.filter((r) => r.status === 101)).toHaveLength(2);
    expect(results.filter((r) => r.status === 429)).toHaveLength(2);
    const listed = await (await support('GET', `/users/${userId}/connections`, staff)).json();
    expect(listed).toMatchObject({ userId, limit: 2, active: 2 });
  });
});

function support(method: string, path: string, bearer: string | null, body?: unknown) {
  return fetch(`${stack.httpUrl}${path}`, {
    method,
    headers: {
      ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe('AUTH_MODE=jwt: the support API', () => {
  it('accepts a staff token, and names its sub as the staff member', async () => {
    const staff = await token('support-agent-7', { staff: true });

    const res = await support('GET', `/users/${newUserId()}/connections`, staff);

    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ active: 0, connections: [] });
  });

  it('refuses a player token with 403 and a missing, invalid or dev admin token with 401, writing nothing', async () => {
    // Prepare
    const userId = newUserId('target');
    const player = await token(userId, { limit: 100 });
    const expired = await token('support-agent-7', { staff: true, issuedAt: now() - 7200, ttlSeconds: 60 });
    const itemsBefore = await tableItems();

    // Act
    const answers = await Promise.all([
      support('PUT', `/users/${userId}/limit`, player, { limit: 100 }),
      support('PUT', `/users/${userId}/limit`, null, { limit: 100 }),
      support('PUT', `/users/${userId}/limit`, 'garbage', { limit: 100 }),
      support('PUT', `/users/${userId}/limit`, expired, { limit: 100 }),
      support('PUT', `/users/${userId}/limit`, stack.adminToken, { limit: 100 }),
      support('GET', `/users/${userId}/connections`, player),
    ]);

    // Assess
    expect(answers.map((a) => a.status)).toEqual([403, 401, 401, 401, 401, 403]);
    const bodies = await Promise.all(answers.map((a) => a.json()));
    expect(bodies.map((b) => b.error.code)).toEqual([
      'FORBIDDEN',
      'UNAUTHORIZED',
      'UNAUTHORIZED',
      'UNAUTHORIZED',
      'UNAUTHORIZED',
      'FORBIDDEN',
    ]);
    expect(await tableItems()).toEqual(itemsBefore);
  });

  it('answers /health without a token', async () => {
    expect((await support('GET', '/health', null)).status).toBe(200);
  });

  it('serves the public keys at /.well-known/jwks.json, and they verify its tokens', async () => {
    // Prepare
    const url = `${stack.httpUrl}/.well-known/jwks.json`;
    const verifier = createTokenVerifier({
      issuer: LOCAL_ISSUER,
      audience: LOCAL_AUDIENCE,
      keys: { kind: 'jwksUrl', url },
    });

    // Act
    const jwks = await (await fetch(url)).json();
    const identity = await verifier.verify(await token('bob', { limit: 2 }));

    // Assess
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: key.kid, kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(identity).toMatchObject({ userId: 'bob', streamLimit: 2 });
  });
});

describe('AUTH_MODE=jwt: the load tester with minted tokens', () => {
  let dir: string;
  let fileStack: LocalStack;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sg-jwt-'));
    fileStack = await startTestStack({
      authMode: 'jwt',
      streamLimit: 3,
      signingKeyFile: join(dir, 'signing-key.json'),
      sweepIntervalSeconds: 0,
    });
  });
  afterAll(async () => {
    await fileStack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('holds exactly users x limit with one token per user from the key file the stack made', async () => {
    // Act
    const result = await runTsx(
      'tools/loadtest/cli.ts',
      [
        '--url',
        fileStack.wsUrl,
        '--users',
        '10',
        '--streams-per-user',
        '4',
        '--duration',
        '1',
        '--settle',
        '10',
        '--mint-tokens',
        '--json',
      ],
      { ...process.env, SIGNING_KEY_FILE: join(dir, 'signing-key.json') },
    );

    // Assess
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ heldAtEnd: 30, expectedHeld: 30, violations: 0, lockedOut: 0, maxHeldByOneUser: 3 });
    expect(report.rejected['401']).toBeUndefined();
  });
});
