/**
 * The resume hold with real `ws` clients through the local gateway: a player that opts in with `resume=1` and loses
 * its socket without anyone ending it (here a `@connections` delete, as API Gateway's own close of code 1000) keeps
 * its slot for RESUME_HOLD_SECONDS, so its reconnect under the same stream id gets it back while another stream of the
 * user is refused; once the hold is over the slot is free; a deliberate end (close code 4000) frees it at once.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { DELIBERATE_END_CODE } from '../../core/lifecycle.js';
import type { StreamStore } from '../../core/store/port.js';
import { createDisconnectHandler } from '../../handlers/routes/disconnect.js';
import type { LocalStack } from '../../local/stack.js';
import { wsEvent } from '../support/events.js';
import { invariantViolations } from '../support/oracle.js';
import { closed, eventually, type OpenResult, openSocket } from '../support/sockets.js';
import { FAST_STORE_OPENING_WINDOW_SECONDS, newUserId, startTestStack, storeFor } from '../support/stack.js';

/** Short, so that the test can wait one out; what the test asserts does not rest on its length. */
const HOLD_SECONDS = 3;
const LIMIT = 2;
let stack: LocalStack;
let store: StreamStore;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack({
    streamLimit: LIMIT,
    resumeHoldSeconds: HOLD_SECONDS,
    sweepIntervalSeconds: 0,
    openingWindowSeconds: FAST_STORE_OPENING_WINDOW_SECONDS,
  });
  store = storeFor(stack);
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await stack?.stop();
});

/**
 * A connect as a player makes it: "the store is slow, connect again" (503, a loaded machine's DynamoDB Local answering
 * after the test's 2 s opening window) is tried again.
 */
async function tryOpen(userId: string, streamId: string, resume: boolean): Promise<OpenResult> {
  for (let attempt = 0; ; attempt++) {
    const r = await openSocket(stack.wsUrl, { userId, streamId, ...(resume ? { resume: '1' } : {}) });
    if (r.socket) sockets.push(r.socket);
    if (r.status !== 503 || attempt === 5) return r;
  }
}

async function open(userId: string, streamId: string, resume = true): Promise<WebSocket> {
  const r = await tryOpen(userId, streamId, resume);
  if (r.status !== 101) throw new Error(`expected 101, got ${r.status} ${r.body}`);
  return r.socket!;
}

/** The connection id of an open socket, from its own heartbeat answer. */
async function idOf(socket: WebSocket): Promise<string> {
  const answer = new Promise<Record<string, unknown>>((resolve) =>
    socket.once('message', (d) => resolve(JSON.parse(d.toString()))),
  );
  socket.send('{"action":"heartbeat"}');
  return String((await answer).connectionId);
}

/** Deletes the socket through `@connections`: closed with 1000 and no `ended` frame, as API Gateway does. */
async function deleteSocket(socket: WebSocket, connectionId: string) {
  const gone = closed(socket);
  const res = await fetch(`${stack.callbackUrl}/@connections/${encodeURIComponent(connectionId)}`, {
    method: 'DELETE',
  });
  expect(res.status).toBe(204);
  await gone;
}

const statusOf = (userId: string, streamId: string) => tryOpen(userId, streamId, false);

describe('a dropped resume=1 stream', () => {
  it('is held for its reconnect: others refused, the same stream back at once and counted once, free after the hold', async () => {
    // Prepare: two of two slots, the first one's socket deleted
    const userId = newUserId('hold');
    const first = await open(userId, 'film-1');
    await open(userId, 'film-2');
    const firstId = await idOf(first);
    await deleteSocket(first, firstId);
    await eventually(async () => (await store.getConnection(firstId))?.heldUntil !== undefined);

    // Act 1: another stream of the user while the hold lasts
    const other = await statusOf(userId, 'film-3');

    // Assess 1: refused, and the held one still counted
    expect(other.status).toBe(429);
    expect((await store.getCounter(userId)).counted.has(firstId)).toBe(true);

    // Act 2: the same stream comes back
    const before = Date.now();
    const back = await open(userId, 'film-1');
    const backId = await idOf(back);
    const tookMs = Date.now() - before;

    // Assess 2: in its old place, counted once, the held one taken over
    const counter = await store.getCounter(userId);
    expect(counter.active).toBe(LIMIT);
    expect(counter.streams.get('film-1')).toBe(backId);
    expect(counter.counted.has(firstId)).toBe(false);
    expect(await store.getConnection(firstId)).toMatchObject({ state: 'closed', closeReason: 'takenOver' });
    expect(await invariantViolations(stack, store, { limit: LIMIT, users: [userId] })).toEqual([]);

    // Act 3: dropped again, and nobody comes back before the hold is over
    await deleteSocket(back, backId);
    await eventually(async () => (await store.getConnection(backId))?.heldUntil !== undefined);
    const heldUntil = (await store.getConnection(backId))!.heldUntil!;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, heldUntil - Date.now()) + 100));
    const third = await statusOf(userId, 'film-3');

    // Assess 3: the place is free for another stream, the held one released as a ghost
    expect(third.status).toBe(101);
    expect(await store.getConnection(backId)).toMatchObject({ state: 'closed', closeReason: 'reclaimed' });
    expect(await invariantViolations(stack, store, { limit: LIMIT, users: [userId] })).toEqual([]);
    console.info(`resume hold: the dropped stream was back in ${tookMs} ms`);
  });

  it('keeps its hold when its $disconnect is delivered again', async () => {
    // Prepare
    const userId = newUserId('hold-redelivered');
    const first = await open(userId, 'film-1');
    await open(userId, 'film-2');
    const firstId = await idOf(first);
    await deleteSocket(first, firstId);
    await eventually(async () => (await store.getConnection(firstId))?.heldUntil !== undefined);

    // Act: API Gateway delivers the same `$disconnect` again
    const event = wsEvent('DISCONNECT', firstId, Date.now());
    event.requestContext.disconnectStatusCode = 1000;
    await createDisconnectHandler(stack.runtime)(event);

    // Assess
    expect((await store.getCounter(userId)).counted.has(firstId)).toBe(true);
    expect((await statusOf(userId, 'film-3')).status).toBe(429);
  });
});

describe('a resume=1 stream its player ends', () => {
  it('frees its slot at once when closed with 4000, and the oracle holds', async () => {
    // Prepare
    const userId = newUserId('hold-ended');
    const first = await open(userId, 'film-1');
    await open(userId, 'film-2');
    const firstId = await idOf(first);

    // Act
    first.close(DELIBERATE_END_CODE, 'ended');
    await eventually(async () => (await store.getConnection(firstId))?.state === 'closed');
    const other = await statusOf(userId, 'film-3');

    // Assess
    expect(await store.getConnection(firstId)).toMatchObject({ closeReason: 'disconnected' });
    expect((await store.getConnection(firstId))?.heldUntil).toBeUndefined();
    expect(other.status).toBe(101);
    expect(await invariantViolations(stack, store, { limit: LIMIT, users: [userId] })).toEqual([]);
  });
});

describe('a stream without resume=1', () => {
  it('frees its slot at once when its socket is deleted, as before', async () => {
    // Prepare
    const userId = newUserId('no-hold');
    const first = await open(userId, 'film-1', false);
    await open(userId, 'film-2', false);
    const firstId = await idOf(first);

    // Act
    await deleteSocket(first, firstId);
    await eventually(async () => !(await store.getCounter(userId)).counted.has(firstId));
    const other = await statusOf(userId, 'film-3');

    // Assess
    expect(await store.getConnection(firstId)).toMatchObject({ closeReason: 'disconnected' });
    expect(other.status).toBe(101);
  });
});
