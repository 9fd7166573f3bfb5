/**
 * evict-oldest with ghosts and lost handshakes: a burst of connects for a user whose streams dropped without
 * `$disconnect`. The limit stays open, every socket the server closes is told once, the oracle holds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { sleep } from '../../core/retry.js';
import type { StreamStore } from '../../core/store/store.js';
import type { LocalStack } from '../../local/stack.js';
import { endedFrames, openRecording } from '../support/ended.js';
import { trialViolations } from '../support/oracle.js';
import { Players } from '../support/players.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

const LIMIT = 3;
let stack: LocalStack;
let store: StreamStore;
const players = new Players(() => stack);
const sockets: WebSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: LIMIT, sweepIntervalSeconds: 0, limitPolicy: 'evict-oldest' });
  store = storeFor(stack);
});

afterEach(() => stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 }));

afterAll(async () => {
  players.endAll();
  for (const s of sockets) s.terminate();
  await stack?.stop();
});

const openRecorded = (params: Record<string, string>) => openRecording(stack.wsUrl, params, sockets);

describe('evict-oldest with ghosts', () => {
  it('3 dropped streams, then 6 connects at once (some handshakes lost): the limit holds, each close told once', async () => {
    const failures: string[] = [];
    for (let trial = 0; trial < 8; trial++) {
      const userId = newUserId(`eg${trial}`);
      stack.emulator.setFaults({ dropDisconnectRate: 1 });
      await players.makeGhosts(userId, LIMIT);
      stack.emulator.setFaults({ dropDisconnectRate: 0.5, failHandshakeRate: trial % 2 ? 0.3 : 0 });

      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => openRecorded({ userId, device: `d${i}`, streamId: `s${i % 4}` })),
      );
      await sleep(1500);
      stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 });

      const open = results.filter((r) => r.socket && r.socket.readyState === r.socket.OPEN).length;
      if (open > LIMIT) failures.push(`trial ${trial}: ${open} open`);
      for (const r of results) {
        if (!r.end) continue;
        const ended = endedFrames(r.end);
        if (ended.length !== 1 || r.end.frames.at(-1)?.type !== 'ended')
          failures.push(`trial ${trial}: closed ${r.end.code} with ${JSON.stringify(r.end.frames)}`);
      }
      failures.push(...(await trialViolations(stack, store, { limit: LIMIT, userId, trial })));
      for (const r of results) r.socket?.terminate();
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
