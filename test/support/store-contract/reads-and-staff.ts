/**
 * The store contract (index.ts), part: reads, staff overrides and history, and the sweep's index.
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
  freshId,
  MAX_CONNECTION_MS,
  newConnection,
  openItem,
} from './fixtures.js';

export function readsAndStaffContract(current: () => ContractState): void {
  // Set afresh before each test (index.ts): the store, a clock and a user of the test's own.
  let { store, dropItem, clock, userId } = {} as ContractState;
  beforeEach(() => ({ store, dropItem, clock, userId } = current()));
  const admitted = (conn: NewConnection, defaultLimit?: number) => admittedOn(store, conn, defaultLimit);

  describe('reads', () => {
    it('reads the counter of a user never seen as counting nothing, with no overrides', async () => {
      // Act
      const counter = await store.getCounter(userId);

      // Assess
      expect(counter).toEqual(counterOf(userId, []));
      expect(counter.limitOverride).toBeUndefined();
      expect(counter.policyOverride).toBeUndefined();
    });

    it('reads no connection for an id never written', async () => {
      // Act
      const connection = await store.getConnection(freshId('c'));

      // Assess
      expect(connection).toBeUndefined();
    });

    it('sorts the counted connections into open, ending and missing', async () => {
      // Prepare
      const open = await admitted(newConnection(clock, userId, { streamId: 'a' }));
      const ending = await admitted(newConnection(clock, userId, { streamId: 'b' }));
      const lost = await admitted(newConnection(clock, userId));
      const at = clock.tick();
      await store.closeItem(ending.connectionId, 'kicked', at);
      await dropItem(lost.connectionId);

      // Act
      const counted = await store.countedConnections(await store.getCounter(userId));

      // Assess
      expect(counted).toEqual({
        open: [openItem(open)],
        ending: [closedItem(ending, 'kicked', at)],
        missing: [lost.connectionId],
      });
    });

    it('reads only the connections the counter passed counts', async () => {
      // Prepare
      const before = await store.getCounter(userId);
      await admitted(newConnection(clock, userId));

      // Act
      const counted = await store.countedConnections(before);

      // Assess
      expect(counted).toEqual({ open: [], ending: [], missing: [] });
    });

    it('answers a ping', async () => {
      // Act
      const health = await store.ping(2_000);

      // Assess
      expect(health).toEqual({ ok: true });
    });
  });

  describe('staff overrides and history', () => {
    it('sets a limit override and answers the counter after it', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));

      // Act
      const counter = await store.setLimitOverride(userId, 5, { audit: audit(userId, clock.tick()) });

      // Assess
      expect(counter).toEqual(counterOf(userId, [conn], { limitOverride: 5 }));
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn], { limitOverride: 5 }));
    });

    it('clears a limit override', async () => {
      // Prepare
      await store.setLimitOverride(userId, 5, { audit: audit(userId, clock.tick()) });

      // Act
      const counter = await store.setLimitOverride(userId, undefined, {
        audit: audit(userId, clock.tick(), { action: 'clearLimit', detail: {} }),
      });

      // Assess
      expect(counter.limitOverride).toBeUndefined();
      expect((await store.getCounter(userId)).limitOverride).toBeUndefined();
    });

    it('writes a counter counting nothing for a user never seen, with the override', async () => {
      // Act
      const counter = await store.setLimitOverride(userId, 0, { audit: audit(userId, clock.tick()) });

      // Assess
      expect(counter).toEqual(counterOf(userId, [], { limitOverride: 0 }));
      expect(await store.repairCount(userId, { observed: 0, actual: 0 })).toBe(true);
    });

    it('writes the audit entry with the override', async () => {
      // Prepare
      const entry = audit(userId, clock.tick(), { detail: { limit: 5 } });

      // Act
      await store.setLimitOverride(userId, 5, { audit: entry });

      // Assess
      expect(await store.auditTrail(userId, { limit: 10 })).toEqual([entry]);
    });

    it('sets and clears a policy override, with its audit entries, answering the counter after each', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));
      const set = audit(userId, clock.tick(), { action: 'setPolicy', detail: { policy: 'evict-oldest' } });
      const cleared = audit(userId, clock.tick(), { action: 'setPolicy', detail: { policy: null } });

      // Act
      const afterSet = await store.setPolicyOverride(userId, 'evict-oldest', { audit: set });
      const afterClear = await store.setPolicyOverride(userId, undefined, { audit: cleared });

      // Assess
      expect(afterSet).toEqual(counterOf(userId, [conn], { policyOverride: 'evict-oldest' }));
      expect(afterClear).toEqual(counterOf(userId, [conn]));
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
      expect(await store.auditTrail(userId, { limit: 10 })).toEqual([cleared, set]);
    });

    it('keeps a policy override apart from a limit override', async () => {
      // Prepare
      await store.setLimitOverride(userId, 4, { audit: audit(userId, clock.tick()) });

      // Act
      const counter = await store.setPolicyOverride(userId, 'block-new', {
        audit: audit(userId, clock.tick(), { action: 'setPolicy' }),
      });

      // Assess
      expect(counter).toEqual(counterOf(userId, [], { limitOverride: 4, policyOverride: 'block-new' }));
    });

    it("reads a user's history newest first, at most limit entries, with their details", async () => {
      // Prepare
      const entries = [
        audit(userId, clock.tick(), { action: 'setLimit', detail: { limit: 2 } }),
        audit(userId, clock.tick(), {
          action: 'endConnection',
          staff: 'staff:bob',
          detail: { connectionId: 'c-1', streamId: 'match', device: null },
        }),
        audit(userId, clock.tick(), { action: 'clearLimit', detail: {} }),
      ];
      // written out of order: the history is ordered by `at`
      for (const i of [1, 0, 2]) await store.recordAudit(entries[i]!);

      // Act
      const all = await store.auditTrail(userId, { limit: 10 });
      const newest = await store.auditTrail(userId, { limit: 2 });

      // Assess
      expect(all).toEqual([entries[2], entries[1], entries[0]]);
      expect(newest).toEqual([entries[2], entries[1]]);
    });

    it("reads nothing of another user's history", async () => {
      // Prepare
      await store.recordAudit(audit(freshId('u'), clock.tick()));

      // Act
      const trail = await store.auditTrail(userId, { limit: 10 });

      // Assess
      expect(trail).toEqual([]);
    });

    it('keeps two entries of the same millisecond', async () => {
      // Prepare
      const at = clock.tick();
      await store.recordAudit(audit(userId, at, { staff: 'staff:alice' }));
      await store.recordAudit(audit(userId, at, { staff: 'staff:bob' }));

      // Act
      const trail = await store.auditTrail(userId, { limit: 10 });

      // Assess
      expect(trail.map((e) => e.staff).sort()).toEqual(['staff:alice', 'staff:bob']);
    });
  });

  describe('sweep index', () => {
    async function aged(window: { from: number; to: number }) {
      const found: Array<{ connectionId: string; userId: string; connectedAt: number }> = [];
      for await (const c of store.connectionsAged(window)) found.push(c);
      return found.sort((a, b) => a.connectedAt - b.connectedAt);
    }

    it('lists the open connections that connected in [from, to), of every user', async () => {
      // Prepare
      const other = freshId('u');
      const start = clock.now();
      const [early, from, inside, to] = [1_000, 2_000, 2_500, 3_000].map((t) =>
        newConnection(clock, t === 2_500 ? other : userId, { connectedAt: start + t }),
      );
      for (const c of [early!, from!, inside!, to!]) await admitted(c);

      // Act
      const found = await aged({ from: from!.connectedAt, to: to!.connectedAt });

      // Assess
      expect(found).toEqual(
        [from!, inside!].map(({ connectionId, userId, connectedAt }) => ({ connectionId, userId, connectedAt })),
      );
    });

    it('leaves out connections whose item is closed, however they were closed', async () => {
      // Prepare
      const kept = await admitted(newConnection(clock, userId, { streamId: 'kept' }));
      const kicked = await admitted(newConnection(clock, userId));
      const released = await admitted(newConnection(clock, userId));
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const victim = await admitted(newConnection(clock, userId, { streamId: 'v' }), 5);
      await store.closeItem(kicked.connectionId, 'kicked', clock.tick());
      await store.release(released.connectionId, 'disconnected', clock.tick());
      const taker = { ...newConnection(clock, userId), streamId: 'match' };
      await store.takeOver(taker, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });
      const evictor = newConnection(clock, userId);
      // At exactly the limit: kept, the kicked one (counted until uncounted), old and its taker, the victim.
      await store.evict(
        evictor,
        evictOptions({ connectionId: victim.connectionId, streamId: 'v' }, { defaultLimit: 5 }),
      );

      // Act
      const found = await aged({ from: 0, to: clock.tick() });

      // Assess
      expect(found.map((c) => c.connectionId)).toEqual([kept.connectionId, taker.connectionId, evictor.connectionId]);
    });

    it('lists nothing for an empty window', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));

      // Act
      const found = await aged({ from: conn.connectedAt, to: conn.connectedAt });

      // Assess
      expect(found).toEqual([]);
    });

    it('has no cursor before the first sweep', async () => {
      // Act
      const cursor = await store.sweptTo();

      // Assess
      expect(cursor).toBeUndefined();
    });

    it('moves the cursor forward', async () => {
      // Prepare
      await store.setSweptTo(1_000);

      // Act
      await store.setSweptTo(2_000);

      // Assess
      expect(await store.sweptTo()).toBe(2_000);
    });

    it('never moves the cursor back', async () => {
      // Prepare
      await store.setSweptTo(2_000);

      // Act
      await store.setSweptTo(1_000);

      // Assess
      expect(await store.sweptTo()).toBe(2_000);
    });
  });
}
