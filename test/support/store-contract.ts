/**
 * The store contract (core/store/port.ts): every operation of `StreamStore`, every outcome and the conditions that
 * decide between them, declared once and run against each store (test/unit/memory-store.test.ts in memory,
 * test/integration/dynamodb-store.test.ts on DynamoDB Local), so both give the same answers to the core.
 *
 * Where the port leaves a case open and the two stores answer differently, the DynamoDB store's answer is the
 * contract (it is what runs): those tests say so in their name, `(DynamoDB semantics)`, and in a comment.
 *
 * Every test gets a store of its own from `makeStore` (an empty one: the sweep's cursor and index are global), and
 * uses fresh random user and connection ids besides, so that idempotency tokens never meet across tests.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LimitPolicy } from '../../core/policy.js';
import type {
  AuditRecord,
  CloseReason,
  ConnectionRecord,
  CounterRecord,
  NewConnection,
} from '../../core/store/items.js';
import type { AdmitOptions, EvictOptions, StreamStore } from '../../core/store/port.js';

export interface StoreUnderTest {
  /** an empty store */
  store: StreamStore;
  /** Deletes a connection's item and nothing else, as TTL or someone by hand does (a counted id without its item). */
  dropItem(connectionId: string): Promise<void>;
}

export interface ContractOptions {
  /** runs of the property over random sequences of operations */
  propertyRuns: number;
  /** the most operations in one sequence */
  propertySteps?: number;
}

const MAX_CONNECTION_MS = 7_200_000;
const OPENING_WINDOW_MS = 5_000;
const LEASE_MS = 300_000;

/** Ids no other test (and no other run of the property) uses. */
function freshId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/**
 * A clock for one test: each connection connects a second after the one before (distinct `openBy`, so tokens). It
 * starts now, not at a fixed past time: items carry a TTL computed from their times, and DynamoDB Local does delete
 * expired items, in the background, whenever it gets to them.
 */
function makeClock(start = Date.now()) {
  let now = start;
  return { tick: (ms = 1_000) => (now += ms), now: () => now };
}

type Clock = ReturnType<typeof makeClock>;

function newConnection(
  clock: Clock,
  userId: string,
  fields: Partial<Omit<NewConnection, 'userId'>> = {},
): NewConnection & { streamId?: string } {
  const connectedAt = fields.connectedAt ?? clock.tick();
  return {
    connectionId: freshId('c'),
    userId,
    connectedAt,
    openBy: connectedAt + OPENING_WINDOW_MS,
    leaseExpiresAt: connectedAt + LEASE_MS,
    ...fields,
  };
}

/** The same `$connect` delivered again: same connection, written anew (a later send, so a later `openBy`). */
function redelivered(clock: Clock, conn: NewConnection): NewConnection {
  return { ...conn, openBy: clock.tick() + OPENING_WINDOW_MS };
}

function admitOptions(defaultLimit: number): AdmitOptions {
  return { defaultLimit, maxConnectionMs: MAX_CONNECTION_MS };
}

function evictOptions(
  victim: EvictOptions['victim'],
  fields: { defaultLimit: number; defaultPolicy?: LimitPolicy },
): EvictOptions {
  return {
    victim,
    defaultLimit: fields.defaultLimit,
    defaultPolicy: fields.defaultPolicy ?? 'evict-oldest',
    maxConnectionMs: MAX_CONNECTION_MS,
  };
}

/** The item a connection is written as when counted. */
function openItem(conn: NewConnection): ConnectionRecord {
  return { ...conn, lastSeenAt: conn.connectedAt, state: 'open' };
}

function closedItem(conn: NewConnection, reason: CloseReason, at: number): ConnectionRecord {
  return { ...openItem(conn), state: 'closed', closedAt: at, closeReason: reason };
}

/** The counter that counts exactly `members` (with their claims), as `getCounter` returns it. */
function counterOf(
  userId: string,
  members: NewConnection[],
  extra: { active?: number; limitOverride?: number; policyOverride?: LimitPolicy } = {},
): CounterRecord {
  const counter: CounterRecord = {
    userId,
    active: extra.active ?? members.length,
    counted: new Map(members.map((m) => [m.connectionId, m.connectedAt])),
    openBy: new Map(members.flatMap((m) => (m.openBy === undefined ? [] : [[m.connectionId, m.openBy]]))),
    streams: new Map(members.flatMap((m) => (m.streamId ? [[m.streamId, m.connectionId]] : []))),
  };
  if (extra.limitOverride !== undefined) counter.limitOverride = extra.limitOverride;
  if (extra.policyOverride !== undefined) counter.policyOverride = extra.policyOverride;
  return counter;
}

