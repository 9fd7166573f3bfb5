/** The player's socket through the local gateway: admitted, counted, refused, released. Real DynamoDB Local. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { Players } from '../support/players.js';
import { closed, eventually, mustOpen, openUrl, request } from '../support/sockets.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

let stack: LocalStack;
let store: StreamStore;
const players = new Players(() => stack);

const active = async (userId: string) => (await store.getCounter(userId)).active;

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3 });
  store = storeFor(stack);
});

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

describe('admission', () => {
  it('admits three streams and refuses the fourth with 429', async () => {
    // Prepare
    const userId = newUserId();
    for (let i = 0; i < 3; i++) expect((await players.open({ userId, streamId: `s${i}` })).status).toBe(101);

    // Act
    const fourth = await players.open({ userId, streamId: 's3' });

    // Assess
    expect(fourth.status).toBe(429);
    expect(JSON.parse(fourth.body!)).toEqual({ error: { code: 'LIMIT_REACHED', message: expect.any(String) } });
    expect(await active(userId)).toBe(3);
  });

  it('frees the slot of a closed socket at once', async () => {
    const userId = newUserId();
    const held = await Promise.all([0, 1, 2].map(() => mustOpen(stack.wsUrl, { userId })));
    players.sockets.push(...held);

    held[0]!.close();
    await closed(held[0]!);
    const next = await players.open({ userId });

    expect(next.status).toBe(101);
    await eventually(async () => (await active(userId)) === 3);
  });

  it('frees the slot of a socket dropped without a close frame', async () => {
    const userId = newUserId();
    const held = await Promise.all([0, 1, 2].map(() => mustOpen(stack.wsUrl, { userId })));
    players.sockets.push(...held);

    held[1]!.terminate();
    await eventually(async () => (await active(userId)) === 2);
    const next = await players.open({ userId });

    expect(next.status).toBe(101);
    expect(await active(userId)).toBe(3);
  });

  it('admits exactly the limit out of 50 simultaneous connects for one user', async () => {
    const userId = newUserId('burst');

    const results = await Promise.all(Array.from({ length: 50 }, () => players.open({ userId })));

    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 101)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(47);
    expect(await active(userId)).toBe(3);
  });
});

describe('parameters', () => {
  it.each([
    ['no userId', {}, 401],
    ['an empty userId', { userId: '' }, 401],
    ['a userId with a space', { userId: 'a b' }, 400],
    ['a userId of 129 characters', { userId: 'a'.repeat(129) }, 400],
    ['a streamId with a slash', { userId: 'ok-user', streamId: 'a/b' }, 400],
    ['a device with a control character', { userId: 'ok-user', device: 'tv\u0007' }, 400],
  ])('refuses %s with %i and writes nothing', async (_name, params, status) => {
    const result = await players.open(params as Record<string, string>);

    expect(result.status).toBe(status);
    expect(JSON.parse(result.body!).error.code).toEqual(expect.any(String));
    if ('userId' in params && params.userId) expect(await active(params.userId)).toBe(0);
  });

  it('refuses a userId given twice with 400', async () => {
    const userId = newUserId();

    const result = await openUrl(`${stack.wsUrl}/?userId=${userId}&userId=other`);

    expect(result.status).toBe(400);
    expect(await active(userId)).toBe(0);
  });

  it('accepts the whole alphabet and a 128-character userId', async () => {
    const userId = `Az09._-:@${'x'.repeat(119)}`;

    const result = await players.open({ userId, device: 'Living room TV — 4K', streamId: 'movie:42@s1' });

    expect(result.status).toBe(101);
  });
});

describe('messages', () => {
  it('answers heartbeat and status', async () => {
    const userId = newUserId();
    const socket = await mustOpen(stack.wsUrl, { userId });
    players.sockets.push(socket);

    const beat = await request(socket, { action: 'heartbeat' });
    const status = await request(socket, { action: 'status' });

    expect(beat).toEqual({ type: 'heartbeat', connectionId: expect.any(String), leaseExpiresAt: expect.any(String) });
    expect(Date.parse(beat.leaseExpiresAt as string)).toBeGreaterThan(Date.now());
    expect(status).toEqual({ type: 'status', userId, active: 1, limit: 3, connectionId: beat.connectionId });
  });

  it.each([
    ['not JSON', 'hello', 'INVALID_JSON'],
    ['a JSON array', '[1,2]', 'INVALID_MESSAGE'],
    ['a JSON string', '"heartbeat"', 'INVALID_MESSAGE'],
    ['an unknown action', '{"action":"dance"}', 'UNKNOWN_ACTION'],
    ['no action', '{"type":"status"}', 'UNKNOWN_ACTION'],
  ])('answers %s with an error frame and keeps the socket', async (_name, frame, code) => {
    const socket = await mustOpen(stack.wsUrl, { userId: newUserId() });
    players.sockets.push(socket);

    const reply = await request(socket, frame);

    expect(reply).toEqual({ type: 'error', code, message: expect.any(String) });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect((await request(socket, { action: 'status' })).type).toBe('status');
  });

  it('closes with 1009 on a frame over 32 KB', async () => {
    const socket = await mustOpen(stack.wsUrl, { userId: newUserId() });
    const done = closed(socket);

    socket.send(JSON.stringify({ action: 'status', pad: 'x'.repeat(33 * 1024) }));

    expect((await done).code).toBe(1009);
  });

  it('closes with 1009 on a message over 128 KB sent in frames of 30 KB', async () => {
    const socket = await mustOpen(stack.wsUrl, { userId: newUserId() });
    const done = closed(socket);
    const chunk = 'x'.repeat(30 * 1024);

    for (let i = 0; i < 5; i++) socket.send(chunk, { fin: i === 4 });

    expect((await done).code).toBe(1009);
  });

  it('accepts a 100 KB message sent in frames under 32 KB', async () => {
    const socket = await mustOpen(stack.wsUrl, { userId: newUserId() });
    players.sockets.push(socket);
    const text = JSON.stringify({ action: 'status', pad: 'x'.repeat(100 * 1024) });
    const reply = new Promise((resolve) => socket.once('message', (d) => resolve(JSON.parse(d.toString()))));

    const parts = Math.ceil(text.length / (25 * 1024));
    for (let i = 0; i < parts; i++)
      socket.send(text.slice(i * 25 * 1024, (i + 1) * 25 * 1024), { fin: i === parts - 1 });

    expect(await reply).toMatchObject({ type: 'status' });
  });
});
