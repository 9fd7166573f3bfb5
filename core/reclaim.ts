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
  logger: Logger;
}

/**
 * Is this connection gone? API Gateway is asked first; only when it cannot answer does an expired lease (or
 * API Gateway's hard 2-hour limit) decide. A live socket is never released here, even with an expired lease.
 */
export async function isGhost(deps: GhostDeps, c: ConnectionRecord, now: number): Promise<boolean> {
  if (now - c.connectedAt > deps.maxConnectionMs) return true;
  try {
    return (await deps.gateway.probe(c.connectionId)) === 'gone';
  } catch (error) {
    deps.logger.warn('GetConnection failed; falling back to the lease', { connectionId: c.connectionId, error: String(error) });
    return c.leaseExpiresAt < now;
  }
}

/** Releases the user's ghosts; returns how many streams came free. */
export async function reclaimGhosts(deps: GhostDeps, counter: CounterRecord, now: number): Promise<number> {
  const { store } = deps;
  const { open, missing } = await store.countedConnections(counter);
  let freed = 0;
  // Drift: a count that does not match its own members (set by hand, or an older version's bug).
  if (counter.active > counter.counted.size && (await store.repairCount(counter.userId, counter.active, counter.counted.size))) {
    freed += counter.active - counter.counted.size;
  }
  for (const connectionId of missing) {
    if (await store.forgetMissing(counter.userId, connectionId)) freed++;
  }
  const verdicts = await Promise.all(open.map(async (c) => ({ c, ghost: await isGhost(deps, c, now) })));
  for (const { c } of verdicts.filter((v) => v.ghost)) {
    const outcome = await store.release(c.connectionId, 'reclaimed', now);
    // Released by someone else in the meantime still means a free slot for the caller.
    if (outcome.kind !== 'unknown') freed++;
    if (outcome.kind === 'released') deps.logger.info('ghost reclaimed', { connectionId: c.connectionId, userId: c.userId });
  }
  return freed;
}
