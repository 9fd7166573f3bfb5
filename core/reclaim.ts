/**
 * Ghosts: connections still counted whose socket is gone because `$disconnect` was lost, or whose handshake
 * never completed. They are released when a user is refused (only then, so the happy path costs nothing) and by
 * the periodic sweep.
 */
import { type Clock, chase, openBy, realClock } from './lifecycle.js';
import type { ConnectionGateway, CoreEvents, Liveness, Logger } from './ports.js';
import type { ConnectionRecord, CounterRecord } from './store/items.js';
import type { StreamStore } from './store/port.js';

export interface GhostDeps {
  store: StreamStore;
  gateway: ConnectionGateway;
  leaseMs: number;
  maxConnectionMs: number;
  /**
   * how long a `$connect` may run before it gives up (503); API Gateway's own integration timeout is 29 s. A
   * connection's opening window (lifecycle.ts) starts from its admitting write, sent within this of its arrival.
   */
  handshakeGraceMs: number;
  /** real unless a test gives a fake one */
  clock?: Clock;
  logger: Logger;
  /** told about each ghost reclaimed (for metrics) */
  events?: CoreEvents;
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

/**
 * Whether a counted connection is a ghost. Past API Gateway's hard 2-hour limit it is, whatever the answer; API
 * Gateway not answering releases nothing on a guess. Unknown to API Gateway (410) is ambiguous only while the
 * connection's opening window lasts (lifecycle.ts: it may be inside its handshake): it is asked again at the chase
 * cadence until it is known (kept) or the window has passed (gone for sure). No time rests on the store: the window
 * is enforced by `$connect` itself.
 */
async function judge(deps: GhostDeps, c: ConnectionRecord, now: number): Promise<Liveness> {
  if (now - c.connectedAt > deps.maxConnectionMs) return 'gone';
  const clock = deps.clock ?? realClock;
  const answer = await chase(
    clock,
    openBy(c, deps.handshakeGraceMs),
    () => ask(deps, c.connectionId),
    (a) => a !== 'gone',
  );
  return answer === 'gone' ? 'gone' : 'alive';
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
 * whose item is gone); then API Gateway is asked about each, all together. A refusal of a live user costs two store
 * calls. The gone ones are released together in one write of the counter. A connection still in its opening window
 * that API Gateway does not know is asked again until it is known or its window has passed (judge): a sibling of the
 * same burst is kept, and one its player closed at once, its `$disconnect` lost, is released when the window ends.
 * So the gone ones can no longer open, and nobody needs to chase their sockets.
 */
export async function reclaimGhosts(deps: GhostDeps, counter: CounterRecord, now: number): Promise<ReclaimOutcome> {
  const items = await deps.store.countedConnections(counter);
  const fates = await Promise.all(items.open.map(async (item) => ({ item, fate: await judge(deps, item, now) })));
  const ghosts = fates.filter(({ fate }) => fate === 'gone').map(({ item }) => item.connectionId);
  if (ghosts.length > 0) return releaseTogether(deps, counter, [...ghosts, ...items.missing], now);
  const { freed } = await repairCounter(deps, counter, items);
  return freed > 0 ? { kind: 'freed', streams: freed } : { kind: 'nothingFreed' };
}

/** Releases `gone` in one write of the counter. */
async function releaseTogether(
  deps: GhostDeps,
  counter: CounterRecord,
  gone: string[],
  now: number,
): Promise<ReclaimOutcome> {
  const released = await deps.store.releaseGhosts(counter, gone, now);
  // Released here or, a moment ago, by a `$disconnect` or another refused connect: the slots are free either way.
  if (!released) return { kind: 'freed', streams: gone.length };
  deps.logger.info('ghosts reclaimed', { userId: counter.userId, connectionIds: gone });
  for (const connectionId of gone) deps.events?.({ kind: 'ghostReclaimed', connectionId, userId: counter.userId });
  return { kind: 'freed', streams: gone.length };
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
    if (c?.state !== 'open' || (await judge(deps, c, now)) === 'alive') return;
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

/**
 * The counter's own repairs: a count that disagrees with its members (edited by hand, or left by an older version),
 * and members with no open item. Returns the members still open, and how many streams came free.
 */
async function repairCounter(
  deps: GhostDeps,
  counter: CounterRecord,
  /** the counted connections' items, when the caller has just read them */
  items?: { open: ConnectionRecord[]; missing: string[] },
): Promise<{ open: ConnectionRecord[]; freed: number }> {
  const { store } = deps;
  let freed = 0;
  if (
    counter.active !== counter.counted.size &&
    (await store.repairCount(counter.userId, { observed: counter.active, actual: counter.counted.size }))
  ) {
    deps.logger.warn('counter drift repaired', {
      userId: counter.userId,
      was: counter.active,
      now: counter.counted.size,
    });
    freed += Math.max(0, counter.active - counter.counted.size);
  }
  const { open, missing } = items ?? (await store.countedConnections(counter));
  for (const connectionId of missing) {
    // Forgotten now, or released by its own `$disconnect` since the counter was read: free either way.
    await store.forgetMissing(counter, connectionId);
    freed++;
  }
  return { open, freed };
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
