/**
 * What happens to a stream: admitted under the user's limit, taken over on reconnect, released when its socket
 * ends. Knows nothing of Lambda; collaborators come in as arguments.
 */
import { endUncounted, type UncountedSocket } from './ended.js';
import { AdmissionTooLateError, LimitReachedError, StoreContentionError, StreamReplacedError } from './errors.js';
import { makeRoom } from './eviction.js';
import {
  type AdmittingConnection,
  admitting,
  answerBy,
  type ConnectRequest,
  memberOpenBy,
  openByOf,
  realClock,
} from './lifecycle.js';
import { DEFAULT_LIMIT_POLICY, effectivePolicy, type LimitPolicy } from './policy.js';
import { awaitEnded, type GhostDeps, reclaimGhosts } from './reclaim.js';
import { type ConnectionRecord, effectiveLimit, planOrDefault } from './store/items.js';

export interface AdmissionDeps extends GhostDeps {
  defaultLimit: number;
  /** what happens at the limit for users without a staff-set policy; `block-new` when unset */
  defaultPolicy?: LimitPolicy;
}

export type { ConnectRequest } from './lifecycle.js';

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
  const clock = deps.clock ?? realClock;
  // A `$connect` that cannot finish in time gives up (503) rather than keep API Gateway waiting.
  const giveUpAt = request.connectedAt + deps.handshakeGraceMs;
  let refusal: LimitReachedError | undefined;
  for (let round = 0; round < MAX_ROUNDS && clock.now() <= giveUpAt; round++) {
    const conn = admitting(deps, request, clock.now());
    const outcome = await deps.store.admit(conn, {
      defaultLimit: planOrDefault(request, deps.defaultLimit),
      maxConnectionMs: deps.maxConnectionMs,
      round,
    });
    switch (outcome.kind) {
      case 'admitted':
        return answerInTime(deps, conn, { kind: 'admitted' });
      case 'duplicate':
        return duplicate(deps, outcome.existing);
      case 'streamHeld': {
        const { heldBy, counter } = outcome;
        const replaced = { connectionId: heldBy, connectedAt: counter.counted.get(heldBy) ?? 0 };
        if (newer({ at: replaced.connectedAt, id: heldBy }, { at: conn.connectedAt, id: conn.connectionId })) {
          throw new StreamReplacedError(conn.userId, conn.streamId!);
        }
        const replacedOpenBy = memberOpenBy(counter, heldBy, deps);
        const taking = admitting(deps, request, clock.now(), replacedOpenBy);
        const taken = await deps.store.takeOver(
          { ...taking, streamId: conn.streamId! },
          { heldBy, maxConnectionMs: deps.maxConnectionMs },
        );
        if (taken.kind === 'changed') continue;
        if (taken.kind === 'duplicate') return duplicate(deps, taken.existing);
        if (taken.kind === 'heldByEnding') {
          // A kick or the player's own end is closing it: this socket opens once that one is gone.
          await awaitEnded(deps, conn.userId, { ...replaced, openBy: replacedOpenBy }, giveUpAt);
          continue;
        }
        await closeReplaced(deps, { connectionId: heldBy, openBy: replacedOpenBy }, taking);
        return answerInTime(deps, taking, { kind: 'tookOver', replaced: heldBy });
      }
      case 'limitReached': {
        const { counter } = outcome;
        const limit = effectiveLimit(counter, planOrDefault(request, deps.defaultLimit));
        refusal = new LimitReachedError(request.userId, counter.active, limit);
        if (effectivePolicy(counter, deps.defaultPolicy ?? DEFAULT_LIMIT_POLICY) === 'evict-oldest') {
          const room = await makeRoom(deps, request, counter, giveUpAt);
          if (room.kind === 'duplicate') return duplicate(deps, room.existing);
          if (room.kind === 'evicted') {
            return answerInTime(deps, room.admitted, { kind: 'evicted', evicted: room.victim });
          }
          if (room.kind === 'lookAgain') continue;
          // 'cannot': no stream to evict fairly (limit 0, staff lowered the limit below the count, counter drift):
          // as under block-new, ghosts are reclaimed or the drift repaired, else the new stream is refused.
        }
        const reclaim = await reclaimGhosts(deps, counter, request.connectedAt, giveUpAt);
        if (reclaim.kind === 'nothingFreed') throw refusal;
      }
    }
  }
  // Every round lost a race (takeovers or reclaims of others), or time ran out: contention, not the user's limit.
  throw refusal ?? new StoreContentionError(`connect of ${request.connectionId} kept racing or ran out of time`);
}

/**
 * The socket may open only if `$connect` answers in time for API Gateway to know it by its `openBy` (lifecycle.ts):
 * enders wait out a socket in its handshake until then, and no longer. A write that answered later withdraws its
 * connection (its socket will never open) and refuses the handshake: the player tries again.
 */
async function answerInTime<T extends ConnectResult>(
  deps: AdmissionDeps,
  conn: AdmittingConnection,
  result: T,
): Promise<T> {
  const clock = deps.clock ?? realClock;
  if (clock.now() <= answerBy(conn)) return result;
  await deps.store.release(conn.connectionId, 'withdrawn', clock.now()).catch((error: unknown) => {
    // Left counted, it is a ghost past its window: the next refused connect of the user releases it.
    deps.logger.warn('could not withdraw a late admission', { connectionId: conn.connectionId, error: String(error) });
  });
  throw new AdmissionTooLateError(conn.connectionId);
}

/**
 * The same `$connect` seen again (API Gateway or Lambda delivered it twice): nothing is written the second time, and
 * it is answered as the first write decided, if that one can still open in time. Released by its own `$disconnect`,
 * its socket is gone already: the answer opens nothing.
 */
function duplicate(deps: AdmissionDeps, existing: ConnectionRecord): ConnectResult {
  const clock = deps.clock ?? realClock;
  const inTime = clock.now() <= answerBy({ openBy: openByOf(existing, deps) });
  if ((existing.state === 'open' && inTime) || existing.closeReason === 'disconnected') return { kind: 'duplicate' };
  if (existing.closeReason === 'takenOver') throw new StreamReplacedError(existing.userId, existing.streamId ?? '');
  throw new AdmissionTooLateError(existing.connectionId);
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

/** The replaced socket is told and closed, even if it is still inside its own handshake. */
async function closeReplaced(deps: AdmissionDeps, replaced: UncountedSocket, by: AdmittingConnection) {
  try {
    // Until the replaced one's `openBy`, which comes a margin before this connection's own (lifecycle.ts, admitting).
    await endUncounted(deps, replaced, { reason: 'takenOver', device: by.device });
  } catch (error) {
    // The stream is already handed over; the socket, if it lives, is closed on its next message.
    deps.logger.warn('could not close the replaced connection', {
      connectionId: replaced.connectionId,
      error: String(error),
    });
  }
}
