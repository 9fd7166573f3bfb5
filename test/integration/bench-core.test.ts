/**
 * The bench's own measurements (`npm run bench`) at a small scale: each kind of store call alone, and the burst and
 * the ghost storm through the core alone, with the same outcomes as through the stack (so the ceiling they measure is
 * the design's).
 */
import { describe, expect, it } from 'vitest';
import { coreBurst, coreStorm } from '../../tools/bench/core-scenarios.js';
import { storeOperations } from '../../tools/bench/store-operations.js';
import { useRaceStack } from '../support/race-stack.js';
import { FAST_STORE_OPENING_WINDOW_SECONDS, newUserId } from '../support/stack.js';

const race = useRaceStack({ streamLimit: 3 });

describe('the bench: each kind of race.store call alone', () => {
  it('measures every kind, each call answered as expected (admitted, refused)', async () => {
    const operations = await storeOperations(race.store, newUserId('ops'), { cpuMs: () => 0, users: 10 });

    expect(Object.keys(operations).sort()).toEqual([
      'batchGetOfThree',
      'getItem',
      'guardTransaction',
      'guardTransactionAt256',
      'guardTransactionAt8',
      'refusedTransaction',
    ]);
    for (const cost of Object.values(operations)) expect(cost.perSecond).toBeGreaterThan(0);
  });
});

describe('the bench through the core alone', () => {
  it('a burst of 4 connects per user at once: 3 admitted and kept, 1 refused, per user', async () => {
    const run = await coreBurst(race.store, newUserId('coreburst'), 10, 4);

    expect(run).toMatchObject({ admitted: 30, refused: 10, errors: 0, closedAfterAdmission: 0 });
    expect(run.admittedPerSecond).toBeGreaterThan(0);
  });

  it('a ghost storm: every stream lost without $disconnect is admitted again, none closed after', async () => {
    // Streams that had played past their opening window (the race stack's), lost, and back 100 ms later.
    const window = FAST_STORE_OPENING_WINDOW_SECONDS * 1000;
    const timing = { playedMs: window + 100, settleMs: 100 };
    const run = await coreStorm(race.store, newUserId('corestorm'), { users: 10, perUser: 3, ...timing }, window);

    expect(run).toMatchObject({ admitted: 30, refused: 0, errors: 0, closedAfterAdmission: 0 });
  });
});
