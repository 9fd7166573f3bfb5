/**
 * The store contract, part: any sequence of operations on two users keeps every invariant (active equals the members,
 * every claim on a member, every member with its item, active within the limit), checked after each step.
 */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LimitPolicy } from '../../../core/policy.js';
import type { NewConnection } from '../../../core/store/items.js';
import type { CountedConnections, StreamStore } from '../../../core/store/port.js';
import {
  admitOptions,
  audit,
  type ContractOptions,
  type ContractState,
  evictOptions,
  freshId,
  MAX_CONNECTION_MS,
  makeClock,
  newConnection,
  OPENING_WINDOW_MS,
} from './fixtures.js';

export function sequenceContract(current: () => ContractState, options: ContractOptions): void {
  // Set afresh before each test (index.ts): the store, a clock and a user of the test's own.
  let { store } = {} as ContractState;
  beforeEach(() => ({ store } = current()));

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
    const countedBefore = await store.countedConnections(before);
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
    // What may open grows only up to the limit: the count without ending members (closed items still counted, which
    // a takeover or an eviction leaves until their sockets are closed).
    const limit = after.limitOverride ?? defaultLimit;
    const opening = (c: CountedConnections) => c.open.length;
    if (opening(counted) > opening(countedBefore) && after.active > before.active) {
      expect(opening(counted), `${what}: open members grow only up to the limit`).toBeLessThanOrEqual(limit);
    }
    if (o.op === 'takeOver' || o.op === 'evict') {
      const grew = after.active - before.active;
      expect(grew, `${what}: a swap counts the new one and keeps the old one until uncounted`).toBeLessThanOrEqual(1);
    }
  }
}
