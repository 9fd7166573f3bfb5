/** Support staff against the running local stack: real HTTP, real sockets, real DynamoDB Local. */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sleep } from '../../core/retry.js';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { Players } from '../support/players.js';
import { closed, eventually, request } from '../support/sockets.js';
import { newUserId, startTestStack, storeFor, supportRequest } from '../support/stack.js';

let stack: LocalStack;
let store: StreamStore;
const players = new Players(() => stack);

const api = (method: string, path: string, body?: unknown, token?: string | null) =>
  supportRequest(stack, { method, path, body, token });

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3 });
  store = storeFor(stack);
});

afterEach(() => vi.restoreAllMocks());

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

describe('GET /users/{userId}/connections', () => {
  it("lists a user's live connections with every field, newest first", async () => {
    // Prepare
    const userId = newUserId();
    const opened = [];
    for (const i of [1, 2, 3]) {
      opened.push(await players.openWithId({ userId, streamId: `movie-${i}`, device: `TV ${i}` }));
      await sleep(5); // distinct connectedAt
    }

    // Act
    const res = await api('GET', `/users/${userId}/connections`);

    // Assess
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({
      userId,
      limit: 3,
      active: 3,
      limitOverride: null,
      policy: 'block-new',
      policyOverride: null,
      connections: expect.any(Array),
    });
    expect(body.connections.map((c: { connectionId: string }) => c.connectionId)).toEqual(
      opened.map((o) => o.connectionId).reverse(),
    );
    const newest = body.connections[0];
    expect(newest).toEqual({
      connectionId: opened[2]!.connectionId,
      streamId: 'movie-3',
      device: 'TV 3',
      connectedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      lastSeenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      sourceIp: expect.stringMatching(/127\.0\.0\.1/),
    });
    expect(Math.abs(Date.parse(newest.connectedAt) - Date.now())).toBeLessThan(10_000);
  });

  it("shows when each stream was last seen: API Gateway's lastActiveAt, renewed by a heartbeat", async () => {
    // Prepare: a stream that heartbeats a second and a half after it connected, and one that stays quiet
    const userId = newUserId();
    const quiet = await players.openWithId({ userId, streamId: 'quiet' });
    const talker = await players.openWithId({ userId, streamId: 'talker' });
    await sleep(1_500);
    await request(talker.socket, { action: 'heartbeat' });

    // Act
    const body = await (await api('GET', `/users/${userId}/connections`)).json();

    // Assess
    const byStream = Object.fromEntries(
      body.connections.map((c: { streamId: string; connectedAt: string; lastSeenAt: string }) => [
        c.streamId,
        Date.parse(c.lastSeenAt) - Date.parse(c.connectedAt),
      ]),
    );
    expect(byStream.talker).toBeGreaterThanOrEqual(1_400);
    expect(byStream.quiet).toBeLessThan(1_000); // its status request when it opened, and nothing since
    expect(quiet.socket.readyState).toBe(quiet.socket.OPEN);
  });

  it('shows a connection as soon as its handshake is done', async () => {
    const userId = newUserId();
    await players.open({ userId });

    const body = await (await api('GET', `/users/${userId}/connections`)).json();

    expect(body.connections).toHaveLength(1);
  });

  it('answers an empty list for a user never seen', async () => {
    const userId = newUserId();
    const body = await (await api('GET', `/users/${userId}/connections`)).json();
    expect(body).toEqual({
      userId,
      limit: 3,
      active: 0,
      limitOverride: null,
      policy: 'block-new',
      policyOverride: null,
      connections: [],
    });
  });

  it('reports drift when the counter disagrees with the live connections', async () => {
    const userId = newUserId();
    await players.open({ userId });
    await store.repairCount(userId, { observed: 1, actual: 3 }); // a counter gone wrong, as by a hand edit

    const body = await (await api('GET', `/users/${userId}/connections`)).json();

    expect(body).toMatchObject({ active: 3, drift: 2 });
    expect(body.connections).toHaveLength(1);
  });
});

