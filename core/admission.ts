/**
 * What happens to a stream: admitted under the user's limit, taken over on reconnect, released when its socket
 * ends. Knows nothing of Lambda; collaborators come in as arguments.
 */
import { endUncounted, type UncountedSocket } from './ended.js';
import { AdmissionWithdrawnError, LimitReachedError, StoreContentionError, StreamReplacedError } from './errors.js';
import { makeRoom } from './eviction.js';
import { DEFAULT_LIMIT_POLICY, effectivePolicy, type LimitPolicy } from './policy.js';
import { type GhostDeps, reclaimGhosts } from './reclaim.js';
import { type ConnectionRecord, effectiveLimit, type NewConnection, planOrDefault } from './store/items.js';

export interface AdmissionDeps extends GhostDeps {
  defaultLimit: number;
  /** what happens at the limit for users without a staff-set policy; `block-new` when unset */
  defaultPolicy?: LimitPolicy;
}

/** A `$connect` to admit; every timestamp written for it derives from API Gateway's `connectedAt` (ms). */
export type ConnectRequest = Omit<NewConnection, 'leaseExpiresAt'>;

export type ConnectResult =
  | { kind: 'admitted' }
  /** the same `$connect` seen again: nothing was written the second time */
  | { kind: 'duplicate' }
  | { kind: 'tookOver'; replaced: string }
  /** `evict-oldest`: admitted in the place of `evicted`, the user's least recently active stream, now ended */
  | { kind: 'evicted'; evicted: string };

/**
 * Reclaims and takeovers that race other connects are retried. A takeover only ever moves a stream to a newer
 * connection, so concurrent reconnects of one stream settle within as many rounds as there are reconnects.
 */
const MAX_ROUNDS = 10;

/** Whether connection `a` arrived after `b`: API Gateway's `connectedAt`, then the id, so that ties still order. */
const newer = (a: { at: number; id: string }, b: { at: number; id: string }) =>
  a.at !== b.at ? a.at > b.at : a.id > b.id;

export async function connect(deps: AdmissionDeps, request: ConnectRequest): Promise<ConnectResult> {
  const closing: Array<Promise<void>> = [];
  try {
    return await admitOrRefuse(deps, request, closing);
  } finally {
    // Sockets a reclaim ended may still be opening; in Lambda nothing runs after the answer, so wait for them here.
    await Promise.all(closing);
  }
}

async function admitOrRefuse(
  deps: AdmissionDeps,
  request: ConnectRequest,
  closing: Array<Promise<void>>,
): Promise<ConnectResult> {
  const { store } = deps;
  const conn: NewConnection = { ...request, leaseExpiresAt: request.connectedAt + deps.leaseMs };
  let refusal: LimitReachedError | undefined;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const outcome = await store.admit(conn, {
      defaultLimit: planOrDefault(request, deps.defaultLimit),
      maxConnectionMs: deps.maxConnectionMs,
      round,
    });
    switch (outcome.kind) {
      case 'admitted':
        await stillCounted(deps, conn, closing);
        return { kind: 'admitted' };
      case 'duplicate':
        return { kind: 'duplicate' };
      case 'streamHeld': {
        const heldSince = outcome.counter.counted.get(outcome.heldBy) ?? 0;
        const holder = { at: heldSince, id: outcome.heldBy };
        if (newer(holder, { at: conn.connectedAt, id: conn.connectionId })) {
          throw new StreamReplacedError(conn.userId, conn.streamId!);
        }
        const taken = await store.takeOver(
          { ...conn, streamId: conn.streamId! },
          { heldBy: outcome.heldBy, maxConnectionMs: deps.maxConnectionMs },
        );
        if (taken.kind === 'changed') continue;
        if (taken.kind === 'duplicate') return { kind: 'duplicate' };
        await closeReplaced(deps, { connectionId: outcome.heldBy, connectedAt: heldSince }, conn);
        await stillCounted(deps, conn, closing);
        return { kind: 'tookOver', replaced: outcome.heldBy };
      }
      case 'limitReached': {
        const { counter } = outcome;
        const limit = effectiveLimit(counter, planOrDefault(request, deps.defaultLimit));
        refusal = new LimitReachedError(request.userId, counter.active, limit);
        if (effectivePolicy(counter, deps.defaultPolicy ?? DEFAULT_LIMIT_POLICY) === 'evict-oldest') {
          const room = await makeRoom(deps, conn, counter);
          if (room.kind === 'duplicate') return { kind: 'duplicate' };
          if (room.kind === 'evicted') {
            await stillCounted(deps, conn, closing);
            return { kind: 'evicted', evicted: room.victim };
          }
          if (room.kind === 'lookAgain') continue;
          // 'cannot': no stream to evict fairly (limit 0, staff lowered the limit below the count, counter drift):
          // as under block-new, ghosts are reclaimed or the drift repaired, else the new stream is refused.
        }
        const reclaim = await reclaimGhosts(deps, counter, request.connectedAt);
        if (reclaim.kind === 'nothingFreed') throw refusal;
        if (reclaim.closing) closing.push(reclaim.closing);
      }
    }
  }
  // Every round lost a race (takeovers or reclaims of others): that is contention, not the user's limit.
  throw refusal ?? new StoreContentionError(`connect of ${request.connectionId} kept racing`);
}