function audit(userId: string, at: number, fields: Partial<AuditRecord> = {}): AuditRecord {
  return { userId, at, staff: 'staff:alice', action: 'setLimit', detail: { limit: 2 }, ...fields };
}

export function describeStoreContract(
  name: string,
  makeStore: () => StoreUnderTest | Promise<StoreUnderTest>,
  options: ContractOptions,
): void {
  describe(`${name} store contract`, () => {
    let store: StreamStore;
    let dropItem: StoreUnderTest['dropItem'];
    let clock: Clock;
    let userId: string;

    beforeEach(async () => {
      ({ store, dropItem } = await makeStore());
      clock = makeClock();
      userId = freshId('u');
    });

    /** Admits `conn` and fails the test unless it was admitted. */
    async function admitted(conn: NewConnection, defaultLimit = 10): Promise<NewConnection> {
      expect(await store.admit(conn, admitOptions(defaultLimit))).toEqual({ kind: 'admitted' });
      return conn;
    }

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

    describe('takeOver', () => {
      it('moves the claim and the member to the new connection, closes the old item takenOver, active unchanged', async () => {
        // Prepare
        const other = await admitted(newConnection(clock, userId, { streamId: 'other' }));
        const old = await admitted(newConnection(clock, userId, { streamId: 'match' }));
        const conn = { ...newConnection(clock, userId), streamId: 'match' };

        // Act
        const outcome = await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

        // Assess
        expect(outcome).toEqual({ kind: 'tookOver' });
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [other, conn]));
        expect(await store.getConnection(old.connectionId)).toEqual(closedItem(old, 'takenOver', conn.connectedAt));
        expect(await store.getConnection(conn.connectionId)).toEqual(openItem(conn));
      });

      it('takes over at the limit', async () => {
        // Prepare
        const old = await admitted(newConnection(clock, userId, { streamId: 'match' }), 1);
        const conn = { ...newConnection(clock, userId), streamId: 'match' };

        // Act
        const outcome = await store.takeOver(conn, { heldBy: old.connectionId, maxConnectionMs: MAX_CONNECTION_MS });

        // Assess
        expect(outcome).toEqual({ kind: 'tookOver' });
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
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
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
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
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
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

    describe('evict', () => {
      /** Two connections admitted at a limit of 2, the first holding `a`, the second `b`. */
      async function atTheLimit() {
        const victim = await admitted(newConnection(clock, userId, { streamId: 'a' }), 2);
        const keeper = await admitted(newConnection(clock, userId, { streamId: 'b' }), 2);
        return { victim, keeper };
      }

      it('swaps the victim for the new connection, members and claims, and closes the victim evicted', async () => {
        // Prepare
        const { victim, keeper } = await atTheLimit();
        const conn = newConnection(clock, userId, { streamId: 'c' });

        // Act
        const outcome = await store.evict(
          conn,
          evictOptions({ connectionId: victim.connectionId, streamId: 'a' }, { defaultLimit: 2 }),
        );

        // Assess
        expect(outcome).toEqual({ kind: 'evicted' });
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper, conn]));
        expect(await store.getConnection(victim.connectionId)).toEqual(closedItem(victim, 'evicted', conn.connectedAt));
        expect(await store.getConnection(conn.connectionId)).toEqual(openItem(conn));
      });

      it('evicts a victim holding no stream for a connection asking for none', async () => {
        // Prepare
        const victim = await admitted(newConnection(clock, userId), 1);
        const conn = newConnection(clock, userId);

        // Act
        const outcome = await store.evict(
          conn,
          evictOptions({ connectionId: victim.connectionId }, { defaultLimit: 1 }),
        );

        // Assess
        expect(outcome).toEqual({ kind: 'evicted' });
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn]));
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
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [conn], { limitOverride: 1 }));
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
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper, conn]));
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
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper, conn]));
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
        expect(counter.active).toBe(2);
        expect(counter.counted.size).toBe(2);
      });
    });

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
      it('stops counting the connection: member and claim removed, active one lower', async () => {
        // Prepare
        const keeper = await admitted(newConnection(clock, userId, { streamId: 'other' }));
        const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));

        // Act
        const uncounted = await store.uncount(conn);

        // Assess
        expect(uncounted).toBe(true);
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper]));
      });

      it('leaves the item as it is', async () => {
        // Prepare
        const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));

        // Act
        await store.uncount(conn);

        // Assess
        expect(await store.getConnection(conn.connectionId)).toEqual(openItem(conn));
      });

      it('answers false the second time, changing nothing', async () => {
        // Prepare
        const keeper = await admitted(newConnection(clock, userId));
        const conn = await admitted(newConnection(clock, userId, { streamId: 'match' }));
        await store.uncount(conn);

        // Act
        const uncounted = await store.uncount(conn);

        // Assess
        expect(uncounted).toBe(false);
        expect(await store.getCounter(userId)).toEqual(counterOf(userId, [keeper]));
      });

      it('answers false for a user never seen', async () => {
        // Act
        const uncounted = await store.uncount({ userId, connectionId: freshId('c'), streamId: 'match' });

        // Assess
        expect(uncounted).toBe(false);
      });

      it('answers true to exactly one of two calls at once', async () => {
        // Prepare
        const conn = await admitted(newConnection(clock, userId));

        // Act
        const results = await Promise.all([store.uncount(conn), store.uncount(conn)]);

        // Assess
        expect(results.sort()).toEqual([false, true]);
        expect((await store.getCounter(userId)).active).toBe(0);
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
        await store.evict(
          evictor,
          evictOptions({ connectionId: victim.connectionId, streamId: 'v' }, { defaultLimit: 4 }),
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

    describe('any sequence of operations', () => {
      it('keeps active equal to the members, every claim on a member, every member with its item, active within the limit', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: options.propertySteps ?? 12 }), (ops) =>
            checkSequence(store, ops),
          ),
          { numRuns: options.propertyRuns },
        );
      });
    });
  });
}