describe('DELETE /connections/{connectionId}', () => {
  it('closes the socket, and the stream is free when the 204 arrives', async () => {
    // Prepare
    const userId = newUserId();
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await players.openWithId({ userId }));
    const victim = held[1]!;
    const seenClose = closed(victim.socket);

    // Act
    const res = await api('DELETE', `/connections/${encodeURIComponent(victim.connectionId)}`);
    const next = await players.open({ userId });

    // Assess
    expect(res.status).toBe(204);
    expect(next.status).toBe(101);
    expect((await seenClose).code).toBe(1000);
    expect((await store.getCounter(userId)).active).toBe(3);
  });

  it('releases the stream of a connection whose socket is already gone', async () => {
    const userId = newUserId();
    stack.emulator.setFaults({ dropDisconnectRate: 1 });
    const ghost = await players.openWithId({ userId });
    ghost.socket.terminate();
    await closed(ghost.socket);
    // The server sees the close a moment after the client: its `$disconnect` must be dropped too.
    await eventually(() => !stack.emulator.openConnectionIds().includes(ghost.connectionId));
    stack.emulator.setFaults({ dropDisconnectRate: 0 });

    const res = await api('DELETE', `/connections/${encodeURIComponent(ghost.connectionId)}`);

    expect(res.status).toBe(204);
    expect((await store.getCounter(userId)).active).toBe(0);
  });

  it('answers 404 for an unknown connection and for one already ended', async () => {
    const userId = newUserId();
    const { connectionId } = await players.openWithId({ userId });
    expect((await api('DELETE', `/connections/${encodeURIComponent(connectionId)}`)).status).toBe(204);

    const again = await api('DELETE', `/connections/${encodeURIComponent(connectionId)}`);
    const unknown = await api('DELETE', '/connections/AAAAAAAAAAAAAAA=');

    expect(again.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'CONNECTION_NOT_FOUND', message: expect.any(String) } });
  });
});

describe('PUT and DELETE /users/{userId}/limit', () => {
  it('limit 1 refuses the second connect', async () => {
    const userId = newUserId();

    const res = await api('PUT', `/users/${userId}/limit`, { limit: 1 });

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId, limit: 1, active: 0, limitOverride: 1 });
    expect((await players.open({ userId })).status).toBe(101);
    expect((await players.open({ userId })).status).toBe(429);
  });

  it('limit 5 admits five, and removing it returns to the default', async () => {
    const userId = newUserId();
    await api('PUT', `/users/${userId}/limit`, { limit: 5 });

    const five = await Promise.all([1, 2, 3, 4, 5, 6].map(() => players.open({ userId })));
    expect(five.map((r) => r.status).sort()).toEqual([101, 101, 101, 101, 101, 429]);

    const res = await api('DELETE', `/users/${userId}/limit`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId, limit: 3, active: 5, limitOverride: null });
    // 5 held and the default is 3: nobody is kicked, nobody new gets in until the user is under 3.
    for (const s of five) s.socket?.close();
    await Promise.all(five.map((s) => s.socket && closed(s.socket)));
    const after = [];
    for (let i = 0; i < 4; i++) after.push((await players.open({ userId })).status);
    expect(after).toEqual([101, 101, 101, 429]);
  });

  it('lowering a limit below the current count kicks nobody and admits nothing new', async () => {
    const userId = newUserId();
    const held = [await players.openWithId({ userId }), await players.openWithId({ userId })];

    await api('PUT', `/users/${userId}/limit`, { limit: 1 });

    expect((await players.open({ userId })).status).toBe(429);
    expect(held.every((h) => h.socket.readyState === h.socket.OPEN)).toBe(true);
    expect((await store.getCounter(userId)).active).toBe(2);
  });

  it('limit 0 admits nobody', async () => {
    const userId = newUserId();
    await api('PUT', `/users/${userId}/limit`, { limit: 0 });
    expect((await players.open({ userId })).status).toBe(429);
  });

  it.each([
    ['-1', { limit: -1 }],
    ['101', { limit: 101 }],
    ['1.5', { limit: 1.5 }],
    ['a string', { limit: '3' }],
    ['no limit', {}],
    ['an extra field', { limit: 3, kick: true }],
    ['not JSON', 'limit=3'],
    ['an array', [3]],
  ])('answers 400 for %s and writes nothing', async (_name, body) => {
    const userId = newUserId();

    const res = await api('PUT', `/users/${userId}/limit`, body);

    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    expect(await store.getCounter(userId)).toMatchObject({ active: 0, limitOverride: undefined });
  });
});

