/**
 * Leases and the sweep: with leases and the sweep interval shortened to a second, the stack's own sweep brings every
 * counter back to the live connections, and leaves live ones alone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPENING_WINDOW_MS } from '../../core/lifecycle.js';
import { sleep } from '../../core/retry.js';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { Players } from '../support/players.js';
import { eventually, mustOpen, request } from '../support/sockets.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

const LEASE_SECONDS = 1;
const SWEEP_SECONDS = 1;

let stack: LocalStack;
let store: StreamStore;
const players = new Players(() => stack);

beforeAll(async () => {
  stack = await startTestStack({
    streamLimit: 3,
    leaseSeconds: LEASE_SECONDS,
    sweepIntervalSeconds: SWEEP_SECONDS,
  });
  store = storeFor(stack);
});

afterEach(() => stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 }));

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

describe('sweep', () => {
  it('brings every counter back to its live connections within one lease plus one sweep interval', async () => {
    // Prepare: 20 users, each with 1 live socket and 2 ghosts
    const users = Array.from({ length: 20 }, () => newUserId('swept'));
    await Promise.all(users.map((userId) => mustOpen(stack.wsUrl, { userId }).then((s) => players.sockets.push(s))));
    stack.emulator.setFaults({ dropDisconnectRate: 1 });
    await Promise.all(users.map((u) => players.makeGhosts(u, 2)));
    stack.emulator.setFaults({ dropDisconnectRate: 0 });
    const ghostedAt = Date.now();
    for (const u of users) expect((await store.getCounter(u)).active).toBe(3);

    // Act: nothing; the stack's own sweep runs every second
    await eventually(
      async () => {
        const counters = await Promise.all(users.map((u) => store.getCounter(u)));
        return counters.every((c) => c.active === 1);
      },
      // A ghost is released once its lease ran out and its opening window passed (it might still have been opening).
      Math.max(LEASE_SECONDS * 1000, DEFAULT_OPENING_WINDOW_MS) + SWEEP_SECONDS * 1000 + 2000,
      50,
    );
    const reclaimedAfterMs = Date.now() - ghostedAt;

    // Assess: zero drift, and the live socket is still there and counted
    for (const u of users) {
      const counter = await store.getCounter(u);
      const { open: live } = await store.countedConnections(counter);
      expect([counter.active, counter.counted.size, live.length]).toEqual([1, 1, 1]);
    }
    console.info(
      `sweep reclaimed 40 ghosts of 20 users ${reclaimedAfterMs} ms after they were made (lease ${LEASE_SECONDS} s, sweep every ${SWEEP_SECONDS} s)`,
    );
  });

  it('keeps a live socket that never heartbeats, asking API Gateway at each check age', async () => {
    const userId = newUserId();
    const { socket, connectionId } = await players.openWithId({ userId });

    // Act: the stack's own sweep passes the first check ages (1, 2 and 4 leases)
    await sleep((4 * LEASE_SECONDS + 2 * SWEEP_SECONDS) * 1000);

    expect(socket.readyState).toBe(socket.OPEN);
    expect((await store.getConnection(connectionId))?.state).toBe('open');
    expect((await store.getCounter(userId)).active).toBe(1);
  });

  it('repairs a counter that disagrees with its connections', async () => {
    const userId = newUserId();
    await players.openWithId({ userId });
    await store.repairCount(userId, { observed: 1, actual: 3 }); // drift, as from a hand edit

    await eventually(
      async () => (await store.getCounter(userId)).active === 1,
      // A ghost is released once its lease ran out and its opening window passed (it might still have been opening).
      Math.max(LEASE_SECONDS * 1000, DEFAULT_OPENING_WINDOW_MS) + SWEEP_SECONDS * 1000 + 2000,
      50,
    );

    const counter = await store.getCounter(userId);
    expect([counter.active, counter.counted.size]).toEqual([1, 1]);
  });
});

describe('reclaim of expired leases', () => {
  it('releases a ghost whose lease ran out when the user needs the slot', async () => {
    const userId = newUserId();
    stack.emulator.setFaults({ dropDisconnectRate: 1 });
    await players.makeGhosts(userId, 1);
    stack.emulator.setFaults({ dropDisconnectRate: 0 });
    await Promise.all([0, 1].map(() => players.openWithId({ userId })));

    const third = await players.open({ userId });

    expect(third.status).toBe(101);
    expect((await store.getCounter(userId)).active).toBe(3);
  });

  it('never releases a live connection whose lease ran out', async () => {
    const userId = newUserId();
    const live = await Promise.all([0, 1, 2].map(() => players.openWithId({ userId })));
    await sleep(LEASE_SECONDS * 1000 + 200); // no heartbeats: the leases run out

    const fourth = await players.open({ userId });

    expect(fourth.status).toBe(429);
    expect(live.every((l) => l.socket.readyState === l.socket.OPEN)).toBe(true);
  });
});
describe('heartbeat', () => {
  it('answers with a lease counted from now, without writing to the store', async () => {
    const { socket, connectionId } = await players.openWithId({ userId: newUserId() });
    const before = await store.getConnection(connectionId);
    const first = await request(socket, { action: 'heartbeat' });
    await sleep(50);

    const second = await request(socket, { action: 'heartbeat' });

    expect(Date.parse(second.leaseExpiresAt as string)).toBeGreaterThan(Date.parse(first.leaseExpiresAt as string));
    expect(await store.getConnection(connectionId)).toEqual(before);
  });
});
