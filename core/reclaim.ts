/**
 * Ghosts: connections still counted whose socket is gone because `$disconnect` was lost, or whose handshake
 * never completed. They are released when a user is refused (only then, so the happy path costs nothing) and by
 * the periodic sweep.
 */
import {
  type Clock,
  chase,
  DEFAULT_RESUME_HOLD_MS,
  endingWaitUntil,
  isHeld,
  type LifecycleTimes,
  openByOf,
  realClock,
} from './lifecycle.js';
import { forEachLimited } from './limiter.js';
import type { ConnectionGateway, CoreEvents, Liveness, Logger } from './ports.js';
import type { ConnectionRecord, CounterRecord } from './store/items.js';
import type { StreamStore } from './store/port.js';

export interface GhostDeps extends LifecycleTimes {
  store: StreamStore;
  gateway: ConnectionGateway;
  leaseMs: number;
  maxConnectionMs: number;
  /** real unless a test gives a virtual one */
  clock?: Clock;
  logger: Logger;
  /** told about each ghost reclaimed (for metrics) */
  events?: CoreEvents;
  /** RESUME_HOLD_SECONDS (lifecycle.ts, DEFAULT_RESUME_HOLD_MS when unset) */
  resumeHoldMs?: number;
}

/**
 * A `resume` connection found gone for good and not held yet: held now rather than released (lifecycle.ts, held). Its
 * `$disconnect` may be on its way (it would hold it) or lost; either way its player may be reconnecting, and releasing
 * it here would give its place to another device in the moment before. Whether or not this write wins, the slot is not
 * free now.
 */
async function holdFound(deps: GhostDeps, c: ConnectionRecord): Promise<boolean> {
  if (!c.resume || c.heldUntil !== undefined) return false;
  const now = (deps.clock ?? realClock).now();
  await deps.store.hold(c.connectionId, now + (deps.resumeHoldMs ?? DEFAULT_RESUME_HOLD_MS));
  return true;
}

/** What API Gateway says of a connection; `unknown` when GetConnection itself failed. */
type Answer = Liveness | 'unknown';

async function ask(deps: GhostDeps, connectionId: string): Promise<Answer> {
  try {
    return await deps.gateway.probe(connectionId);
  } catch (error) {
    deps.logger.warn('GetConnection failed; the connection is kept', { connectionId, error: String(error) });
    return 'unknown';
  }
}

type Judged = Pick<ConnectionRecord, 'connectionId' | 'connectedAt' | 'openBy' | 'handshakeAt'>;

/**
 * What API Gateway says of a counted connection, by the one rule for 410 (lifecycle.ts): `alive` once known, `gone`
 * once a question asked after its `openBy` gets 410 (or past API Gateway's hard 2-hour limit, whatever the answer), and
 * `undecided` when the caller's deadline came first or API Gateway could not answer (nothing is decided on a guess).
 * A connection still opening is asked again at the chase cadence. No time here rests on the store: `$connect`
 * enforces `openBy` on itself.
 */
export async function knownOrPast(
  deps: GhostDeps,
  c: Judged,
  giveUpAt = Number.POSITIVE_INFINITY,
): Promise<'alive' | 'gone' | 'undecided'> {
  const clock = deps.clock ?? realClock;
  if (clock.now() - c.connectedAt > deps.maxConnectionMs) return 'gone';
  const openBy = openByOf(c, deps);
  const answer = await chase(
    clock,
    Math.min(openBy, giveUpAt),
    () => ask(deps, c.connectionId),
    (a) => a !== 'gone',
  );
  if (answer === 'alive') return 'alive';
  // A 410 ends the chase only once asked after its end: final if that end was the connection's own `openBy`.
  return answer === 'gone' && openBy <= giveUpAt ? 'gone' : 'undecided';
}

/** Whether a counted connection's socket is gone for sure; anything short of that keeps it. */
export async function judge(deps: GhostDeps, c: Judged, giveUpAt = Number.POSITIVE_INFINITY): Promise<Liveness> {
  return (await knownOrPast(deps, c, giveUpAt)) === 'gone' ? 'gone' : 'alive';
}

