/**
 * The store contract (index.ts), part: ending a connection: closeItem (a teller's first step), uncount, and release
 * (a socket gone for sure).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { NewConnection } from '../../../core/store/items.js';
import {
  admittedOn,
  type ContractState,
  closedItem,
  counterOf,
  freshId,
  MAX_CONNECTION_MS,
  newConnection,
  openItem,
} from './fixtures.js';

export function endingsContract(current: () => ContractState): void {
  // Set afresh before each test (index.ts): the store, a clock and a user of the test's own.
  let { store, dropItem, clock, userId } = {} as ContractState;
  beforeEach(() => ({ store, dropItem, clock, userId } = current()));
  const admitted = (conn: NewConnection, defaultLimit?: number) => admittedOn(store, conn, defaultLimit);

  describe('closeItem', () => {
    it('closes an open item once and answers released with the connection as closed', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const at = clock.tick();

      // Act
      const outcome = await store.closeItem(conn.connectionId, 'kicked', at);

      // Assess
      expect(outcome).toEqual({ kind: 'released', connection: closedItem(conn, 'kicked', at) });
      expect(await store.getConnection(conn.connectionId)).toEqual(closedItem(conn, 'kicked', at));
    });

    it('leaves the connection counted, with its stream claim', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));

      // Act
      await store.closeItem(conn.connectionId, 'kicked', clock.tick());

      // Assess
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
    });

    it('answers alreadyReleased to the second call, keeping the first reason', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));
      const at = clock.tick();
      await store.closeItem(conn.connectionId, 'kicked', at);

      // Act
      const outcome = await store.closeItem(conn.connectionId, 'endedByUser', clock.tick());

      // Assess
      expect(outcome).toEqual({ kind: 'alreadyReleased', connection: closedItem(conn, 'kicked', at) });
      expect(await store.getConnection(conn.connectionId)).toEqual(closedItem(conn, 'kicked', at));
    });

    it('answers unknown for a connection id with no item', async () => {
      // Act
      const outcome = await store.closeItem(freshId('c'), 'kicked', clock.tick());

      // Assess
      expect(outcome).toEqual({ kind: 'unknown' });
    });

    it('answers alreadyReleased with the known connection when the item was closed since it was read', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));
      const known = await store.getConnection(conn.connectionId);
      const at = clock.tick();
      await store.closeItem(conn.connectionId, 'kicked', at);

      // Act
      const outcome = await store.closeItem(conn.connectionId, 'endedByUser', clock.tick(), known);

      // Assess
      expect(outcome).toEqual({ kind: 'alreadyReleased', connection: openItem(conn) });
      expect(await store.getConnection(conn.connectionId)).toEqual(closedItem(conn, 'kicked', at));
    });

    it('answers alreadyReleased without writing when the known connection is closed, whatever the item says', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));
      const known = closedItem(conn, 'kicked', clock.tick());

      // Act
      const outcome = await store.closeItem(conn.connectionId, 'endedByUser', clock.tick(), known);

      // Assess
      expect(outcome).toEqual({ kind: 'alreadyReleased', connection: known });
      expect(await store.getConnection(conn.connectionId)).toEqual(openItem(conn));
    });

    it('answers alreadyReleased, writing no item, when the known connection has no item any more', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));
      const known = await store.getConnection(conn.connectionId);
      await dropItem(conn.connectionId);

      // Act
      const outcome = await store.closeItem(conn.connectionId, 'kicked', clock.tick(), known);

      // Assess
      expect(outcome).toEqual({ kind: 'alreadyReleased', connection: openItem(conn) });
      expect(await store.getConnection(conn.connectionId)).toBeUndefined();
    });

    it('answers released to exactly one of two calls at once', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));

      // Act
      const outcomes = await Promise.all([
        store.closeItem(conn.connectionId, 'kicked', clock.tick()),
        store.closeItem(conn.connectionId, 'endedByUser', clock.tick()),
      ]);

      // Assess
      expect(outcomes.map((o) => o.kind).sort()).toEqual(['alreadyReleased', 'released']);
    });
  });

  describe('uncount', () => {
    it('stops counting the connection: member and claim removed, active one lower, the counter after it answered', async () => {
      // Prepare
      const keeper = await admitted(newConnection(clock, userId, { streamId: 'other' }));
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));

      // Act
      const uncounted = await store.uncount(conn);

      // Assess
      expect(uncounted).toEqual(counterOf(userId, [keeper]));
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper]));
    });

    it('leaves a claim that moved on to a newer connection (a takeover) with that one', async () => {
      // Prepare: taken over, the old one still counted until its socket is closed
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const conn = { ...newConnection(clock, userId), streamId: 'match' };
      await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Act
      const uncounted = await store.uncount(old);

      // Assess
      expect(uncounted).toEqual(counterOf(userId, [conn]));
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
    });

    it('leaves the item as it is', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));

      // Act
      await store.uncount(conn);

      // Assess
      expect(await store.getConnection(conn.connectionId)).toEqual(openItem(conn));
    });

    it('answers nothing the second time, changing nothing', async () => {
      // Prepare
      const keeper = await admitted(newConnection(clock, userId));
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      await store.uncount(conn);

      // Act
      const uncounted = await store.uncount(conn);

      // Assess
      expect(uncounted).toBeUndefined();
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper]));
    });

    it('answers nothing for a user never seen', async () => {
      // Act
      const uncounted = await store.uncount({ userId, connectionId: freshId('c'), streamId: 'match' });

      // Assess
      expect(uncounted).toBeUndefined();
    });

    it('answers the counter to exactly one of two calls at once', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId));

      // Act
      const results = await Promise.all([store.uncount(conn), store.uncount(conn)]);

      // Assess
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect((await store.getCounter(userId)).active).toBe(0);
    });
  });

  describe('hold', () => {
    it('marks an open resume connection held until the given time, leaving it open and counted with its claim', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match', resume: true }));
      const until = clock.tick() + 10_000;

      // Act
      const held = await store.hold(conn.connectionId, until);

      // Assess
      expect(held).toBe(true);
      expect(await store.getConnection(conn.connectionId)).toEqual({ ...openItem(conn), heldUntil: until });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
    });

    it('answers false to a second hold and keeps the first end of the hold', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { resume: true }));
      const until = clock.tick() + 10_000;
      await store.hold(conn.connectionId, until);

      // Act
      const again = await store.hold(conn.connectionId, until + 5_000);

      // Assess
      expect(again).toBe(false);
      expect((await store.getConnection(conn.connectionId))?.heldUntil).toBe(until);
    });

    it('answers false for an item a teller closed, and writes nothing', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { resume: true }));
      const at = clock.tick();
      await store.closeItem(conn.connectionId, 'kicked', at);

      // Act
      const held = await store.hold(conn.connectionId, at + 10_000);

      // Assess
      expect(held).toBe(false);
      expect(await store.getConnection(conn.connectionId)).toEqual(closedItem(conn, 'kicked', at));
    });
  });

  describe('release', () => {
    it('closes the item and stops counting it, answering released with the connection as closed', async () => {
      // Prepare
      const keeper = await admitted(newConnection(clock, userId, { streamId: 'other' }));
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const at = clock.tick();

      // Act
      const outcome = await store.release(conn.connectionId, 'disconnected', at);

      // Assess
      expect(outcome).toEqual({ kind: 'released', connection: closedItem(conn, 'disconnected', at) });
      expect(await store.getConnection(conn.connectionId)).toEqual(closedItem(conn, 'disconnected', at));
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper]));
    });

    it('answers alreadyReleased the second time, changing nothing', async () => {
      // Prepare
      const keeper = await admitted(newConnection(clock, userId));
      const conn = await admitted(newConnection(clock, userId));
      const at = clock.tick();
      await store.release(conn.connectionId, 'disconnected', at);

      // Act
      const outcome = await store.release(conn.connectionId, 'swept', clock.tick());

      // Assess
      expect(outcome).toEqual({ kind: 'alreadyReleased', connection: closedItem(conn, 'disconnected', at) });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper]));
    });

    it('answers unknown for a connection id with no item', async () => {
      // Act
      const outcome = await store.release(freshId('c'), 'disconnected', clock.tick());

      // Assess
      expect(outcome).toEqual({ kind: 'unknown' });
    });

    it('uncounts an ending connection (closed by closeItem, still counted), answering alreadyReleased', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const at = clock.tick();
      await store.closeItem(conn.connectionId, 'kicked', at);

      // Act
      const outcome = await store.release(conn.connectionId, 'disconnected', clock.tick());

      // Assess
      expect(outcome).toEqual({ kind: 'alreadyReleased', connection: closedItem(conn, 'kicked', at) });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, []));
    });

    it('releases with the known connection as the caller read it', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const known = await store.getConnection(conn.connectionId);
      const at = clock.tick();

      // Act
      const outcome = await store.release(conn.connectionId, 'kicked', at, known);

      // Assess
      expect(outcome).toEqual({ kind: 'released', connection: closedItem(conn, 'kicked', at) });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, []));
    });

    it('answers released to exactly one of two releases at once, and uncounts once', async () => {
      // Prepare
      const keeper = await admitted(newConnection(clock, userId));
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));

      // Act
      const outcomes = await Promise.all([
        store.release(conn.connectionId, 'disconnected', clock.tick()),
        store.release(conn.connectionId, 'kicked', clock.tick()),
      ]);

      // Assess
      expect(outcomes.map((o) => o.kind).sort()).toEqual(['alreadyReleased', 'released']);
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper]));
    });
  });
}
