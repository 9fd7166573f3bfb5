/**
 * `LIMIT_POLICY=evict-oldest` (contract section 2): at the limit, the user's least recently active stream is ended
 * (`ended` reason `evicted`, naming the new device, before its close) and the new one admitted, atomically. Real
 * sockets through the emulator, a real DynamoDB Local, and after every burst the invariant oracle: no user above the
 * limit, every open socket counted, the counter equal to its members.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { sleep } from '../../core/retry.js';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { endedFrames, openRecording, recordUntilClose, type SocketEnd } from '../support/ended.js';
import { invariantViolations } from '../support/oracle.js';
import { Players } from '../support/players.js';
import { eventually, request } from '../support/sockets.js';
import { FAST_STORE_OPENING_WINDOW_SECONDS, newUserId, startTestStack, storeFor } from '../support/stack.js';

const LIMIT = 3;
/** Bursts under a loaded machine take a while; nothing here is timed. */
const BURST_TIMEOUT_MS = 180_000;

let stack: LocalStack;
let store: StreamStore;
const players = new Players(() => stack);

beforeAll(async () => {
  stack = await startTestStack({
    streamLimit: LIMIT,
    limitPolicy: 'evict-oldest',
    sweepIntervalSeconds: 0,
    openingWindowSeconds: FAST_STORE_OPENING_WINDOW_SECONDS,
  });
  store = storeFor(stack);
});

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

/** One connect of a burst: how its handshake ended and, if it opened, everything its socket got until it closed. */
interface Attempt {
  device: string;
  status: number;
  socket?: WebSocket;
  end?: Promise<SocketEnd>;
}

/**
 * Opens a socket, recording it from before its handshake, so that no frame sent right after the handshake is missed
 * (an evicted socket still inside its handshake gets its `ended` frame the moment it opens).
 */
async function attempt(params: Record<string, string>): Promise<Attempt> {
  const { status, socket, ending } = await openRecording(stack.wsUrl, params, players.sockets);
  return { device: params.device ?? '', status, socket, end: ending };
}

const openNow = (attempts: Attempt[]) =>
  attempts.filter((a) => a.socket !== undefined && a.socket.readyState === a.socket.OPEN);

/** Waits until the burst's sockets stop closing: exactly `LIMIT` left open and every other one's close recorded. */
async function settled(attempts: Attempt[]) {
  await eventually(() => openNow(attempts).length <= LIMIT, 60_000);
  await Promise.all(attempts.filter((a) => a.socket && !openNow(attempts).includes(a)).map((a) => a.end));
}