/**
 * Waits, until `giveUpAt` at most, for an ending connection's slot to be free (lifecycle.ts, ending): what a `$connect`
 * does when the stream it takes over, or the victim it chose, is being ended by someone else (its own socket must not
 * open beside that one), and a refused connect about an ending member. Free once its teller (or its `$disconnect`)
 * has uncounted it, which a teller does only once the socket is closed or gone for sure; or once a question asked
 * after its `openBy` gets 410, when nobody has (a teller that crashed), and then this uncounts it.
 */
export async function awaitEnded(
  deps: GhostDeps,
  userId: string,
  c: Judged,
  giveUpAt: number,
): Promise<'free' | 'open'> {
  const clock = deps.clock ?? realClock;
  return chase(
    clock,
    giveUpAt,
    async () => {
      const askedAt = clock.now();
      if ((await ask(deps, c.connectionId)) !== 'gone') return 'open';
      const counter = await deps.store.getCounter(userId);
      if (!counter.counted.has(c.connectionId)) return 'free';
      if (askedAt <= openByOf(c, deps)) return 'open';
      await deps.store.forgetMissing(counter, c.connectionId);
      return 'free';
    },
    (slot) => slot === 'free',
  );
}

export type ReclaimOutcome =
  /** ghosts released or drift repaired: this many streams came free */
  | { kind: 'freed'; streams: number }
  /** every counted connection is alive (or API Gateway could not say): the refusal stands */
  | { kind: 'nothingFreed' };

/**
 * Releases a user's ghosts and repairs the counter's drift; says whether another admission try can succeed.
 *
 * Every counted connection's item is read first, in one BatchGetItem (which also shows the counter's drift: members
 * whose item is gone or closed); then API Gateway is asked about each, all together (`judge`). A refusal of a live
 * user costs two store calls. Gone open ones are released together in one write of the counter; ending ones (closed
 * by a teller) are free once their teller uncounted them (`awaitEnded`), and missing ones are forgotten one by one. An
 * ending one whose socket is still open keeps its slot: its teller frees it once the socket is closed.
 */
export async function reclaimGhosts(
  deps: GhostDeps,
  counter: CounterRecord,
  now: number,
  giveUpAt = Number.POSITIVE_INFINITY,
): Promise<ReclaimOutcome> {
  const items = await deps.store.countedConnections(counter);
  const readAt = (deps.clock ?? realClock).now();
  const [open, ending] = await Promise.all([
    Promise.all(
      items.open.map(async (item) => {
        // Held for its stream's reconnect (lifecycle.ts): its slot counts until the hold is over, without a question.
        if (isHeld(item, readAt)) return { item, gone: false };
        const gone = (await judge(deps, item, giveUpAt)) === 'gone';
        return { item, gone: gone && !(await holdFound(deps, item)) };
      }),
    ),
    Promise.all(
      items.ending.map((item) => {
        const until = Math.min(giveUpAt, endingWaitUntil(item, (deps.clock ?? realClock).now(), deps));
        return awaitEnded(deps, counter.userId, item, until);
      }),
    ),
  ]);
  const ghosts = open.filter(({ gone }) => gone).map(({ item }) => item.connectionId);
  let freed = ending.filter((slot) => slot === 'free').length;
  if (ghosts.length > 0) freed += await releaseTogether(deps, counter, ghosts, now);
  for (const connectionId of items.missing) {
    // Forgotten now, or released by its own `$disconnect` since the counter was read: free either way.
    await deps.store.forgetMissing(counter, connectionId);
    freed++;
  }
  if (freed === 0) freed += await repairCount(deps, counter);
  return freed > 0 ? { kind: 'freed', streams: freed } : { kind: 'nothingFreed' };
}

/** Releases `gone` in one write of the counter; how many slots came free. */
async function releaseTogether(deps: GhostDeps, counter: CounterRecord, gone: string[], now: number): Promise<number> {
  // False: released here or, a moment ago, by a `$disconnect` or another refused connect: free either way.
  if (await deps.store.releaseGhosts(counter, gone, now)) {
    deps.logger.info('ghosts reclaimed', { userId: counter.userId, connectionIds: gone });
    for (const connectionId of gone) deps.events?.({ kind: 'ghostReclaimed', connectionId, userId: counter.userId });
  }
  return gone.length;
}

