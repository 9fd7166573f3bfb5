/**
 * evict-oldest with ghosts and lost handshakes: a burst of connects for a user whose streams dropped without
 * `$disconnect`. The limit stays open, every socket the server closes is told once, the oracle holds.
 */
import { describe, expect, it } from 'vitest';
import { sleep } from '../../core/retry.js';
import { endedFrames } from '../support/ended.js';
import { CLOSES_IN_FLIGHT_MS, trialViolations } from '../support/oracle.js';
import { useRaceStack } from '../support/race-stack.js';
import { newUserId } from '../support/stack.js';

const LIMIT = 3;
const race = useRaceStack({ streamLimit: LIMIT, limitPolicy: 'evict-oldest' });
const { players, openRecorded } = race;

describe('evict-oldest with ghosts', () => {
  it('3 dropped streams, then 6 connects at once (some handshakes lost): the limit holds, each close told once', async () => {
    const failures: string[] = [];
    for (let trial = 0; trial < 8; trial++) {
      const userId = newUserId(`eg${trial}`);
      race.stack.emulator.setFaults({ dropDisconnectRate: 1 });
      await players.makeGhosts(userId, LIMIT);
      race.stack.emulator.setFaults({ dropDisconnectRate: 0.5, failHandshakeRate: trial % 2 ? 0.3 : 0 });

      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => openRecorded({ userId, device: `d${i}`, streamId: `s${i % 4}` })),
      );
      await sleep(CLOSES_IN_FLIGHT_MS);
      race.stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 });

      const open = results.filter((r) => r.socket && r.socket.readyState === r.socket.OPEN).length;
      if (open > LIMIT) failures.push(`trial ${trial}: ${open} open`);
      for (const r of results) {
        if (!r.end) continue;
        const ended = endedFrames(r.end);
        if (ended.length !== 1 || r.end.frames.at(-1)?.type !== 'ended')
          failures.push(`trial ${trial}: closed ${r.end.code} with ${JSON.stringify(r.end.frames)}`);
      }
      failures.push(...(await trialViolations(race.stack, race.store, { limit: LIMIT, userId, trial })));
      for (const r of results) r.socket?.terminate();
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