/** The socket is gone; give its stream back. Safe to run twice, or after a kick or the sweep got there first. */
export async function disconnect(deps: Pick<AdmissionDeps, 'store'>, connectionId: string, at: number) {
  return deps.store.release(connectionId, 'disconnected', at);
}

/**
 * A heartbeat proves the socket alive to API Gateway (its idle timer, its `lastActiveAt`), and API Gateway is what
 * the sweep asks: so the store is only read, to answer whether this connection still counts, and never written.
 * The lease in the answer is how long the connection counts without question from now on.
 */
export async function heartbeat(
  deps: Pick<AdmissionDeps, 'store' | 'leaseMs'>,
  connectionId: string,
  at: number,
): Promise<ConnectionRecord | undefined> {
  const connection = await deps.store.getConnection(connectionId);
  if (connection?.state !== 'open') return undefined;
  return { ...connection, leaseExpiresAt: at + deps.leaseMs };
}

export interface UserStatus {
  userId: string;
  active: number;
  limit: number;
}

export async function userStatus(
  deps: Pick<AdmissionDeps, 'store' | 'defaultLimit'>,
  connectionId: string,
): Promise<UserStatus | undefined> {
  const connection = await deps.store.getConnection(connectionId);
  if (connection?.state !== 'open') return undefined;
  const counter = await deps.store.getCounter(connection.userId);
  const limit = effectiveLimit(counter, planOrDefault(connection, deps.defaultLimit));
  return { userId: connection.userId, active: counter.active, limit };
}

/**
 * The last word before the handshake completes. Until `$connect` answers, API Gateway does not know the socket
 * (GetConnection and DeleteConnection answer 410), so whoever ended this stream meanwhile (a newer reconnect, a
 * refused connect that took it for a ghost, a kick) could not close it. The item is stamped on condition it is still
 * open: if it no longer is, the handshake fails instead of opening a socket nothing counts; if the stamp lands first,
 * whoever ends it afterwards sees the stamp and closes the socket as soon as it opens (endUncounted).
 */
async function stillCounted(deps: AdmissionDeps, conn: NewConnection, closing: Array<Promise<void>>) {
  // The sockets this connect reclaimed are closed first, should they open: while that lasts this connection is young
  // and unstamped, which another refused connect of the user keeps. Stamped, it would be taken for a ghost (stamped,
  // unknown to API Gateway) and closed as soon as it opened.
  await Promise.all(closing);
  const stamp = await deps.store.markHandshake(conn.connectionId, Date.now());
  if (stamp.kind === 'marked') return;
  const item = stamp.connection;
  // Released by its own `$disconnect` (a redelivered `$connect`): the socket is gone already, nothing to protect.
  if (item?.closeReason === 'disconnected') return;
  if (item?.closeReason === 'takenOver') throw new StreamReplacedError(conn.userId, conn.streamId ?? '');
  throw new AdmissionWithdrawnError(conn.connectionId, item?.closeReason ?? 'missing');
}

/** The replaced socket is told and closed, even if it is still inside its own handshake. */
async function closeReplaced(deps: AdmissionDeps, replaced: UncountedSocket, by: NewConnection) {
  try {
    await endUncounted(
      deps,
      replaced,
      { reason: 'takenOver', device: by.device },
      { now: by.connectedAt, youngMs: deps.handshakeGraceMs },
    );
  } catch (error) {
    // The stream is already handed over; the socket, if it lives, is closed on its next message.
    deps.logger.warn('could not close the replaced connection', {
      connectionId: replaced.connectionId,
      error: String(error),
    });
  }
}
