/**
 * Ghosts: connections still counted whose socket is gone because `$disconnect` was lost, or whose handshake
 * never completed. They are released when a user is refused (only then, so the happy path costs nothing) and by
 * the periodic sweep.
 */
import type { ConnectionGateway } from './gateway.js';
import type { ConnectionRecord, CounterRecord, StreamStore } from './store.js';

/** The slice of a structured logger the core uses (Powertools' Logger fits it). */
export interface Logger {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

export interface GhostDeps {
  store: StreamStore;
  gateway: ConnectionGateway;
  maxConnectionMs: number;
  handshakeGraceMs: number;
  logger: Logger;
}

export type Verdict = 'live' | 'ghost' | 'goneRecently';

/**
 * Is this connection gone? API Gateway is asked first; only when it cannot answer does an expired lease (or
 * API Gateway's hard 2-hour limit) decide. A live socket is never released here, even with an expired lease.
 * A young connection that API Gateway does not know is `goneRecently`: its handshake may still be under way,
 * or it just closed and its `$disconnect` is on the way; either way it is not released here.
 */
export async function judge(deps: GhostDeps, c: ConnectionRecord, now: number): Promise<Verdict> {
  if (now - c.connectedAt > deps.maxConnectionMs) return 'ghost';
  try {
    if ((await deps.gateway.probe(c.connectionId)) === 'alive') return 'live';
    return now - c.connectedAt < deps.handshakeGraceMs ? 'goneRecently' : 'ghost';
  } catch (error) {
    deps.logger.warn('GetConnection failed; falling back to the lease', { connectionId: c.connectionId, error: String(error) });
    return c.leaseExpiresAt < now ? 'ghost' : 'live';
  }
}

export interface ReclaimResult {
  /** streams that came free */
  freed: number;
  /** counted connections API Gateway no longer knows but too young to release */
  goneRecently: number;
}

/** Releases the user's ghosts. */
export async function reclaimGhosts(deps: GhostDeps, counter: CounterRecord, now: number): Promise<ReclaimResult> {
  const { store } = deps;
  const { open, missing } = await store.countedConnections(counter);
  let freed = 0;
  // Drift: a count that does not match its own members (set by hand, or an older version's bug).
  if (counter.active > counter.counted.size && (await store.repairCount(counter.userId, counter.active, counter.counted.size))) {
    freed += counter.active - counter.counted.size;
  }
  for (const connectionId of missing) {
    // Forgotten now, or released by its own `$disconnect` since the counter was read: free either way.
    await store.forgetMissing(counter.userId, connectionId);
    freed++;
  }
  const verdicts = await Promise.all(open.map(async (c) => ({ c, verdict: await judge(deps, c, now) })));
  for (const { c } of verdicts.filter((v) => v.verdict === 'ghost')) {
    const outcome = await store.release(c.connectionId, 'reclaimed', now);
    // Released by someone else in the meantime still means a free slot for the caller.
    if (outcome.kind !== 'unknown') freed++;
    if (outcome.kind === 'released') deps.logger.info('ghost reclaimed', { connectionId: c.connectionId, userId: c.userId });
  }
  return { freed, goneRecently: verdicts.filter((v) => v.verdict === 'goneRecently').length };
}
