/**
 * The store contract (index.ts), part: ghosts and drift: releaseGhosts, forgetMissing and repairCount.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { NewConnection } from '../../../core/store/items.js';
import { admittedOn, type ContractState, closedItem, counterOf, freshId, newConnection, openItem } from './fixtures.js';

export function ghostsContract(current: () => ContractState): void {
  // Set afresh before each test (index.ts): the store, a clock and a user of the test's own.
  let { store, dropItem, clock, userId } = {} as ContractState;
  beforeEach(() => ({ store, dropItem, clock, userId } = current()));
  const admitted = (conn: NewConnection, defaultLimit?: number) => admittedOn(store, conn, defaultLimit);

  describe('releaseGhosts', () => {
    it('uncounts every ghost in one write and closes their items reclaimed', async () => {
      // Prepare
      const live = await admitted(newConnection(clock, userId, { streamId: 'live' }));
      const ghost1 = await admitted(newConnection(clock, userId, { streamId: 'g1' }));
      const ghost2 = await admitted(newConnection(clock, userId));
      const counter = await store.getCounter(userId);
      const at = clock.tick();

      // Act
      const released = await store.releaseGhosts(counter, [ghost1.connectionId, ghost2.connectionId], at);

      // Assess
      expect(released).toBe(true);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [live]));
      expect(await store.getConnection(ghost1.connectionId)).toEqual(closedItem(ghost1, 'reclaimed', at));
      expect(await store.getConnection(ghost2.connectionId)).toEqual(closedItem(ghost2, 'reclaimed', at));
      expect(await store.getConnection(live.connectionId)).toEqual(openItem(live));
    });

    it('answers false and changes nothing when one of them is no longer counted', async () => {
      // Prepare
      const ghost1 = await admitted(newConnection(clock, userId, { streamId: 'g1' }));
      const ghost2 = await admitted(newConnection(clock, userId, { streamId: 'g2' }));
      const counter = await store.getCounter(userId);
      const at = clock.tick();
      await store.release(ghost2.connectionId, 'disconnected', at);

      // Act
      const released = await store.releaseGhosts(counter, [ghost1.connectionId, ghost2.connectionId], clock.tick());

      // Assess
      expect(released).toBe(false);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [ghost1]));
      expect(await store.getConnection(ghost1.connectionId)).toEqual(openItem(ghost1));
      expect(await store.getConnection(ghost2.connectionId)).toEqual(closedItem(ghost2, 'disconnected', at));
    });

    it('removes the claims the counter passed shows, not the ones the stored counter has', async () => {
      // Prepare: a snapshot that does not show the ghost's claim
      const ghost = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const counter = { ...(await store.getCounter(userId)), streams: new Map<string, string>() };

      // Act
      const released = await store.releaseGhosts(counter, [ghost.connectionId], clock.tick());

      // Assess
      expect(released).toBe(true);
      expect(await store.getCounter(userId)).toEqual({
        ...counterOf(userId, []),
        streams: new Map([['match', ghost.connectionId]]),
      });
    });

    it('keeps the close reason of a ghost whose item was closed already', async () => {
      // Prepare
      const ghost = await admitted(newConnection(clock, userId));
      const at = clock.tick();
      await store.closeItem(ghost.connectionId, 'kicked', at);
      const counter = await store.getCounter(userId);

      // Act
      const released = await store.releaseGhosts(counter, [ghost.connectionId], clock.tick());

      // Assess
      expect(released).toBe(true);
      expect(await store.getConnection(ghost.connectionId)).toEqual(closedItem(ghost, 'kicked', at));
      expect((await store.getCounter(userId)).active).toBe(0);
    });

    it('answers true to exactly one of two releases of the same ghosts at once', async () => {
      // Prepare
      const ghost = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const counter = await store.getCounter(userId);

      // Act
      const results = await Promise.all([
        store.releaseGhosts(counter, [ghost.connectionId], clock.tick()),
        store.releaseGhosts(counter, [ghost.connectionId], clock.tick()),
      ]);

      // Assess
      expect(results.sort()).toEqual([false, true]);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, []));
    });
  });

  describe('forgetMissing', () => {
    it('forgets a counted connection whose item is gone, with its stream claim', async () => {
      // Prepare
      const keeper = await admitted(newConnection(clock, userId, { streamId: 'other' }));
      const lost = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      await dropItem(lost.connectionId);
      const counter = await store.getCounter(userId);

      // Act
      const forgotten = await store.forgetMissing(counter, lost.connectionId);

      // Assess
      expect(forgotten).toBe(true);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper]));
    });

    it('forgets a counted connection whose item is closed', async () => {
      // Prepare
      const ending = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const at = clock.tick();
      await store.closeItem(ending.connectionId, 'kicked', at);
      const counter = await store.getCounter(userId);

      // Act
      const forgotten = await store.forgetMissing(counter, ending.connectionId);

      // Assess
      expect(forgotten).toBe(true);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, []));
      expect(await store.getConnection(ending.connectionId)).toEqual(closedItem(ending, 'kicked', at));
    });

    it('answers false and changes nothing when the item is open', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const counter = await store.getCounter(userId);

      // Act
      const forgotten = await store.forgetMissing(counter, conn.connectionId);

      // Assess
      expect(forgotten).toBe(false);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
    });

    it('answers false when the connection is not counted', async () => {
      // Prepare
      const keeper = await admitted(newConnection(clock, userId));
      const counter = await store.getCounter(userId);

      // Act
      const forgotten = await store.forgetMissing(counter, freshId('c'));

      // Assess
      expect(forgotten).toBe(false);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper]));
    });
  });

  describe('repairCount', () => {
    it('sets active to the actual count when the counter still reads the observed one, members untouched', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));

      // Act
      const repaired = await store.repairCount(userId, { observed: 1, actual: 3 });

      // Assess
      expect(repaired).toBe(true);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn], { active: 3 }));
    });

    it('answers false and changes nothing when the counter reads otherwise', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));

      // Act
      const repaired = await store.repairCount(userId, { observed: 2, actual: 0 });

      // Assess
      expect(repaired).toBe(false);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
    });

    it('answers false for a user never counted', async () => {
      // Act
      const repaired = await store.repairCount(userId, { observed: 0, actual: 0 });

      // Assess
      expect(repaired).toBe(false);
    });
  });
}
