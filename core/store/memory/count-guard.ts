/**
 * The count guard's writes in memory, each one atomic step with the same conditions and outcomes as
 * `../dynamodb/counter.ts` (including the order in which a failed write reports why).
 */
import type { NewConnection } from '../items.js';
import type {
  AdmitOptions,
  AdmitOutcome,
  EvictOptions,
  EvictOutcome,
  TakeOverOptions,
  TakeOverOutcome,
} from '../port.js';
import type { MemoryState } from './state.js';

/** The write's idempotency token, as `../dynamodb/counter.ts` derives it. */
const token = (op: string, conn: NewConnection, last: string | number) =>
  [op, conn.connectionId, conn.openBy ?? conn.connectedAt, last].join('|');

export function admit(state: MemoryState, conn: NewConnection, options: AdmitOptions): Promise<AdmitOutcome> {
  return state.call('admit', () => {
    const replay = state.replays.get(token('admit', conn, options.round ?? 0));
    if (replay) return replay as AdmitOutcome;
    const existing = state.item(conn.connectionId);
    if (existing) return { kind: 'duplicate', existing };
    const c = state.counter(conn.userId);
    const limit = c.limitOverride ?? options.defaultLimit;
    const heldBy = conn.streamId ? c.streams.get(conn.streamId) : undefined;
    if (c.members.has(conn.connectionId) || c.active >= limit || heldBy !== undefined) {
      const counter = state.snapshot(conn.userId);
      return heldBy ? { kind: 'streamHeld', heldBy, counter } : { kind: 'limitReached', counter };
    }
    c.active++;
    c.members.set(conn.connectionId, state.memberOf(conn));
    if (conn.streamId) c.streams.set(conn.streamId, conn.connectionId);
    c.commit();
    state.put(conn);
    state.replays.set(token('admit', conn, options.round ?? 0), { kind: 'admitted' });
    return { kind: 'admitted' };
  });
}

export function takeOver(
  state: MemoryState,
  conn: NewConnection & { streamId: string },
  options: TakeOverOptions,
): Promise<TakeOverOutcome> {
  return state.call('takeOver', () => {
    const old = options.heldBy;
    const replay = state.replays.get(token('takeOver', conn, old));
    if (replay) return replay as TakeOverOutcome;
    const existing = state.item(conn.connectionId);
    if (existing) return { kind: 'duplicate', existing };
    const c = state.counter(conn.userId);
    const counterHolds =
      c.streams.get(conn.streamId) === old && c.members.has(old) && !c.members.has(conn.connectionId);
    if (!counterHolds) return { kind: 'changed' };
    if (!state.closeable(old, true)) return { kind: 'heldByEnding' };
    // The old one stays counted (ending) until its socket is closed, as in the DynamoDB store.
    c.streams.set(conn.streamId, conn.connectionId);
    c.active++;
    c.members.set(conn.connectionId, state.memberOf(conn));
    c.commit();
    state.closeOrTombstone(old, 'takenOver', conn.connectedAt);
    state.put(conn);
    state.replays.set(token('takeOver', conn, old), { kind: 'tookOver' });
    return { kind: 'tookOver' };
  });
}

export function evict(state: MemoryState, conn: NewConnection, options: EvictOptions): Promise<EvictOutcome> {
  return state.call('evict', () => {
    const { victim } = options;
    // DynamoDB refuses an update that sets and removes the same attribute (overlapping document paths).
    if (conn.streamId !== undefined && conn.streamId === victim.streamId)
      throw new Error('ValidationException: Two document paths overlap with each other');
    const replay = state.replays.get(token('evict', conn, victim.connectionId));
    if (replay) return replay as EvictOutcome;
    const existing = state.item(conn.connectionId);
    if (existing) return { kind: 'duplicate', existing };
    const c = state.counter(conn.userId);
    const limit = c.limitOverride ?? options.defaultLimit;
    const policy = c.policyOverride ?? options.defaultPolicy;
    const counterHolds =
      c.members.has(victim.connectionId) &&
      !c.members.has(conn.connectionId) &&
      c.active === limit &&
      policy === 'evict-oldest' &&
      !(conn.streamId && c.streams.has(conn.streamId)) &&
      (victim.streamId === undefined || c.streams.get(victim.streamId) === victim.connectionId);
    if (!counterHolds) return { kind: 'changed', counter: state.snapshot(conn.userId) };
    if (!state.closeable(victim.connectionId, true)) return { kind: 'victimEnding' };
    // The victim stays counted (ending) until its socket is closed, as in the DynamoDB store.
    if (victim.streamId) c.streams.delete(victim.streamId);
    c.active++;
    c.members.set(conn.connectionId, state.memberOf(conn));
    if (conn.streamId) c.streams.set(conn.streamId, conn.connectionId);
    c.commit();
    state.closeOrTombstone(victim.connectionId, 'evicted', conn.connectedAt);
    state.put(conn);
    state.replays.set(token('evict', conn, victim.connectionId), { kind: 'evicted' });
    return { kind: 'evicted' };
  });
}
