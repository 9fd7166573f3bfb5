/**
 * The store contract (index.ts), part: `evict-oldest`: ending the victim and counting the new connection in its
 * place, only at exactly the limit.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { NewConnection } from '../../../core/store/items.js';
import {
  admittedOn,
  audit,
  type ContractState,
  closedItem,
  counterOf,
  evictOptions,
  newConnection,
  openItem,
  redelivered,
} from './fixtures.js';

export function evictContract(current: () => ContractState): void {
  // Set afresh before each test (index.ts): the store, a clock and a user of the test's own.
  let { store, dropItem, clock, userId } = {} as ContractState;
  beforeEach(() => ({ store, dropItem, clock, userId } = current()));
  const admitted = (conn: NewConnection, defaultLimit?: number) => admittedOn(store, conn, defaultLimit);

  /** A victim as the counter keeps it after its eviction: still counted, its claim gone. */
  const unclaimed = (c: NewConnection): NewConnection => ({ ...c, streamId: undefined });

  describe('evict', () => {
    /** Two connections admitted at a limit of 2, the first holding `a`, the second `b`. */
    async function atTheLimit() {
      const victim = await admitted(newConnection(clock, userId, { streamId: 'a' }), 2);
      const keeper = await admitted(newConnection(clock, userId, { streamId: 'b' }), 2);
      return { victim, keeper };
    }

    it("counts the new connection with its claim, removes the victim's claim and closes the victim evicted, the victim still counted", async () => {
      // Prepare
      const { victim, keeper } = await atTheLimit();
      const conn = newConnection(clock, userId, { streamId: 'c' });

      // Act
      const outcome = await store.evict(
        conn,
        evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 2 }),
      );

      // Assess
      // The victim holds its slot (ending) until its socket is closed: the caller uncounts it then.
      expect(outcome).toEqual({ kind: 'evicted' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper, unclaimed(victim), conn]));
      expect(await store.getConnection(victim.connectionId)).toEqual(closedItem(victim, 'evicted', conn.connectedAt));
      expect(await store.getConnection(conn.connectionId)).toEqual(openItem(conn));
    });

    it('evicts a victim holding no stream for a connection asking for none', async () => {
      // Prepare
      const victim = await admitted(newConnection(clock, userId), 1);
      const conn = newConnection(clock, userId);

      // Act
      const outcome = await store.evict(conn, evictOptions({ connectionId: victim.connectionId }, { defaultLimit: 1 }));

      // Assess
      expect(outcome).toEqual({ kind: 'evicted' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [victim, conn]));
    });

    it('evicts at the limit override rather than defaultLimit', async () => {
      // Prepare
      await store.setLimitOverride(userId, 1, { audit: audit(userId, clock.tick()) });
      const victim = await admitted(newConnection(clock, userId, { streamId: 'a' }), 5);
      const conn = newConnection(clock, userId);

      // Act
      const outcome = await store.evict(
        conn,
        evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 5 }),
      );

      // Assess
      expect(outcome).toEqual({ kind: 'evicted' });
      expect(await store.getCounter(userId)).toEqual(
        counterOf(userId, [unclaimed(victim), conn], { limitOverride: 1 }),
      );
    });

    it('answers changed with the counter when there is room (active below the limit)', async () => {
      // Prepare
      const { victim, keeper } = await atTheLimit();
      const conn = newConnection(clock, userId);

      // Act
      const outcome = await store.evict(
        conn,
        evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 3 }),
      );

      // Assess
      expect(outcome).toEqual({ kind: 'changed', counter: counterOf(userId, [victim, keeper]) });
      expect(await store.getConnection(victim.connectionId)).toEqual(openItem(victim));
      expect(await store.getConnection(conn.connectionId)).toBeUndefined();
    });

    it('answers changed when the user holds more than the limit (staff lowered it below the count)', async () => {
      // Prepare
      const { victim, keeper } = await atTheLimit();
      await store.setLimitOverride(userId, 1, { audit: audit(userId, clock.tick()) });

      // Act
      const outcome = await store.evict(
        newConnection(clock, userId),
        evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 2 }),
      );

      // Assess
      expect(outcome).toEqual({
        kind: 'changed',
        counter: counterOf(userId, [victim, keeper], { limitOverride: 1 }),
      });
    });

    it('answers changed when the default policy is block-new and the user has no override', async () => {
      // Prepare
      const { victim, keeper } = await atTheLimit();

      // Act
      const outcome = await store.evict(
        newConnection(clock, userId),
        evictOptions(
          { connectionId: victim.connectionId, streamId: 'a' },
          { defaultLimit: 2, defaultPolicy: 'block-new' },
        ),
      );

      // Assess
      expect(outcome).toEqual({ kind: 'changed', counter: counterOf(userId, [victim, keeper]) });
    });

    it('evicts when the policy override is evict-oldest though the default policy is block-new', async () => {
      // Prepare
      const { victim } = await atTheLimit();
      await store.setPolicyOverride(userId, 'evict-oldest', { audit: audit(userId, clock.tick()) });

      // Act
      const outcome = await store.evict(
        newConnection(clock, userId),
        evictOptions(
          { connectionId: victim.connectionId, streamId: 'a' },
          { defaultLimit: 2, defaultPolicy: 'block-new' },
        ),
      );

      // Assess
      expect(outcome).toEqual({ kind: 'evicted' });
    });

    it('answers changed when the policy override is block-new though the default policy is evict-oldest', async () => {
      // Prepare
      const { victim, keeper } = await atTheLimit();
      await store.setPolicyOverride(userId, 'block-new', { audit: audit(userId, clock.tick()) });

      // Act
      const outcome = await store.evict(
        newConnection(clock, userId),
        evictOptions(
          { connectionId: victim.connectionId, streamId: 'a' },
          { defaultLimit: 2, defaultPolicy: 'evict-oldest' },
        ),
      );

      // Assess
      expect(outcome).toEqual({
        kind: 'changed',
        counter: counterOf(userId, [victim, keeper], { policyOverride: 'block-new' }),
      });
    });

    it('answers changed when the victim is no longer counted', async () => {
      // Prepare: the victim released, and another connection admitted in its place
      const { victim, keeper } = await atTheLimit();
      await store.release(victim.connectionId, 'disconnected', clock.tick());
      const third = await admitted(newConnection(clock, userId), 2);

      // Act
      const outcome = await store.evict(
        newConnection(clock, userId),
        evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 2 }),
      );

      // Assess
      expect(outcome).toEqual({ kind: 'changed', counter: counterOf(userId, [keeper, third]) });
    });

    it("answers changed when the victim's stream id is not the one the counter says it holds", async () => {
      // Prepare
      const { victim, keeper } = await atTheLimit();

      // Act
      const outcome = await store.evict(
        newConnection(clock, userId),
        evictOptions({ connectionId: victim.connectionId, streamId: 'b' }, { defaultLimit: 2 }),
      );

      // Assess
      expect(outcome).toEqual({ kind: 'changed', counter: counterOf(userId, [victim, keeper]) });
    });

    it('answers changed when the new stream id is held by another connection than the victim', async () => {
      // Prepare
      const { victim, keeper } = await atTheLimit();

      // Act
      const outcome = await store.evict(
        newConnection(clock, userId, { streamId: 'b' }),
        evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 2 }),
      );

      // Assess
      expect(outcome).toEqual({ kind: 'changed', counter: counterOf(userId, [victim, keeper]) });
    });

    it('rejects an eviction for the very stream the victim holds (DynamoDB semantics)', async () => {
      // DynamoDB semantics: setting and removing the same claim in one update is a ValidationException
      // (overlapping document paths), not a failed condition. The core never asks it: makeRoom looks again
      // (a takeover) whenever the stream is held.
      // Prepare
      const { victim } = await atTheLimit();

      // Act
      const evicting = store.evict(
        newConnection(clock, userId, { streamId: 'a' }),
        evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 2 }),
      );

      // Assess
      await expect(evicting).rejects.toThrow(/overlap/);
    });

    it('answers victimEnding when the victim is still counted but its item was closed by closeItem', async () => {
      // Prepare
      const { victim, keeper } = await atTheLimit();
      await store.closeItem(victim.connectionId, 'kicked', clock.tick());
      const conn = newConnection(clock, userId);

      // Act
      const outcome = await store.evict(
        conn,
        evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 2 }),
      );

      // Assess
      expect(outcome).toEqual({ kind: 'victimEnding' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [victim, keeper]));
      expect(await store.getConnection(conn.connectionId)).toBeUndefined();
    });

    it('answers duplicate with the existing item when the new connection id was written before', async () => {
      // Prepare: a redelivered `$connect` of the connection that evicted already
      const { victim, keeper } = await atTheLimit();
      const conn = newConnection(clock, userId, { streamId: 'c' });
      const victimOf = { connectionId: victim.connectionId, streamId: 'a' };
      await store.evict(conn, evictOptions(victimOf, { defaultLimit: 2 }));

      // Act
      const outcome = await store.evict(redelivered(clock, conn), evictOptions(victimOf, { defaultLimit: 2 }));

      // Assess
      expect(outcome).toEqual({ kind: 'duplicate', existing: openItem(conn) });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper, unclaimed(victim), conn]));
    });

    it('evicts a counted victim whose item is gone', async () => {
      // Prepare
      const { victim, keeper } = await atTheLimit();
      await dropItem(victim.connectionId);
      const conn = newConnection(clock, userId);

      // Act
      const outcome = await store.evict(
        conn,
        evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 2 }),
      );

      // Assess
      expect(outcome).toEqual({ kind: 'evicted' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper, unclaimed(victim), conn]));
    });

    it('only one of two connections evicting the same victim at once evicts it', async () => {
      // Prepare
      const { victim } = await atTheLimit();
      const victimOf = { connectionId: victim.connectionId, streamId: 'a' };

      // Act
      const outcomes = await Promise.all(
        [newConnection(clock, userId), newConnection(clock, userId)].map((c) =>
          store.evict(c, evictOptions(victimOf, { defaultLimit: 2 })),
        ),
      );

      // Assess
      expect(outcomes.map((o) => o.kind).sort()).toEqual(['changed', 'evicted']);
      const counter = await store.getCounter(userId);
      expect(counter.active).toBe(3); // the victim still counted until its socket is closed
      expect(counter.counted.size).toBe(3);
    });
  });
}