// ---- The property: random sequential operations on two users, invariants after each step ----

const USERS = 2;
const STREAMS = 3;
/** each user's limit when it has no override */
const DEFAULT_LIMITS = [1, 2];

const user = fc.integer({ min: 0, max: USERS - 1 });
const streamIndex = fc.integer({ min: 0, max: STREAMS - 1 });
/** a stream id, or none */
const maybeStream = fc.option(streamIndex, { nil: undefined });
/** one of the connections written so far (any user's), by position; or, rarely, one never written */
const pick = fc.oneof({ arbitrary: fc.nat(), weight: 9 }, { arbitrary: fc.constant('unwritten' as const), weight: 1 });
/** the new connection: a new id, or, rarely, one of the user's written before (a redelivered `$connect`) */
const newOrAgain = fc.oneof({ arbitrary: fc.constant('new' as const), weight: 9 }, { arbitrary: fc.nat(), weight: 1 });

const operation = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant('admit' as const), user, conn: newOrAgain, stream: maybeStream }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('takeOver' as const),
      user,
      conn: newOrAgain,
      /** `held`: one of the streams the user's counter shows held (by position), else a stream by index */
      stream: fc.oneof(fc.record({ held: fc.nat() }), streamIndex),
      /** `holder`: the connection the counter says holds the stream; else any written connection */
      heldBy: fc.oneof(fc.constant('holder' as const), pick),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('evict' as const),
      user,
      conn: newOrAgain,
      stream: maybeStream,
      /** `oldest`: the user's oldest member (as eviction.ts would rank it without activity), else any written */
      victim: fc.oneof(fc.constant('oldest' as const), pick),
      /** `held`: the stream the counter says the victim holds (as eviction.ts passes it), else a stream by index */
      victimStream: fc.oneof(fc.constant('held' as const), streamIndex),
      policy: fc.constantFrom<LimitPolicy>('evict-oldest', 'block-new'),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('closeItem' as const), target: pick }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('uncount' as const), target: pick }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('release' as const), target: pick }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('releaseGhosts' as const),
      user,
      /** which of the user's members (bit i: the i-th), and maybe one written connection besides */
      members: fc.nat({ max: 255 }),
      besides: fc.option(pick, { nil: undefined }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant('forgetMissing' as const), target: pick }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('setLimitOverride' as const),
      user,
      limit: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    }),
    weight: 1,
  },
);

type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never;

/**
 * Applies `ops` in order, to users and connections of this run only, and checks the invariants of the touched
 * user's counter after each step. Combinations the core never sends and DynamoDB rejects as invalid (the same
 * connection on both sides of a swap, a claim set and removed in one eviction) are skipped.
 */
