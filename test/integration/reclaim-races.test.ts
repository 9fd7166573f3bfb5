/**
 * Refused connects that reclaim ghosts, racing each other and the connects they let in. A connect that reclaimed
 * young ghosts waits for their closes (up to a second after their stamps) before stamping its own item: stamped
 * while its socket is not open yet, the next refused connect of the user would take it for a ghost and close it.
 */
import { describe, expect, it } from 'vitest';
import { sleep } from '../../core/retry.js';
import { endedFrames, type RecordedOpen, recordUntilClose } from '../support/ended.js';
import { CLOSES_IN_FLIGHT_MS, invariantViolations, trialViolations } from '../support/oracle.js';
import { useRaceStack } from '../support/race-stack.js';
import { closed, eventually } from '../support/sockets.js';
import { newUserId } from '../support/stack.js';

const LIMIT = 3;
const race = useRaceStack({ streamLimit: LIMIT });
const { players, openRecorded } = race;

const openCount = (results: RecordedOpen[]) =>
  results.filter((r) => r.socket !== undefined && r.socket.readyState === r.socket.OPEN).length;

async function closeAll(results: RecordedOpen[]) {
  for (const r of results) r.socket?.close();
  await Promise.all(results.map((r) => r.socket && closed(r.socket)));
}

/** The admitted sockets that the server then closed (with what they were told). */
function killed(results: RecordedOpen[]) {
  return results
    .filter((r) => r.status === 101 && r.end)
    .map((r) => ({ frames: endedFrames(r.end!), code: r.end!.code }));
}

describe('reclaim races', () => {
  it('a user whose 3 sockets dropped (no $disconnect) opens 3 at once: all 3 admitted and stay open', async () => {
    const failures: string[] = [];
    for (let trial = 0; trial < 5; trial++) {
      const userId = newUserId(`ghost${trial}`);
      race.stack.emulator.setFaults({ dropDisconnectRate: 1 });
      await players.makeGhosts(userId, LIMIT);
      race.stack.emulator.setFaults({ dropDisconnectRate: 0 });

      const results = await Promise.all(Array.from({ length: LIMIT }, () => openRecorded({ userId })));
      await sleep(CLOSES_IN_FLIGHT_MS);

      const statuses = results.map((r) => r.status);
      const dead = killed(results);
      const stillOpen = openCount(results);
      if (stillOpen !== LIMIT)
        failures.push(`trial ${trial}: statuses ${statuses}, open ${stillOpen}, killed ${JSON.stringify(dead)}`);
      failures.push(...(await trialViolations(race.stack, race.store, { limit: LIMIT, userId, trial })));
      await closeAll(results);
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('a user whose 3 sockets dropped (no $disconnect) opens 4 at once: 3 admitted and kept, 1 refused', async () => {
    const failures: string[] = [];
    for (let trial = 0; trial < 5; trial++) {
      const userId = newUserId(`ghost4-${trial}`);
      race.stack.emulator.setFaults({ dropDisconnectRate: 1 });
      await players.makeGhosts(userId, LIMIT);
      race.stack.emulator.setFaults({ dropDisconnectRate: 0 });

      const results = await Promise.all(Array.from({ length: LIMIT + 1 }, () => openRecorded({ userId })));
      await sleep(CLOSES_IN_FLIGHT_MS);

      const statuses = results.map((r) => r.status);
      const dead = killed(results);
      const stillOpen = openCount(results);
      if (stillOpen !== LIMIT || dead.length > 0)
        failures.push(
          `trial ${trial}: statuses ${statuses}, open ${stillOpen}, killed after 101 ${JSON.stringify(dead)}`,
        );
      failures.push(...(await trialViolations(race.stack, race.store, { limit: LIMIT, userId, trial })));
      await closeAll(results);
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('handshakes lost after $connect (stamped ghosts): the user opens up to the limit at once, and keeps them', async () => {
    const failures: string[] = [];
    for (let trial = 0; trial < 5; trial++) {
      const userId = newUserId(`lost${trial}`);
      race.stack.emulator.setFaults({ failHandshakeRate: 1 });
      await Promise.all(Array.from({ length: LIMIT }, () => openRecorded({ userId })));
      race.stack.emulator.setFaults({ failHandshakeRate: 0 });
      await eventually(async () => (await race.store.getCounter(userId)).active === LIMIT);

      const results = await Promise.all(Array.from({ length: LIMIT }, () => openRecorded({ userId })));
      await sleep(CLOSES_IN_FLIGHT_MS);

      const stillOpen = openCount(results);
      if (stillOpen !== LIMIT)
        failures.push(
          `trial ${trial}: statuses ${results.map((r) => r.status)}, open ${stillOpen}, killed ${JSON.stringify(killed(results))}`,
        );
      failures.push(...(await trialViolations(race.stack, race.store, { limit: LIMIT, userId, trial })));
      await closeAll(results);
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('one free slot, one stream and ten more connects at once: one admitted and kept, the rest refused', async () => {
    const failures: string[] = [];
    for (let trial = 0; trial < 6; trial++) {
      const userId = newUserId(`burst${trial}`);
      await Promise.all(Array.from({ length: LIMIT - 1 }, () => players.openWithId({ userId })));
      await sleep(50);

      const results = await Promise.all(Array.from({ length: 11 }, () => openRecorded({ userId })));
      await sleep(CLOSES_IN_FLIGHT_MS);

      const admitted = results.filter((r) => r.status === 101).length;
      const dead = killed(results);
      if (dead.length > 0 || admitted !== 1)
        failures.push(
          `trial ${trial}: statuses ${results.map((r) => r.status).join(',')}; killed after 101: ${JSON.stringify(dead)}`,
        );
      failures.push(...(await trialViolations(race.stack, race.store, { limit: LIMIT, userId, trial })));
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('a user whose streams are all live is refused by 30 connects at once, and none of them is closed', async () => {
    const userId = newUserId('live');
    const live = await Promise.all(Array.from({ length: LIMIT }, () => players.openWithId({ userId })));
    const endings = live.map((l) => recordUntilClose(l.socket));
    let anyClosed = false;
    for (const e of endings) void e.then(() => (anyClosed = true));

    const results = await Promise.all(Array.from({ length: 30 }, () => openRecorded({ userId })));
    await sleep(500);

    expect(results.map((r) => r.status).filter((s) => s !== 429)).toEqual([]);
    expect(anyClosed).toBe(false);
    expect(await invariantViolations(race.stack, race.store, { limit: LIMIT, users: [userId] })).toEqual([]);
  }, 60_000);

  it('a user at the limit who closes one stream and opens another at once is admitted', async () => {
    const failures: string[] = [];
    for (let trial = 0; trial < 6; trial++) {
      const userId = newUserId(`swap${trial}`);
      const held = await Promise.all(Array.from({ length: LIMIT }, () => players.openWithId({ userId })));
      if (trial % 2) await sleep(20);
      held[trial % LIMIT]!.socket.close();
      const next = await openRecorded({ userId });
      if (next.status !== 101) failures.push(`trial ${trial}: ${next.status} ${next.body}`);
      await sleep(300);
      if (next.end) failures.push(`trial ${trial}: admitted then closed ${JSON.stringify(next.end)}`);
      failures.push(...(await trialViolations(race.stack, race.store, { limit: LIMIT, userId, trial })));
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
