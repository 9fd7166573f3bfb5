/**
 * The store contract (index.ts), part: takeOver: handing a held stream id to a new connection, the old one's item
 * closed in the same write and the old one still counted (ending) until the caller uncounts it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { NewConnection } from '../../../core/store/items.js';
import {
  admittedOn,
  type ContractState,
  closedItem,
  counterOf,
  MAX_CONNECTION_MS,
  newConnection,
  openItem,
  redelivered,
} from './fixtures.js';

export function takeOverContract(current: () => ContractState): void {
  // Set afresh before each test (index.ts): the store, a clock and a user of the test's own.
  let { store, dropItem, clock, userId } = {} as ContractState;
  beforeEach(() => ({ store, dropItem, clock, userId } = current()));
  const admitted = (conn: NewConnection, defaultLimit?: number) => admittedOn(store, conn, defaultLimit);

  describe('takeOver', () => {
    it('moves the claim to the new connection and counts it, closes the old item takenOver, the old one still counted', async () => {
      // Prepare
      const other = await admitted(newConnection(clock, userId, { streamId: 'other' }));
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const conn = { ...newConnection(clock, userId), streamId: 'match' };

      // Act
      const outcome = await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Assess
      // The old one holds its slot (ending) until its socket is closed: the caller uncounts it then.
      expect(outcome).toEqual({ kind: 'tookOver' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [other, old, conn]));
      expect(await store.getConnection(old.connectionId)).toEqual(closedItem(old, 'takenOver', conn.connectedAt));
      expect(await store.getConnection(conn.connectionId)).toEqual(openItem(conn));
    });

    it('takes over at the limit', async () => {
      // Prepare
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }), 1);
      const conn = { ...newConnection(clock, userId), streamId: 'match' };

      // Act
      const outcome = await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Assess: over the limit by the old one until it is uncounted
      expect(outcome).toEqual({ kind: 'tookOver' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [old, conn]));
    });

    it('answers changed when the stream is held by another connection than heldBy', async () => {
      // Prepare
      const holder = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const bystander = await admitted(newConnection(clock, userId, { streamId: 'other' }));
      const conn = { ...newConnection(clock, userId), streamId: 'match' };

      // Act
      const outcome = await store.takeOver(conn, {
        heldBy: bystander.connectionId,
        maxConnectionMs: MAX_CONNECTION_MS,
      });

      // Assess
      expect(outcome).toEqual({ kind: 'changed' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [holder, bystander]));
      expect((await store.getConnection(bystander.connectionId))?.state).toBe('open');
      expect(await store.getConnection(conn.connectionId)).toBeUndefined();
    });

    it('answers changed when the stream is held by nobody', async () => {
      // Prepare
      const old = await admitted(newConnection(clock, userId));
      const conn = { ...newConnection(clock, userId), streamId: 'match' };

      // Act
      const outcome = await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Assess
      expect(outcome).toEqual({ kind: 'changed' });
    });

    it('answers changed when the holder is no longer counted though its item is open', async () => {
      // Prepare
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      await store.uncount(old);
      const conn = { ...newConnection(clock, userId), streamId: 'match' };

      // Act
      const outcome = await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Assess
      expect(outcome).toEqual({ kind: 'changed' });
      expect((await store.getConnection(old.connectionId))?.state).toBe('open');
    });

    it('answers heldByEnding when the holder is still counted but its item was closed by closeItem', async () => {
      // Prepare
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const closedAt = clock.tick();
      await store.closeItem(old.connectionId, 'kicked', closedAt);
      const conn = { ...newConnection(clock, userId), streamId: 'match' };

      // Act
      const outcome = await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Assess
      expect(outcome).toEqual({ kind: 'heldByEnding' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [old]));
      expect(await store.getConnection(old.connectionId)).toEqual(closedItem(old, 'kicked', closedAt));
      expect(await store.getConnection(conn.connectionId)).toBeUndefined();
    });

    it('answers changed, not heldByEnding, when the holder was closed and is no longer counted', async () => {
      // Prepare
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      await store.release(old.connectionId, 'disconnected', clock.tick());
      const conn = { ...newConnection(clock, userId), streamId: 'match' };

      // Act
      const outcome = await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Assess
      expect(outcome).toEqual({ kind: 'changed' });
    });

    it('answers duplicate with the existing item when the new connection id was written before', async () => {
      // Prepare: a redelivered `$connect` of the connection that took over already
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const conn = { ...newConnection(clock, userId), streamId: 'match' };
      await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Act
      const outcome = await store.takeOver(
        { ...redelivered(clock, conn), streamId: 'match' },
        { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS },
      );

      // Assess
      expect(outcome).toEqual({ kind: 'duplicate', existing: openItem(conn) });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [old, conn]));
    });

    it('answers duplicate when the new connection id has an item though the holder is as expected', async () => {
      // Prepare
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      const conn = await admitted(newConnection(clock, userId));

      // Act
      const outcome = await store.takeOver(
        { ...redelivered(clock, conn), streamId: 'match' },
        { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS },
      );

      // Assess
      expect(outcome).toEqual({ kind: 'duplicate', existing: openItem(conn) });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [old, conn]));
    });

    it('takes over from a counted holder whose item is gone', async () => {
      // Prepare
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      await dropItem(old.connectionId);
      const conn = { ...newConnection(clock, userId), streamId: 'match' };

      // Act
      const outcome = await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Assess
      expect(outcome).toEqual({ kind: 'tookOver' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [old, conn]));
    });

    it('leaves a closed takenOver tombstone for a holder whose item was gone (DynamoDB semantics)', async () => {
      // DynamoDB semantics: the close of the old item is an update allowed on a missing item, so it writes a
      // tombstone of its own: connectionId, state, closedAt and closeReason only (no userId, no times).
      // Prepare
      const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
      await dropItem(old.connectionId);
      const conn = { ...newConnection(clock, userId), streamId: 'match' };

      // Act
      await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

      // Assess
      expect(await store.getConnection(old.connectionId)).toMatchObject({
        connectionId: old.connectionId,
        state: 'closed',
        closedAt: conn.connectedAt,
        closeReason: 'takenOver',
      });
    });
  });
}
