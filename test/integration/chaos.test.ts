/**
 * Seeded random interleavings of every ender at once: takeovers, new streams at the limit (block-new: refusals that
 * reclaim; evict-oldest: evictions), kicks, player ends, client closes and drops, with lost `$disconnect`s and lost
 * handshakes. After each trial: the oracle, and every socket the server closed got exactly one `ended` frame, last.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { sleep } from '../../core/retry.js';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { seeded } from '../../tools/capacity/simulate.js';
import { endedFrames, openRecording, type SocketEnd } from '../support/ended.js';
import { CLOSES_IN_FLIGHT_MS, trialViolations } from '../support/oracle.js';
import { openSocket } from '../support/sockets.js';
import {
  FAST_STORE_OPENING_WINDOW_SECONDS,
  newUserId,
  startTestStack,
  storeFor,
  supportRequest,
} from '../support/stack.js';

const LIMIT = 3;
const stacks: LocalStack[] = [];
const sockets: WebSocket[] = [];

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await Promise.all(stacks.map((s) => s.stop()));
});

interface Tracked {
  params: Record<string, string>;
  status: number;
  socket?: WebSocket;
  /** closed by the test itself (close or terminate): no `ended` frame is owed */
  byClient: boolean;
  end?: SocketEnd;
}

async function runTrials(stack: LocalStack, store: StoreLike, seed: number, trials: number) {
  const next = seeded(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!;
  const failures: string[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const userId = newUserId(`chaos${seed}-${trial}`);
    const all: Tracked[] = [];
    const open = async (params: Record<string, string>): Promise<Tracked> => {
      const t: Tracked = { params, status: 0, byClient: false };
      all.push(t);
      const r = await openRecording(stack.wsUrl, params, sockets);
      t.status = r.status;
      t.socket = r.socket;
      void r.ending?.then((end) => (t.end = end));
      return t;
    };
    // Prepare: the limit held, no faults
    stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 });
    for (const s of ['s1', 's2', 's3']) await open({ userId, streamId: s, device: `d-${s}` });
    await sleep(30);
    stack.emulator.setFaults({ dropDisconnectRate: next() < 0.5 ? 0.5 : 0, failHandshakeRate: next() < 0.3 ? 0.3 : 0 });

    // Act: 4 to 9 actions at once, each after 0 to 5 ms
    const n = 4 + Math.floor(next() * 6);
    const actions: Array<() => Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      const kind = pick(['takeover', 'new', 'kick', 'playerEnd', 'close', 'drop']);
      const stream = pick(['s1', 's2', 's3']);
      const delay = Math.floor(next() * 6);
      actions.push(async () => {
        await sleep(delay);
        const holders = all.filter((t) => t.socket && t.socket.readyState === t.socket.OPEN);
        if (kind === 'takeover') return open({ userId, streamId: stream, device: `re-${i}` });
        if (kind === 'new') return open({ userId, streamId: `n${i}`, device: `new-${i}` });
        if (kind === 'playerEnd')
          return fetch(`${stack.httpUrl}/me/streams/${stream}?userId=${userId}`, { method: 'DELETE' });
        const r = next();
        if (kind === 'kick') {
          // No message on the socket (a message racing an ender is its own finding): staff list, then end one
          const listed = await supportRequest(stack, { method: 'GET', path: `/users/${userId}/connections` });
          const { connections } = (await listed.json()) as { connections: Array<{ connectionId: string }> };
          if (connections.length === 0) return;
          const { connectionId } = connections[Math.floor(r * connections.length)]!;
          return supportRequest(stack, { method: 'DELETE', path: `/connections/${encodeURIComponent(connectionId)}` });
        }
        if (holders.length === 0) return;
        const victim = holders[Math.floor(r * holders.length)]!;
        victim.byClient = true;
        if (kind === 'close') victim.socket!.close();
        else victim.socket!.terminate();
      });
    }
    await Promise.all(actions.map((a) => a()));
    await sleep(CLOSES_IN_FLIGHT_MS);
    stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 });

    // Assess
    failures.push(...(await trialViolations(stack, store as StreamStore, { limit: LIMIT, userId, trial })));
    for (const t of all) {
      if (!t.end || t.byClient) continue;
      const ended = endedFrames(t.end);
      if (ended.length !== 1 || t.end.frames.at(-1)?.type !== 'ended')
        failures.push(`trial ${trial}: ${JSON.stringify(t.params)} closed ${t.end.code} with ${JSON.stringify(ended)}`);
    }
    // Nobody locked out: after every socket of the user dropped without $disconnect, the limit opens again at once
    stack.emulator.setFaults({ dropDisconnectRate: 1 });
    for (const t of all) if (t.socket && t.socket.readyState === t.socket.OPEN) t.socket.terminate();
    await sleep(100);
    stack.emulator.setFaults({ dropDisconnectRate: 0 });
    const again = await Promise.all(Array.from({ length: LIMIT }, () => openSocket(stack.wsUrl, { userId })));
    for (const r of again) if (r.socket) sockets.push(r.socket);
    if (again.some((r) => r.status !== 101))
      failures.push(`trial ${trial}: locked out after drops: ${again.map((r) => `${r.status} ${r.body ?? ''}`)}`);
    for (const r of again) r.socket?.terminate();
  }
  return failures;
}

type StoreLike = ReturnType<typeof storeFor>;

describe('chaos', () => {
  for (const policy of ['block-new', 'evict-oldest'] as const) {
    it(`${policy}: seeded interleavings leave the invariants and one ended frame per server close`, async () => {
      const stack = await startTestStack({
        streamLimit: LIMIT,
        sweepIntervalSeconds: 0,
        limitPolicy: policy,
        openingWindowSeconds: FAST_STORE_OPENING_WINDOW_SECONDS,
      });
      stacks.push(stack);
      const store = storeFor(stack);
      const seed = Number(process.env.CHAOS_SEED ?? 7);
      const failures = await runTrials(stack, store, seed, Number(process.env.CHAOS_TRIALS ?? 6));
      expect(failures).toEqual([]);
    }, 120_000);
  }
});