describe('evict-oldest', () => {
  it('ends the least recently active stream, telling it evicted with the new device, and admits the new one', async () => {
    // Prepare: three streams; the phone's is the least recently active (the others sent a heartbeat after it opened)
    const userId = newUserId();
    const tv = await players.openWithId({ userId, streamId: 'tv-movie', device: 'Living room TV' });
    const phone = await players.openWithId({ userId, streamId: 'phone-movie', device: 'Phone' });
    const laptop = await players.openWithId({ userId, streamId: 'laptop-movie', device: 'Laptop' });
    await sleep(5); // so that the heartbeats below are later than the phone's last activity, on any clock
    await request(tv.socket, { action: 'heartbeat' });
    await request(laptop.socket, { action: 'heartbeat' });
    const phoneEnding = recordUntilClose(phone.socket);

    // Act
    const tablet = await players.open({ userId, streamId: 'tablet-movie', device: 'Tablet' });
    const end = await phoneEnding;

    // Assess
    expect(tablet.status).toBe(101);
    expect(end.frames.at(-1)).toEqual({ type: 'ended', reason: 'evicted', device: 'Tablet' });
    expect(endedFrames(end)).toHaveLength(1);
    expect(end.code).toBe(1000);
    const counter = await store.getCounter(userId);
    expect(counter.active).toBe(LIMIT);
    expect([...counter.streams.keys()].sort()).toEqual(['laptop-movie', 'tablet-movie', 'tv-movie']);
    expect(await store.getConnection(phone.connectionId)).toMatchObject({ state: 'closed', closeReason: 'evicted' });
    expect(tv.socket.readyState).toBe(tv.socket.OPEN);
    expect(await invariantViolations(stack, store, { limit: LIMIT, users: [userId] })).toEqual([]);
  });

  it('ranks by activity, not by age: the oldest stream survives when it is the one still being watched', async () => {
    // Prepare
    const userId = newUserId();
    const oldest = await players.openWithId({ userId, streamId: 'a', device: 'TV' });
    const middle = await players.openWithId({ userId, streamId: 'b', device: 'Phone' });
    await players.openWithId({ userId, streamId: 'c', device: 'Laptop' });
    await sleep(5);
    await request(oldest.socket, { action: 'heartbeat' });
    const middleEnding = recordUntilClose(middle.socket);

    // Act
    await players.open({ userId, streamId: 'd', device: 'Tablet' });

    // Assess: the phone (connected second, silent since) goes, not the TV (connected first, active since)
    expect((await middleEnding).frames.at(-1)).toMatchObject({ reason: 'evicted', device: 'Tablet' });
    expect(oldest.socket.readyState).toBe(oldest.socket.OPEN);
  });

  it('takes over, rather than evicts, when the new connect holds the same stream id', async () => {
    const userId = newUserId();
    const first = await players.openWithId({ userId, streamId: 'a', device: 'TV' });
    await players.openWithId({ userId, streamId: 'b' });
    await players.openWithId({ userId, streamId: 'c' });
    const ending = recordUntilClose(first.socket);

    await players.open({ userId, streamId: 'a', device: 'TV again' });

    expect((await ending).frames.at(-1)).toEqual({ type: 'ended', reason: 'takenOver', device: 'TV again' });
    expect((await store.getCounter(userId)).active).toBe(LIMIT);
  });

  it(
    'keeps exactly the limit open under 50 simultaneous connects, every evicted socket told before its close',
    async () => {
      // Prepare: the user already holds the limit
      const userId = newUserId('burst');
      const held = await Promise.all(
        ['h1', 'h2', 'h3'].map((streamId) => attempt({ userId, streamId, device: `held-${streamId}` })),
      );
      expect(held.map((h) => h.status)).toEqual([101, 101, 101]);

      // Act: fifty connects at once, each a new stream on a new device
      const burst = await Promise.all(
        Array.from({ length: 50 }, (_, i) => attempt({ userId, streamId: `n${i}`, device: `new-${i}` })),
      );
      const all = [...held, ...burst];
      await settled(all);

      // Assess: exactly the limit open, and the store agrees with the sockets
      expect(openNow(all)).toHaveLength(LIMIT);
      expect(await invariantViolations(stack, store, { limit: LIMIT, users: [userId] })).toEqual([]);
      expect((await store.getCounter(userId)).active).toBe(LIMIT);
      // Every connect was admitted, or withdrawn (409: evicted by a newer one inside its own handshake): no 429
      // (there is always a stream to evict) and no 503 (the eviction races settle).
      const statuses = new Set(burst.map((b) => b.status));
      expect([...statuses].filter((s) => s !== 101 && s !== 409)).toEqual([]);
      // Every socket that closed was told, once, last, that it was evicted, naming a device of the burst
      const newDevices = new Set(burst.map((b) => b.device));
      for (const a of all.filter((x) => x.socket && !openNow(all).includes(x))) {
        const end = await a.end!;
        expect(endedFrames(end), a.device).toHaveLength(1);
        expect(end.frames.at(-1), a.device).toMatchObject({ type: 'ended', reason: 'evicted' });
        expect(newDevices.has(String(end.frames.at(-1)!.device)), a.device).toBe(true);
      }
      // The three held before the burst were all evicted: each admission of the burst evicted exactly one stream
      for (const h of held) expect((await h.end!).frames.at(-1)).toMatchObject({ reason: 'evicted' });
    },
    BURST_TIMEOUT_MS,
  );

  it(
    'settles every interleaving of connects, closes and player-API ends without passing the limit',
    async () => {
      // Seeded, so that a failing trial can be run again as it was.
      let seed = 0x5eed;
      const next = () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed / 2 ** 32;
      };
      for (let trial = 0; trial < 12; trial++) {
        // Prepare: a user holding between 0 and the limit
        const userId = newUserId(`mix${trial}`);
        const start = Math.floor(next() * (LIMIT + 1));
        const held = await Promise.all(
          Array.from({ length: start }, (_, i) => attempt({ userId, streamId: `h${i}`, device: `held-${i}` })),
        );

        // Act: a random wave of new connects (some reusing a held stream id: takeovers), client closes and ends
        // through the player API, all at once
        const wave = 2 + Math.floor(next() * 10);
        const actions: Array<Promise<unknown>> = [];
        const clientClosed = new Set<Attempt>();
        const userEnded = new Set<string>();
        const connects: Array<Promise<Attempt>> = [];
        for (let i = 0; i < wave; i++) {
          const reuse = held.length > 0 && next() < 0.25;
          const streamId = reuse ? `h${Math.floor(next() * held.length)}` : `n${i}`;
          connects.push(attempt({ userId, streamId, device: `new-${i}` }));
        }
        for (const h of held) {
          const roll = next();
          if (roll < 0.2) {
            clientClosed.add(h);
            h.socket?.close();
          } else if (roll < 0.4) {
            const streamId = `h${held.indexOf(h)}`;
            userEnded.add(streamId);
            actions.push(fetch(`${stack.httpUrl}/me/streams/${streamId}?userId=${userId}`, { method: 'DELETE' }));
          }
        }
        const burst = await Promise.all(connects);
        await Promise.all(actions);
        const all = [...held, ...burst];
        await settled(all);
        // The releases of client-closed sockets land with their `$disconnect`, after the close: wait for them
        await eventually(async () => (await store.getCounter(userId)).active === openNow(all).length, 15_000);

        // Assess
        const label = `trial ${trial}: start ${start}, wave ${wave}`;
        expect(await invariantViolations(stack, store, { limit: LIMIT, users: [userId] }), label).toEqual([]);
        expect(openNow(all).length, label).toBeLessThanOrEqual(LIMIT);
        expect(
          burst.filter((b) => b.status === 429 || b.status === 503),
          label,
        ).toEqual([]);
        for (const a of all.filter((x) => x.socket && !openNow(all).includes(x) && !clientClosed.has(x))) {
          const end = await a.end!;
          expect(endedFrames(end), `${label}, ${a.device}`).toHaveLength(1);
          expect(['evicted', 'takenOver', 'endedByUser'], `${label}, ${a.device}`).toContain(end.frames.at(-1)!.reason);
        }
      }
    },
    BURST_TIMEOUT_MS,
  );
});
