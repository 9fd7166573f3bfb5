/**
 * Ghosts: connections still counted whose socket is gone because `$disconnect` was lost, or whose handshake
 * never completed. They are released when a user is refused (only then, so the happy path costs nothing) and by
 * the periodic sweep.
 */
import type { ConnectionGateway, CoreEvents, Liveness, Logger } from './ports.js';
import { sleep } from './retry.js';
import type { ConnectionRecord, CounterRecord } from './store/items.js';
import type { StreamStore } from './store/store.js';

/**
 * Connections API Gateway vouched for a moment ago. A user refused again and again (a player retrying, a load test)
 * would otherwise have the same live connections probed on every try; within `ttlMs` they are taken as live, and a
 * refusal costs one counter read after a short pause. The price: a socket that died within that window without its
 * `$disconnect` arriving during the pause is reclaimed up to `ttlMs` later.
 */
export class RecentlyAlive {
  private readonly seen = new Map<string, number>();
  constructor(
    readonly ttlMs = 2000,
    private readonly maxEntries = 50_000,
  ) {}

  mark(connectionId: string, at: number) {
    this.seen.delete(connectionId);
    this.seen.set(connectionId, at);
    if (this.seen.size > this.maxEntries) this.seen.delete(this.seen.keys().next().value!);
  }

  isFresh(connectionId: string, now: number): boolean {
    const at = this.seen.get(connectionId);
    return at !== undefined && now - at < this.ttlMs;
  }
}

export interface GhostDeps {
  store: StreamStore;
  gateway: ConnectionGateway;
  recentlyAlive?: RecentlyAlive;
  leaseMs: number;
  maxConnectionMs: number;
  /** a connection younger than this that API Gateway does not know may still be in its handshake */
  handshakeGraceMs: number;
  logger: Logger;
  /** told about each ghost reclaimed (for metrics) */
  events?: CoreEvents;
}

/**
 * While `$connect` runs, API Gateway answers GetConnection with 410 for the connection being set up. Once the
 * transaction has committed the handshake completes within milliseconds, so a young connection still unknown
 * after this pause is a ghost.
 */
export const HANDSHAKE_RECHECK_MS = 300;

/**
 * Is this connection gone (a ghost)? API Gateway is asked; only when it cannot answer does the lease (or API
 * Gateway's hard 2-hour limit) decide. An alive socket is never released here, even with an expired lease.
 */
async function judge(deps: GhostDeps, c: ConnectionRecord, now: number): Promise<Liveness> {
  if (now - c.connectedAt > deps.maxConnectionMs) return 'gone';
  const answer = await probe(deps, c, now);
  if (answer === 'alive' || now - c.connectedAt >= deps.handshakeGraceMs) return answer;
  await sleep(HANDSHAKE_RECHECK_MS);
  return probe(deps, c, now);
}

async function probe(deps: GhostDeps, c: ConnectionRecord, now: number): Promise<Liveness> {
  try {
    const answer = await deps.gateway.probe(c.connectionId);
    if (answer === 'alive') deps.recentlyAlive?.mark(c.connectionId, Date.now());
    return answer;
  } catch (error) {
    deps.logger.warn('GetConnection failed; the lease decides', { connectionId: c.connectionId, error: String(error) });
    return c.leaseExpiresAt < now ? 'gone' : 'alive';
  }
}

export type ReclaimOutcome =
  /** ghosts released or drift repaired: this many streams came free */
  | { kind: 'freed'; streams: number }
  /** every counted connection was vouched for moments ago, but the counter changed during the second look */
  | { kind: 'counterChanged' }
  /** every counted connection is alive: the refusal stands */
  | { kind: 'nothingFreed' };