describe('bad input and access', () => {
  it.each([
    ['GET', '/users/a%20b/connections'],
    ['PUT', '/users/a%2Fb/limit'],
    ['DELETE', `/users/${'x'.repeat(129)}/limit`],
    ['DELETE', '/connections/not%20an%20id'],
  ])('%s %s answers 400', async (method, path) => {
    const res = await api(method, path, method === 'PUT' ? { limit: 2 } : undefined);
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toMatch(/^INVALID_/);
  });

  it('writes nothing for a bad user id', async () => {
    await api('PUT', '/users/a%20b/limit', { limit: 2 });
    expect(await store.getCounter('a b')).toMatchObject({ active: 0, limitOverride: undefined });
  });

  it.each([
    ['no token', null],
    ['a wrong token', 'not-the-token'],
    ['an empty token', ''],
  ])('answers 401 with %s', async (_name, token) => {
    for (const [method, path] of [
      ['GET', '/users/alice/connections'],
      ['DELETE', '/connections/AAAA'],
      ['PUT', '/users/alice/limit'],
      ['DELETE', '/users/alice/limit'],
    ] as const) {
      const res = await api(method, path, method === 'PUT' ? { limit: 1 } : undefined, token);
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    expect(await store.getCounter('alice')).toMatchObject({ limitOverride: undefined });
  });

  it('serves /health without a token', async () => {
    const res = await api('GET', '/health', undefined, null);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', storeLatencyMs: expect.any(Number) });
  });

  it('answers 404 for an unknown route and 405 for a wrong method', async () => {
    expect((await api('GET', '/nothing')).status).toBe(404);
    expect((await api('POST', '/users/alice/limit', { limit: 1 })).status).toBe(405);
  });
});

describe('audit', () => {
  it('logs every staff action as a structured line', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const userId = newUserId();
    const { connectionId } = await players.openWithId({ userId });

    await api('PUT', `/users/${userId}/limit`, { limit: 2 });
    await api('GET', `/users/${userId}/connections`);
    await api('DELETE', `/connections/${encodeURIComponent(connectionId)}`);
    await api('DELETE', `/users/${userId}/limit`);

    const audit = lines.map((l) => JSON.parse(l)).filter((l) => l.log === 'audit' && l.userId === userId);
    expect(audit.map((l) => l.action)).toEqual(['setLimit', 'listConnections', 'endConnection', 'clearLimit']);
    expect(audit.every((l) => l.staff === 'local:admin-token' && l.level === 'INFO')).toBe(true);
    expect(audit[2]).toMatchObject({ connectionId });
  });

  it("audits a staff member's look at a user's streams once, not at every refresh of the console", async () => {
    // Prepare
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const [watched, other] = [newUserId(), newUserId()];
    await players.openWithId({ userId: watched });

    // Act: the console refreshes the listing three times, then staff look at another user
    for (let i = 0; i < 3; i++) expect((await api('GET', `/users/${watched}/connections`)).status).toBe(200);
    expect((await api('GET', `/users/${other}/connections`)).status).toBe(200);

    // Assess
    const looks = lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.log === 'audit' && l.action === 'listConnections' && [watched, other].includes(l.userId));
    expect(looks.map((l) => l.userId)).toEqual([watched, other]);
  });
});
