/**
 * The store contract (index.ts), part: admit: counting a new connection under the limit, and every reason it is not
 * (a redelivered `$connect`, a held stream id, the limit).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { NewConnection } from '../../../core/store/items.js';
import {
  admitOptions,
  admittedOn,
  audit,
  type ContractState,
  closedItem,
  counterOf,
  freshId,
  newConnection,
  openItem,
  redelivered,
} from './fixtures.js';

export function admitContract(current: () => ContractState): void {
  // Set afresh before each test (index.ts): the store, a clock and a user of the test's own.
  let { store, clock, userId } = {} as ContractState;
  beforeEach(() => ({ store, clock, userId } = current()));
  const admitted = (conn: NewConnection, defaultLimit?: number) => admittedOn(store, conn, defaultLimit);

  describe('admit', () => {
    it('admits a connection under the limit and counts it with its connectedAt, openBy and stream claim', async () => {
      // Prepare
      const conn = newConnection(clock, userId, { streamId: 'match' });

      // Act
      const outcome = await store.admit(conn, admitOptions(2));

      // Assess
      expect(outcome).toEqual({ kind: 'admitted' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
    });

    it('writes the item open, with every field of the connection and lastSeenAt = connectedAt', async () => {
      // Prepare
      const conn = newConnection(clock, userId, {
        streamId: 'match',
        device: 'Living room TV',
        sourceIp: '203.0.113.7',
        userAgent: 'Player/1.0',
        planLimit: 4,
      });

      // Act
      await store.admit(conn, admitOptions(2));

      // Assess
      expect(await store.getConnection(conn.connectionId)).toEqual(openItem(conn));
    });

    it('claims no stream for a connection without a stream id', async () => {
      // Prepare
      const conn = newConnection(clock, userId);

      // Act
      const outcome = await store.admit(conn, admitOptions(2));

      // Assess
      expect(outcome).toEqual({ kind: 'admitted' });
      const counter = await store.getCounter(userId);
      expect(counter.streams).toEqual(new Map());
      expect([...counter.counted.keys()]).toEqual([conn.connectionId]);
    });

    it('refuses at the limit with limitReached and the counter as it was, writing nothing', async () => {
      // Prepare
      const first = await admitted(newConnection(clock, userId, { streamId: 'a' }), 2);
      const second = await admitted(newConnection(clock, userId), 2);
      const third = newConnection(clock, userId, { streamId: 'c' });

      // Act
      const outcome = await store.admit(third, admitOptions(2));

      // Assess
      expect(outcome).toEqual({ kind: 'limitReached', counter: counterOf(userId, [first, second]) });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [first, second]));
      expect(await store.getConnection(third.connectionId)).toBeUndefined();
    });

    it('holds the limit override above a lower defaultLimit', async () => {
      // Prepare
      await store.setLimitOverride(userId, 2, { audit: audit(userId, clock.tick()) });
      const first = await admitted(newConnection(clock, userId), 1);

      // Act
      const outcome = await store.admit(newConnection(clock, userId), admitOptions(1));

      // Assess
      expect(outcome).toEqual({ kind: 'admitted' });
      expect((await store.getCounter(userId)).counted.has(first.connectionId)).toBe(true);
      expect((await store.getCounter(userId)).active).toBe(2);
    });

    it('holds the limit override below a higher defaultLimit', async () => {
      // Prepare
      await store.setLimitOverride(userId, 1, { audit: audit(userId, clock.tick()) });
      const first = await admitted(newConnection(clock, userId), 5);

      // Act
      const outcome = await store.admit(newConnection(clock, userId), admitOptions(5));

      // Assess
      expect(outcome).toEqual({
        kind: 'limitReached',
        counter: counterOf(userId, [first], { limitOverride: 1 }),
      });
    });

    it('refuses every connection of a user whose limit override is 0', async () => {
      // Prepare
      await store.setLimitOverride(userId, 0, { audit: audit(userId, clock.tick()) });

      // Act
      const outcome = await store.admit(newConnection(clock, userId), admitOptions(3));

      // Assess
      expect(outcome).toEqual({ kind: 'limitReached', counter: counterOf(userId, [], { limitOverride: 0 }) });
    });

    it('refuses the first connection of a user never seen before when defaultLimit is 0', async () => {
      // Prepare: a plan limit of 0 (the token's streamLimit may be 0) and no counter item yet
      const conn = newConnection(clock, userId);

      // Act
      const outcome = await store.admit(conn, admitOptions(0));

      // Assess
      expect(outcome).toEqual({ kind: 'limitReached', counter: counterOf(userId, []) });
      expect((await store.getCounter(userId)).active).toBe(0);
    });

    it('answers streamHeld with the holder and the counter when the stream id is held, under the limit', async () => {
      // Prepare
      const holder = await admitted(newConnection(clock, userId, { streamId: 'match' }), 3);
      const conn = newConnection(clock, userId, { streamId: 'match' });

      // Act
      const outcome = await store.admit(conn, admitOptions(3));

      // Assess
      expect(outcome).toEqual({
        kind: 'streamHeld',
        heldBy: holder.connectionId,
        counter: counterOf(userId, [holder]),
      });
      expect(await store.getConnection(conn.connectionId)).toBeUndefined();
    });

    it('answers streamHeld rather than limitReached when the held stream is asked for at the limit', async () => {
      // Prepare
      const holder = await admitted(newConnection(clock, userId, { streamId: 'match' }), 1);

      // Act
      const outcome = await store.admit(newConnection(clock, userId, { streamId: 'match' }), admitOptions(1));

      // Assess
      expect(outcome).toEqual({
        kind: 'streamHeld',
        heldBy: holder.connectionId,
        counter: counterOf(userId, [holder]),
      });
    });

    it('lets another user hold the same stream id', async () => {
      // Prepare
      await admitted(newConnection(clock, userId, { streamId: 'match' }), 3);
      const other = freshId('u');

      // Act
      const outcome = await store.admit(newConnection(clock, other, { streamId: 'match' }), admitOptions(3));

      // Assess
      expect(outcome).toEqual({ kind: 'admitted' });
    });

    it('answers duplicate with the existing item for a connection id written before', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }), 3);

      // Act
      const outcome = await store.admit(redelivered(clock, conn), admitOptions(3));

      // Assess
      expect(outcome).toEqual({ kind: 'duplicate', existing: openItem(conn) });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
    });

    it('answers duplicate, not limitReached, for a connection id written before when the user is at the limit', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }), 1);

      // Act
      const outcome = await store.admit(redelivered(clock, conn), admitOptions(1));

      // Assess
      expect(outcome).toEqual({ kind: 'duplicate', existing: openItem(conn) });
    });

    it('answers duplicate with the closed item for a connection released before, and counts nothing', async () => {
      // Prepare
      const conn = await admitted(newConnection(clock, userId), 3);
      const at = clock.tick();
      await store.release(conn.connectionId, 'disconnected', at);

      // Act
      const outcome = await store.admit(redelivered(clock, conn), admitOptions(3));

      // Assess
      expect(outcome).toEqual({ kind: 'duplicate', existing: closedItem(conn, 'disconnected', at) });
      expect((await store.getCounter(userId)).active).toBe(0);
    });

    it('answers admitted again, counting once, to the very same admit sent twice (DynamoDB semantics)', async () => {
      // DynamoDB semantics: a retry of the same write (same connection, send time and round: the same
      // ClientRequestToken) is an idempotent replay within DynamoDB's 10 minutes, so it succeeds again.
      // Prepare
      const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }), 3);

      // Act
      const outcome = await store.admit(conn, admitOptions(3));

      // Assess
      expect(outcome).toEqual({ kind: 'admitted' });
      expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
    });

    it('answers duplicate to the same connection sent in a later round', async () => {
      // Prepare
      const conn = newConnection(clock, userId);
      await store.admit(conn, { ...admitOptions(3), round: 0 });

      // Act
      const outcome = await store.admit(conn, { ...admitOptions(3), round: 1 });

      // Assess
      expect(outcome).toEqual({ kind: 'duplicate', existing: openItem(conn) });
    });

    it('admits exactly the limit out of more connections admitted at once', async () => {
      // Prepare
      const conns = Array.from({ length: 5 }, () => newConnection(clock, userId));

      // Act
      const outcomes = await Promise.all(conns.map((c) => store.admit(c, admitOptions(2))));

      // Assess
      expect(outcomes.filter((o) => o.kind === 'admitted')).toHaveLength(2);
      expect(outcomes.filter((o) => o.kind === 'limitReached')).toHaveLength(3);
      const counter = await store.getCounter(userId);
      expect(counter.active).toBe(2);
      expect(counter.counted.size).toBe(2);
    });
  });
}