/** Releases a user's ghosts and repairs the counter's drift; says whether another admission try can succeed. */
export async function reclaimGhosts(deps: GhostDeps, counter: CounterRecord, now: number): Promise<ReclaimOutcome> {
  const { store } = deps;
  const clock = Date.now();
  const allVouchedFor =
    counter.active === counter.counted.size &&
    [...counter.counted.keys()].every((id) => deps.recentlyAlive?.isFresh(id, clock));
  if (allVouchedFor) {
    // All confirmed alive moments ago: what can have changed since is a socket that just closed, whose `$disconnect`
    // is on its way. Give it the same second look as a young connection, then read the counter again (one GetItem,
    // not the whole probe), so a player who closes one stream and opens another is not refused for it.
    await sleep(HANDSHAKE_RECHECK_MS);
    const unchanged = sameMembers(await store.getCounter(counter.userId), counter);
    return unchanged ? { kind: 'nothingFreed' } : { kind: 'counterChanged' };
  }
  const { open, freed: repaired } = await repairCounter(deps, counter);
  let freed = repaired;
  const verdicts = await Promise.all(open.map(async (c) => ({ c, verdict: await judge(deps, c, now) })));
  for (const { c } of verdicts.filter((v) => v.verdict === 'gone')) {
    const outcome = await store.release(c.connectionId, 'reclaimed', now);
    // Released by someone else in the meantime still means a free slot.
    if (outcome.kind !== 'unknown') freed++;
    if (outcome.kind === 'released') {
      deps.logger.info('ghost reclaimed', { connectionId: c.connectionId, userId: c.userId });
      deps.events?.({ kind: 'ghostReclaimed', connectionId: c.connectionId, userId: c.userId });
    }
  }
  return freed > 0 ? { kind: 'freed', streams: freed } : { kind: 'nothingFreed' };
}

export interface SweepReport {
  /** open connections whose lease had run out */
  expired: number;
  /** of those, released because API Gateway no longer knows them */
  released: number;
  /** of those, alive after all (a player that does not heartbeat): their lease was renewed */
  renewed: number;
  /** users whose counter was checked against its connections */
  usersChecked: number;
}

/**
 * Finds expired leases across all users from the lease index (no Scan), confirms each with GetConnection, releases
 * the gone ones, and checks the counter of every user it touched.
 */
export async function sweep(deps: GhostDeps, now: number): Promise<SweepReport> {
  const { store } = deps;
  const report: SweepReport = { expired: 0, released: 0, renewed: 0, usersChecked: 0 };
  const users = new Set<string>();
  const candidates: Array<{ connectionId: string; userId: string }> = [];
  for await (const candidate of store.expiredLeases(now)) candidates.push(candidate);
  report.expired = candidates.length;
  await forEachLimited(candidates, 32, async ({ connectionId, userId }) => {
    users.add(userId);
    // The index is eventually consistent: read the item itself before judging.
    const c = await store.getConnection(connectionId);
    if (c?.state !== 'open' || c.leaseExpiresAt >= now) return;
    if ((await judge(deps, c, now)) === 'alive') {
      // API Gateway vouches for it, as good as a heartbeat: the next sweeps need not ask again for a while.
      await store.renewLease(connectionId, {
        at: now,
        leaseExpiresAt: now + deps.leaseMs,
        renewIfBefore: Number.POSITIVE_INFINITY,
      });
      report.renewed++;
      return;
    }
    const outcome = await store.release(connectionId, 'swept', now);
    if (outcome.kind === 'released') report.released++;
  });
  await forEachLimited([...users], 8, async (userId) => {
    await repairCounter(deps, await store.getCounter(userId));
    report.usersChecked++;
  });
  return report;
}

function sameMembers(a: CounterRecord, b: CounterRecord): boolean {
  return (
    a.active === b.active && a.counted.size === b.counted.size && [...a.counted.keys()].every((id) => b.counted.has(id))
  );
}

/**
 * The counter's own repairs: a count that disagrees with its members (edited by hand, or left by an older version),
 * and members with no open item. Returns the members still open, and how many streams came free.
 */
async function repairCounter(
  deps: GhostDeps,
  counter: CounterRecord,
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
  const { open, missing } = await store.countedConnections(counter);
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
