/**
 * The resume hold's interleavings under a slow, heavy-tailed store (the chaos-latency suite's: 10% of calls take
 * 0.8 to 3 s each way): a user's three `resume=1` sockets are deleted through `@connections` at once; each stream
 * reconnects (some twice at once, racing their own takeovers) while a fourth device of the user keeps trying. The
 * fourth never gets in, every stream comes back counted once, and the oracle's invariants hold after each round.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { sleep } from '../../core/retry.js';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { parseStoreLatency } from '../../local/store-latency.js';
import { CLOSES_IN_FLIGHT_MS, invariantViolations } from '../support/oracle.js';
import { closed, type OpenResult, openSocket } from '../support/sockets.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

const HEAVY_TAIL = parseStoreLatency('0.9:1-8,0.1:800-3000')!;
const LIMIT = 3;
/**
 * Longer than a reconnect takes here (a few store calls, each up to 3 s each way, and a `503` tried again), so that
 * "the fourth device never gets in" is what the hold promises rather than a race against its end.
 */
const HOLD_SECONDS = 60;
const ROUNDS = Number(process.env.RESUME_RACE_ROUNDS ?? 2);
let stack: LocalStack;
let store: StreamStore;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack({
    streamLimit: LIMIT,
    sweepIntervalSeconds: 0,
    resumeHoldSeconds: HOLD_SECONDS,
    faultStoreLatency: HEAVY_TAIL,
  });
  store = storeFor(stack);
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await stack?.stop();
});

/** A connect as a player makes it: a `503` (the store too slow for the socket to open in time) is tried again. */
async function connect(params: Record<string, string>): Promise<OpenResult> {
  for (let attempt = 0; ; attempt++) {
    const r = await openSocket(stack.wsUrl, params).catch(() => ({ status: 0 }) as OpenResult);
    if (r.socket) sockets.push(r.socket);
    if ((r.status !== 503 && r.status !== 0) || attempt === 10) return r;
    await sleep(Math.random() * 200);
  }
}

const resumeParams = (userId: string, streamId: string) => ({ userId, streamId, resume: '1' });

async function idOf(socket: WebSocket): Promise<string> {
  const answer = new Promise<Record<string, unknown>>((resolve) =>
    socket.once('message', (d) => resolve(JSON.parse(d.toString()))),
  );
  socket.send('{"action":"heartbeat"}');
  return String((await answer).connectionId);
}

describe('resume reconnects racing a fourth device under a slow store', () => {
  it('keeps the fourth device out while every dropped stream comes back, counted once', async () => {
    // Prepare: three streams of one user, open
    const userId = newUserId('resume-race');
    const streams = ['s1', 's2', 's3'];
    let current = new Map<string, WebSocket>();
    for (const streamId of streams) {
      const r = await connect(resumeParams(userId, streamId));
      expect(r.status).toBe(101);
      current.set(streamId, r.socket!);
    }
    const fourth: number[] = [];
    const failures: string[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      // Act: every socket deleted at once; each stream reconnects (the first two twice at once) while the fourth
      // device tries again and again until they are all back
      const ids = await Promise.all([...current.values()].map(idOf));
      const gone = [...current.values()].map(closed);
      await Promise.all(
        ids.map((id) => fetch(`${stack.callbackUrl}/@connections/${encodeURIComponent(id)}`, { method: 'DELETE' })),
      );
      await Promise.all(gone);
      let back = false;
      const fourthTries = (async () => {
        while (!back) {
          const r = await connect({ userId, streamId: `fourth-${round}`, device: 'Fourth' });
          fourth.push(r.status);
          r.socket?.close();
          await sleep(100);
        }
      })();
      const reconnects = await Promise.all(
        streams.flatMap((streamId, i) =>
          (i < 2 ? [0, 1] : [0]).map(async () => ({ streamId, r: await connect(resumeParams(userId, streamId)) })),
        ),
      );
      back = true;
      await fourthTries;

      // Assess: each stream back on exactly one open socket (a racing twin refused 409 or taken over), counted once
      await sleep(CLOSES_IN_FLIGHT_MS);
      const next = new Map<string, WebSocket>();
      for (const { streamId, r } of reconnects) {
        if (r.status === 101 && r.socket!.readyState === r.socket!.OPEN) {
          if (next.has(streamId)) failures.push(`round ${round}: ${streamId} open twice`);
          next.set(streamId, r.socket!);
        } else if (r.status !== 101 && r.status !== 409) failures.push(`round ${round}: ${streamId} got ${r.status}`);
      }
      for (const streamId of streams) if (!next.has(streamId)) failures.push(`round ${round}: ${streamId} not back`);
      const counter = await store.getCounter(userId);
      if (counter.active !== LIMIT) failures.push(`round ${round}: active ${counter.active}`);
      for (const v of await invariantViolations(stack, store, { limit: LIMIT, users: [userId] }))
        failures.push(`round ${round}: ${v.problem} ${v.connectionId ?? ''}`);
      current = next;
    }

    expect(failures).toEqual([]);
    expect(fourth.filter((s) => s === 101)).toEqual([]);
    console.info(`resume races: ${ROUNDS} rounds, the fourth device refused ${JSON.stringify(countBy(fourth))}`);
  }, 180_000);
});

const countBy = (values: number[]) =>
  values.reduce<Record<number, number>>((acc, v) => Object.assign(acc, { [v]: (acc[v] ?? 0) + 1 }), {});