async function checkSequence(store: StreamStore, ops: Operation[]): Promise<void> {
  const run = freshId('p');
  const users = Array.from({ length: USERS }, (_, i) => `${run}-u${i}`);
  const streams = Array.from({ length: STREAMS }, (_, i) => `s${i}`);
  const clock = makeClock();
  /** every connection id used so far, with its user and stream */
  const written: NewConnection[] = [];
  const unwritten = (): NewConnection => newConnection(clock, users[0]!, { connectionId: `${run}-never` });
  const target = (p: number | 'unwritten') =>
    p === 'unwritten' || written.length === 0 ? unwritten() : written[p % written.length]!;
  const connect = (u: number, again: number | 'new', stream?: string): NewConnection => {
    const mine = written.filter((c) => c.userId === users[u]);
    if (again !== 'new' && mine.length > 0) {
      const before = mine[again % mine.length]!;
      const connectedAt = clock.tick();
      return { ...before, connectedAt, openBy: connectedAt + OPENING_WINDOW_MS, streamId: stream };
    }
    const conn = newConnection(clock, users[u]!, { connectionId: `${run}-c${written.length}`, streamId: stream });
    written.push(conn);
    return conn;
  };
  /** the connection as the caller would read it, or as it was written */
  const known = async (conn: NewConnection) => (await store.getConnection(conn.connectionId)) ?? conn;

  for (const [step, o] of ops.entries()) {
    const first = 'target' in o ? target(o.target) : undefined;
    const userId = first?.userId ?? users['user' in o ? o.user : 0]!;
    const u = users.indexOf(userId);
    const defaultLimit = DEFAULT_LIMITS[u]!;
    const before = await store.getCounter(userId);
    const what = `step ${step}: ${JSON.stringify(o)}`;
    switch (o.op) {
      case 'admit':
        await store.admit(
          connect(u, o.conn, o.stream === undefined ? undefined : streams[o.stream]),
          admitOptions(defaultLimit),
        );
        break;
      case 'takeOver': {
        const held = [...before.streams.keys()];
        const streamId = typeof o.stream === 'number' ? streams[o.stream]! : held[o.stream.held % held.length];
        if (streamId === undefined) continue;
        const heldBy = o.heldBy === 'holder' ? before.streams.get(streamId) : target(o.heldBy).connectionId;
        const conn = connect(u, o.conn, streamId);
        if (heldBy === undefined || heldBy === conn.connectionId) continue;
        await store.takeOver({ ...conn, streamId }, { heldBy, maxConnectionMs: MAX_CONNECTION_MS });
        break;
      }
      case 'evict': {
        const oldest = [...before.counted].sort((a, b) => a[1] - b[1])[0]?.[0];
        const victim = o.victim === 'oldest' ? oldest : target(o.victim).connectionId;
        const stream = o.stream === undefined ? undefined : streams[o.stream];
        const held = [...before.streams].find(([, holder]) => holder === victim)?.[0];
        const victimStream = o.victimStream === 'held' ? held : streams[o.victimStream];
        const conn = connect(u, o.conn, stream);
        if (victim === undefined || victim === conn.connectionId) continue;
        if (stream !== undefined && stream === victimStream) continue;
        await store.evict(
          conn,
          evictOptions({ connectionId: victim, streamId: victimStream }, { defaultLimit, defaultPolicy: o.policy }),
        );
        break;
      }
      case 'closeItem':
        await store.closeItem(first!.connectionId, 'kicked', clock.tick());
        break;
      case 'uncount':
        await store.uncount(await known(first!));
        break;
      case 'release':
        await store.release(first!.connectionId, 'disconnected', clock.tick());
        break;
      case 'releaseGhosts': {
        const ghosts = [...before.counted.keys()].filter((_, i) => (o.members >> i) & 1);
        const besides = o.besides === undefined ? undefined : target(o.besides);
        if (besides?.userId === userId && !ghosts.includes(besides.connectionId)) ghosts.push(besides.connectionId);
        if (ghosts.length === 0) continue;
        await store.releaseGhosts(before, ghosts, clock.tick());
        break;
      }
      case 'forgetMissing':
        await store.forgetMissing(before, first!.connectionId);
        break;
      case 'setLimitOverride':
        await store.setLimitOverride(userId, o.limit, { audit: audit(userId, clock.tick()) });
        break;
    }

    const after = await store.getCounter(userId);
    expect(after.active, `${what}: active equals the members`).toBe(after.counted.size);
    for (const [streamId, holder] of after.streams) {
      expect(after.counted.has(holder), `${what}: claim ${streamId} is on a member`).toBe(true);
    }
    const counted = await store.countedConnections(after);
    expect(counted.missing, `${what}: every member has its item`).toEqual([]);
    for (const item of [...counted.open, ...counted.ending]) {
      expect(item.userId, `${what}: every member's item is the user's`).toBe(userId);
    }
    if (after.active > before.active) {
      const limit = after.limitOverride ?? defaultLimit;
      expect(after.active, `${what}: active grows only up to the limit`).toBeLessThanOrEqual(limit);
    }
    if (o.op === 'takeOver' || o.op === 'evict') {
      expect(after.active, `${what}: a swap leaves active as it was`).toBe(before.active);
    }
  }
}