export interface SweepReport {
  /** open connections that reached a check age since the last sweep, and were asked about */
  checked: number;
  /** of those, released because API Gateway no longer knows them (or they passed its 2-hour limit) */
  released: number;
  /** users whose counter was checked against its connections */
  usersChecked: number;
}

/**
 * The ages at which the sweep asks API Gateway about a connection: one lease, then each time its age doubles; past
 * API Gateway's 2-hour limit it is gone for sure. Asking writes nothing, so a live connection costs no store write
 * between its connect and its release, however long it lives. A ghost (its `$disconnect` lost) is found by the time
 * its age has doubled since it died, or at once when its user needs the slot.
 */
export function checkAges(leaseMs: number, maxConnectionMs: number): number[] {
  const ages: number[] = [];
  for (let age = leaseMs; age < maxConnectionMs; age *= 2) ages.push(age);
  return ages;
}

type Candidate = { connectionId: string; userId: string; connectedAt: number };

/**
 * Finds the connections that reached a check age since the last sweep (from the index, by age: no Scan, and nothing
 * to keep fresh), asks API Gateway about each, releases the gone ones, and checks the counter of every user it
 * touched. The cursor (where the last sweep stopped) makes a late or missed run catch up instead of skipping.
 */
export async function sweep(deps: GhostDeps, now: number): Promise<SweepReport> {
  const { store } = deps;
  const report: SweepReport = { checked: 0, released: 0, usersChecked: 0 };
  const from = Math.min(now, (await store.sweptTo()) ?? now - deps.leaseMs);
  const candidates = new Map<string, Candidate>();
  const add = async (window: { from: number; to: number }) => {
    for await (const c of store.connectionsAged(window)) candidates.set(c.connectionId, c);
  };
  for (const age of checkAges(deps.leaseMs, deps.maxConnectionMs)) await add({ from: from - age, to: now - age });
  // Past API Gateway's limit, however long ago: gone for sure (this also catches up on connections a missed run skipped).
  await add({ from: 0, to: now - deps.maxConnectionMs });
  report.checked = candidates.size;
  const users = new Set<string>();
  await forEachLimited([...candidates.values()], 32, async ({ connectionId, userId, connectedAt }) => {
    users.add(userId);
    if (now - connectedAt <= deps.maxConnectionMs && (await ask(deps, connectionId)) !== 'gone') return;
    // The index is eventually consistent: the item itself decides, and one in its opening window is waited for.
    const c = await store.getConnection(connectionId);
    // One held for its stream's reconnect (lifecycle.ts) is left until its next check age, like a ghost found young.
    if (c?.state !== 'open' || isHeld(c, now) || (await judge(deps, c)) === 'alive') return;
    if (await holdFound(deps, c)) return;
    const outcome = await store.release(connectionId, 'swept', now, c);
    if (outcome.kind === 'released') report.released++;
  });
  await forEachLimited([...users], 8, async (userId) => {
    const counter = await store.getCounter(userId);
    // Drift shows on the counter itself; only then are its connections read.
    if (counter.active !== counter.counted.size) await repairCounter(deps, counter);
    report.usersChecked++;
  });
  await store.setSweptTo(now);
  return report;
}

/** A count that disagrees with its members (edited by hand, or left by an older version); slots that came free. */
async function repairCount(deps: GhostDeps, counter: CounterRecord): Promise<number> {
  const actual = counter.counted.size;
  if (counter.active === actual) return 0;
  if (!(await deps.store.repairCount(counter.userId, { observed: counter.active, actual }))) return 0;
  deps.logger.warn('counter drift repaired', { userId: counter.userId, was: counter.active, now: actual });
  return Math.max(0, counter.active - actual);
}

/** The sweep's repair of a drifted counter: the count, and members whose item is gone. */
async function repairCounter(deps: GhostDeps, counter: CounterRecord): Promise<void> {
  await repairCount(deps, counter);
  const { missing } = await deps.store.countedConnections(counter);
  for (const connectionId of missing) await deps.store.forgetMissing(counter, connectionId);
}
