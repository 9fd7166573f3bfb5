/**
 * `$disconnect` is best effort: ghosts made on purpose (dropped `$disconnect`s, lost handshakes) never lock a user
 * out. Here ghosts are reclaimed at the moment of need; the background sweep is off so it cannot help.
 */

import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../core/store/dynamodb/store.js';
import type { StreamStore } from '../../core/store/port.js';
import { keys } from '../../core/store/schema.js';
import type { LocalStack } from '../../local/stack.js';
import { Players } from '../support/players.js';
import { closed, eventually, openSocket } from '../support/sockets.js';
import { FAST_STORE_OPENING_WINDOW_SECONDS, newUserId, startTestStack, storeFor } from '../support/stack.js';

let stack: LocalStack;
let store: StreamStore;
let db: ReturnType<typeof createDocumentClient>;
const players = new Players(() => stack);

beforeAll(async () => {
  // Production lease and handshake grace; no background sweep.
  stack = await startTestStack({
    streamLimit: 3,
    sweepIntervalSeconds: 0,
    openingWindowSeconds: FAST_STORE_OPENING_WINDOW_SECONDS,
  });
  db = createDocumentClient(stack.dynamodbEndpoint);
  store = storeFor(stack, db);
});

afterEach(() => stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 }));

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

describe('reclaim at the moment of need', () => {
  it('lets 50 users whose 3 sockets all dropped without $disconnect each open 3 new ones at once', async () => {
    // Prepare
    stack.emulator.setFaults({ dropDisconnectRate: 1 });
    const users = Array.from({ length: 50 }, () => newUserId('ghosted'));
    await Promise.all(users.map((u) => players.makeGhosts(u, 3)));
    for (const u of users) expect((await store.getCounter(u)).active).toBe(3);

    // Act: 150 reconnects at once; a 503 ("the store is slow, connect again": 150 reclaims at once on DynamoDB Local
    // can take longer than the test's 2 s opening window) is tried again, as a player does
    const slow: number[] = [];
    const reconnect = async (userId: string) => {
      for (let attempt = 0; ; attempt++) {
        const r = await players.open({ userId });
        if (r.status !== 503 || attempt === 5) return r;
        slow.push(r.status);
      }
    };
    const results = await Promise.all(users.flatMap((userId) => [0, 1, 2].map(() => reconnect(userId))));

    // Assess: nobody refused, nobody locked out
    if (slow.length > 0) console.info(`reclaim storm: ${slow.length} of 150 reconnects answered 503 once and got in`);
    expect(results.filter((r) => r.status !== 101).map((r) => r.status)).toEqual([]);
    for (const u of users) expect((await store.getCounter(u)).active).toBe(3);
    stack.emulator.setFaults({ dropDisconnectRate: 0 });
    for (const r of results) r.socket?.close();
    await Promise.all(results.map((r) => r.socket && closed(r.socket)));
  });

  it('never releases a live connection to admit another', async () => {
    const userId = newUserId();
    const live = await Promise.all([0, 1, 2].map(() => players.openWithId({ userId })));

    const fourth = await players.open({ userId });

    expect(fourth.status).toBe(429);
    expect(live.every((l) => l.socket.readyState === l.socket.OPEN)).toBe(true);
    expect((await store.getCounter(userId)).active).toBe(3);
  });

  it('does not charge a slot for a handshake lost after its $connect committed', async () => {
    const userId = newUserId();
    stack.emulator.setFaults({ failHandshakeRate: 1 });
    await expect(openSocket(stack.wsUrl, { userId })).rejects.toThrow();
    await eventually(async () => (await store.getCounter(userId)).active === 1);
    stack.emulator.setFaults({ failHandshakeRate: 0 });

    const results = await Promise.all([0, 1, 2].map(() => players.open({ userId })));

    expect(results.map((r) => r.status)).toEqual([101, 101, 101]);
    expect((await store.getCounter(userId)).active).toBe(3);
  });
});

describe('counted connections whose item is gone', () => {
  it('forgets them with their stream claim, so the stream can be opened again', async () => {
    // Prepare: three held, one of them (stream "kept") loses its item, as by TTL or a hand edit
    const userId = newUserId();
    const [lost, , c] = await Promise.all(
      ['kept', 'b', 'c'].map((streamId) => players.openWithId({ userId, streamId })),
    );
    await db.send(new DeleteCommand({ TableName: stack.tableName, Key: keys.connection(lost!.connectionId) }));

    // Act: a fourth stream reclaims the lost one; then the player reopens "kept"
    const fourth = await players.open({ userId, streamId: 'd' });
    await players.open({ userId, streamId: 'b' }); // takeover keeps the count
    const reopened = await players.open({ userId, streamId: 'kept' });

    // Assess: the reopen is refused only by the limit (b, c, d are counted), never by a stale claim
    expect(fourth.status).toBe(101);
    const counter = await store.getCounter(userId);
    expect(counter.streams.has('kept')).toBe(false);
    expect(reopened.status).toBe(429);
    c!.socket.close();
    await closed(c!.socket);
    expect((await players.open({ userId, streamId: 'kept' })).status).toBe(101);
  });
});

describe('reconnect takeover', () => {
  it('replaces the connection holding the same streamId: count stays 1, the old socket is closed', async () => {
    const userId = newUserId();
    const old = await players.openWithId({ userId, streamId: 'movie-7' });
    const oldClosed = closed(old.socket);

    const again = await players.openWithId({ userId, streamId: 'movie-7' });

    expect((await oldClosed).code).toBe(1000);
    expect(again.socket.readyState).toBe(again.socket.OPEN);
    const counter = await store.getCounter(userId);
    expect(counter.active).toBe(1);
    expect(counter.streams.get('movie-7')).toBe(again.connectionId);
    expect((await store.getConnection(old.connectionId))?.closeReason).toBe('takenOver');
  });

  it('lets a player at the limit reconnect without ever seeing 429', async () => {
    const userId = newUserId();
    await Promise.all(['a', 'b', 'c'].map((s) => players.openWithId({ userId, streamId: s })));

    const results = [];
    for (let i = 0; i < 5; i++) results.push((await players.open({ userId, streamId: 'b' })).status);

    expect(results).toEqual([101, 101, 101, 101, 101]);
    expect((await store.getCounter(userId)).active).toBe(3);
  });

  it('takes over from a ghost whose socket is already gone', async () => {
    const userId = newUserId();
    stack.emulator.setFaults({ dropDisconnectRate: 1 });
    const ghost = await players.openWithId({ userId, streamId: 'live-tv' });
    ghost.socket.terminate();
    await closed(ghost.socket);
    stack.emulator.setFaults({ dropDisconnectRate: 0 });

    const result = await players.open({ userId, streamId: 'live-tv' });

    expect(result.status).toBe(101);
    expect((await store.getCounter(userId)).active).toBe(1);
  });
});
