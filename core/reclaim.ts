/**
 * Ghosts: connections still counted whose socket is gone because `$disconnect` was lost, or whose handshake
 * never completed. They are released when a user is refused (only then, so the happy path costs nothing) and by
 * the periodic sweep.
 */
import { endUncounted, mayStillOpen, type UncountedSocket } from './ended.js';
import type { ConnectionGateway, CoreEvents, Liveness, Logger } from './ports.js';
import { sleep } from './retry.js';
import type { ConnectionRecord, CounterRecord } from './store/items.js';
import type { StreamStore } from './store/store.js';

export interface GhostDeps {
  store: StreamStore;
  gateway: ConnectionGateway;
  leaseMs: number;
  maxConnectionMs: number;
  /** a connection younger than this that API Gateway does not know may still be in its handshake */
  handshakeGraceMs: number;
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
 * Is this connection gone (a ghost), given API Gateway's answer? Past API Gateway's hard 2-hour limit it is, whatever
 * the answer; otherwise only API Gateway's word releases it.
 * A young connection API Gateway does not know yet may still be in its handshake: `young`, asked again later.
 */
function verdict(
  deps: GhostDeps,
  c: Pick<ConnectionRecord, 'connectedAt'>,
  answer: Answer,
  now: number,
): Liveness | 'young' {
  if (now - c.connectedAt > deps.maxConnectionMs) return 'gone';
  // API Gateway could not answer: nothing is released on a guess (past the 2-hour limit it is gone for sure).
  if (answer === 'unknown') return 'alive';
  if (answer === 'gone' && now - c.connectedAt < deps.handshakeGraceMs) return 'young';
  return answer;
}

/** The sweep's judgement of one connection: asked once, and a young unknown one asked again after a pause. */
async function judge(deps: GhostDeps, c: ConnectionRecord, now: number): Promise<Liveness> {
  const first = verdict(deps, c, await ask(deps, c.connectionId), now);
  if (first !== 'young') return first;
  // Off the players' path (the sweep runs on a schedule), so it can afford to wait for a handshake to finish.
  await sleep(SWEEP_HANDSHAKE_RECHECK_MS);
  const second = verdict(deps, c, await ask(deps, c.connectionId), now);
  return second === 'young' ? 'gone' : second;
}

/**
 * While `$connect` runs, API Gateway answers GetConnection with 410 for the connection being set up. Once the
 * transaction has committed the handshake completes within milliseconds, so a young connection still unknown after
 * this pause is a ghost. Only the sweep pauses; a refusal asks again after its own store read instead.
 */
export const SWEEP_HANDSHAKE_RECHECK_MS = 300;

export type ReclaimOutcome =
  /**
   * ghosts released or drift repaired: this many streams came free; `closing` settles once the young ones among them
   * (possibly still inside their handshake) are closed, and must be awaited before the caller answers
   */
  | { kind: 'freed'; streams: number; closing?: Promise<void> }
  /** every counted connection is alive (or may still be in its handshake): the refusal stands */
  | { kind: 'nothingFreed' };

/**
 * Releases a user's ghosts and repairs the counter's drift; says whether another admission try can succeed.
 *
 * On a refusal's path, so nothing here sleeps. Every counted connection's item is read first, in one BatchGetItem
 * (which also shows the counter's drift: members whose item is gone); then API Gateway is asked about each, once and
 * all together. A refusal of a live user costs two store calls. The gone ones are released together in one write of
 * the counter.
 *
 * A young one API Gateway does not know may still be in its handshake, and its item, read before the question, tells:
 * `$connect` stamps it (`handshakeAt`) just before the handshake completes, on condition it is still open. No stamp:
 * its `$connect` was still running, and it is kept (one whose `$connect` died is a ghost once past the handshake
 * grace). Stamped since this connect arrived: opening, and kept. Stamped before: the socket had opened, or was
 * opening, when API Gateway was asked (stamped a moment ago, it is asked again); unknown, it is gone (lost without
 * `$disconnect`, or just closed with its `$disconnect` on the way: a player who closes one stream and opens another
 * at once is admitted), and is closed should it open after all.
 */
export async function reclaimGhosts(deps: GhostDeps, counter: CounterRecord, now: number): Promise<ReclaimOutcome> {
  const items = await deps.store.countedConnections(counter);
  const fates = await Promise.all(items.open.map(async (item) => ({ item, fate: await fateOf(deps, item, now) })));
  const ghosts = fates.filter(({ fate }) => fate !== 'kept').map(({ item }) => item.connectionId);
  // Even one stamped long ago is told once: under load a stamp can commit long after the time it records.
  const mayOpen = fates.filter(({ fate }) => fate === 'mayOpen').map(({ item }) => item);
  if (ghosts.length > 0) return releaseTogether(deps, counter, { gone: [...ghosts, ...items.missing], mayOpen }, now);
  const { freed } = await repairCounter(deps, counter, items);
  return freed > 0 ? { kind: 'freed', streams: freed } : { kind: 'nothingFreed' };
}

/**
 * Whether a young socket API Gateway does not know was stamped before this connect arrived (`arrivedAt`, API Gateway's
 * `connectedAt`), and so may be one its player closed before opening this one. Unstamped, its `$connect` is still
 * running. Stamped at or after this connect arrived, its player cannot have closed it first: it is opening (in a burst,
 * the user's other connects of the same moment).
 */
const stampedBefore = (item: ConnectionRecord, arrivedAt: number) =>
  item.handshakeAt !== undefined && item.handshakeAt < arrivedAt;

/**
 * What a refused connect (arrived at `now`) does with one counted connection: `kept` (alive, or may still be in its
 * handshake), `gone` (released), or `mayOpen` (released, and closed should its socket open after all).
 *
 * A young one stamped a moment ago and unknown to API Gateway is either opening (its `$connect` has just answered, and
 * API Gateway learns of it within moments) or was closed at once by its player. Asked once more, right away, an
 * opening one is mostly known by then, and is kept; one its player closed is still unknown. No sleep: one more
 * GetConnection, for these only.
 */
async function fateOf(deps: GhostDeps, item: ConnectionRecord, now: number): Promise<'kept' | 'gone' | 'mayOpen'> {
  let v = verdict(deps, item, await ask(deps, item.connectionId), now);
  const stampedYoung = () => v === 'young' && stampedBefore(item, now);
  if (stampedYoung() && mayStillOpen(item.handshakeAt!, Date.now())) {
    v = verdict(deps, item, await ask(deps, item.connectionId), now);
  }
  if (v === 'gone') return 'gone';
  return stampedYoung() ? 'mayOpen' : 'kept';
}

/** Releases `gone` in one write of the counter; those in `mayOpen` are closed if their socket opens after all. */
async function releaseTogether(
  deps: GhostDeps,
  counter: CounterRecord,
  { gone, mayOpen }: { gone: string[]; mayOpen: UncountedSocket[] },
  now: number,
): Promise<ReclaimOutcome> {
  const released = await deps.store.releaseGhosts(counter, gone, now);
  // Released here or, a moment ago, by a `$disconnect` or another refused connect: the slots are free either way.
  if (!released) return { kind: 'freed', streams: gone.length };
  deps.logger.info('ghosts reclaimed', { userId: counter.userId, connectionIds: gone });
  for (const connectionId of gone) deps.events?.({ kind: 'ghostReclaimed', connectionId, userId: counter.userId });
  // While the caller goes on admitting.
  const closing = Promise.all(mayOpen.map((socket) => closeIfOpens(deps, socket, now))).then(() => undefined);
  return { kind: 'freed', streams: gone.length, closing };
}

async function closeIfOpens(deps: GhostDeps, socket: UncountedSocket, now: number) {
  try {
    await endUncounted(deps, socket, { reason: 'uncounted' }, { now, youngMs: deps.handshakeGraceMs });
  } catch (error) {
    // Closed on its next message instead, if it lives.
    deps.logger.warn('could not close a reclaimed connection', {
      connectionId: socket.connectionId,
      error: String(error),
    });
  }
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
    // The index is eventually consistent: the item itself decides, and a young one gets its handshake's grace.
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
