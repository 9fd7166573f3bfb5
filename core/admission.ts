/**
 * What happens to a stream: admitted under the user's limit, taken over on reconnect, released when its socket
 * ends. Knows nothing of Lambda; collaborators come in as arguments.
 */
import { AdmissionTooLateError, LimitReachedError, StoreContentionError, StreamReplacedError } from './errors.js';
import { makeRoom } from './eviction.js';
import {
  type AdmittingConnection,
  admitting,
  answerBy,
  type ConnectRequest,
  DEFAULT_RESUME_HOLD_MS,
  DELIBERATE_END_CODE,
  memberOpenBy,
  openByOf,
  realClock,
} from './lifecycle.js';
import { DEFAULT_LIMIT_POLICY, effectivePolicy, type LimitPolicy } from './policy.js';
import { awaitEnded, type GhostDeps, knownOrPast, reclaimGhosts } from './reclaim.js';
import { endReplaced, type ReplacedOutcome } from './replaced.js';
import { type ConnectionRecord, effectiveLimit, planOrDefault } from './store/items.js';
import type { ReleaseOutcome } from './store/port.js';

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
 * Reclaims, takeovers and evictions that race other connects of the same user are retried, each round after another
 * connect got through: a takeover only ever moves a stream to a newer connection, and one eviction completes at a time
 * (the victim holds its slot until its socket is closed), so a burst of N connects settles within N rounds for its
 * last one. Bounded by the `$connect`'s deadline besides (HANDSHAKE_GRACE_SECONDS).
 */
const MAX_ROUNDS = 64;

/** Whether connection `a` arrived after `b`: API Gateway's `connectedAt`, then the id, so that ties still order. */
const newer = (a: { at: number; id: string }, b: { at: number; id: string }) =>
  a.at !== b.at ? a.at > b.at : a.id > b.id;

export async function connect(deps: AdmissionDeps, request: ConnectRequest): Promise<ConnectResult> {
  const clock = deps.clock ?? realClock;
  // A `$connect` that cannot finish in time gives up (503) rather than keep API Gateway waiting.
  const giveUpAt = request.connectedAt + deps.handshakeGraceMs;
  /** for waits on slots still held by ending sockets: the limit without a staff override, and the deadline */
  const room = { self: request.connectionId, limit: planOrDefault(request, deps.defaultLimit), giveUpAt };
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
        const holder = { ...replaced, openBy: memberOpenBy(counter, heldBy, deps) };
        // A holder still opening is waited for (known, or past its window) before it is replaced: the close after the
        // write then never waits on a window, and a burst of reconnects waits on one holder, not on each other. One
        // held for its stream (lifecycle.ts, held) is gone for good: its `$disconnect` ran, so no wait on its window.
        const known = clock.now() <= holder.openBy ? await heldOrKnown(deps, holder, giveUpAt) : 'past';
        if (known === 'undecided') continue;
        const taking = admitting(deps, request, clock.now());
        const taken = await deps.store.takeOver(
          { ...taking, streamId: conn.streamId! },
          { heldBy, maxConnectionMs: deps.maxConnectionMs },
        );
        if (taken.kind === 'changed') continue;
        if (taken.kind === 'duplicate') return duplicate(deps, taken.existing);
        if (taken.kind === 'heldByEnding') {
          // A kick or the player's own end is closing it: this socket opens once that one is gone.
          await awaitEnded(deps, conn.userId, holder, giveUpAt);
          continue;
        }
        // Known to API Gateway a moment ago (or, held, until its `$disconnect`): a 410 now is final.
        const replacedSocket = { ...holder, userId: conn.userId, seenAlive: known === 'alive' || known === 'held' };
        const settled = await endReplaced(deps, replacedSocket, { reason: 'takenOver', device: conn.device }, room);
        return answerInTime(deps, taking, { kind: 'tookOver', replaced: heldBy }, settled);
      }
      case 'limitReached': {
        const { counter } = outcome;
        const limit = effectiveLimit(counter, planOrDefault(request, deps.defaultLimit));
        refusal = new LimitReachedError(request.userId, counter.active, limit);
        if (effectivePolicy(counter, deps.defaultPolicy ?? DEFAULT_LIMIT_POLICY) === 'evict-oldest') {
          const made = await makeRoom(deps, request, counter, giveUpAt);
          if (made.kind === 'duplicate') return duplicate(deps, made.existing);
          if (made.kind === 'evicted') {
            const victim = { userId: conn.userId, ...made.victim };
            const settled = await endReplaced(deps, victim, { reason: 'evicted', device: conn.device }, room);
            return answerInTime(deps, made.admitted, { kind: 'evicted', evicted: victim.connectionId }, settled);
          }
          if (made.kind === 'lookAgain') continue;
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
 * knownOrPast for a holder still in its window, unless its item says it is held: its socket is gone for good. The item
 * is read only when API Gateway does not know the socket at the first question (a live holder costs no store call).
 */
async function heldOrKnown(
  deps: AdmissionDeps,
  holder: { connectionId: string; connectedAt: number; openBy: number },
  giveUpAt: number,
): Promise<'alive' | 'gone' | 'undecided' | 'held'> {
  const first = await knownOrPast(deps, holder, (deps.clock ?? realClock).now());
  if (first !== 'undecided') return first;
  const item = await deps.store.getConnection(holder.connectionId);
  if (item?.state === 'open' && item.heldUntil !== undefined) return 'held';
  return knownOrPast(deps, holder, giveUpAt);
}

/**
 * The socket may open only if `$connect` answers in time for API Gateway to know it by its `openBy` (lifecycle.ts):
 * enders wait out a socket in its handshake until then, and no longer. A write that answered later withdraws its
 * connection (its socket will never open) and refuses the handshake: the player tries again. A `resume` player's is
 * held instead, as a dropped socket of its is (lifecycle.ts, held): a takeover it won already ended the socket it
 * replaced, and the place stays the stream's for the player's next try rather than going to another device.
 */
async function answerInTime<T extends ConnectResult>(
  deps: AdmissionDeps,
  conn: AdmittingConnection,
  result: T,
  replaced: ReplacedOutcome = { kind: 'ready' },
): Promise<T> {
  const clock = deps.clock ?? realClock;
  if (replaced.kind === 'ready' && clock.now() <= answerBy(conn)) return result;
  const withdraw = async () => {
    const heldUntil = clock.now() + (deps.resumeHoldMs ?? DEFAULT_RESUME_HOLD_MS);
    if (conn.resume && (await deps.store.hold(conn.connectionId, heldUntil))) return;
    await deps.store.release(conn.connectionId, 'withdrawn', clock.now());
  };
  await withdraw().catch((error: unknown) => {
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

export type DisconnectOutcome = ReleaseOutcome | { kind: 'held'; connection: ConnectionRecord };

/**
 * The socket is gone; give its stream back. Safe to run twice, or after a kick or the sweep got there first. A
 * `resume` connection that nobody ended and whose player did not end it on purpose (`code`, DELIBERATE_END_CODE)
 * keeps its slot for its stream's reconnect instead (lifecycle.ts, held); held once, a redelivery changes nothing.
 */
export async function disconnect(
  deps: Pick<AdmissionDeps, 'store' | 'resumeHoldMs'>,
  connectionId: string,
  at: number,
  code?: number,
): Promise<DisconnectOutcome> {
  let known = await deps.store.getConnection(connectionId);
  if (known?.resume && code !== DELIBERATE_END_CODE) {
    const heldUntil = at + (deps.resumeHoldMs ?? DEFAULT_RESUME_HOLD_MS);
    if (known.state === 'open' && known.heldUntil === undefined && (await deps.store.hold(connectionId, heldUntil))) {
      return { kind: 'held', connection: { ...known, heldUntil } };
    }
    // Held by another delivery of this `$disconnect`, or closed by a teller meanwhile (then its slot is free now).
    if (known.state === 'open' && known.heldUntil === undefined) known = await deps.store.getConnection(connectionId);
    if (known?.state === 'open' && known.heldUntil !== undefined) return { kind: 'held', connection: known };
  }
  if (!known) return { kind: 'unknown' };
  return deps.store.release(connectionId, 'disconnected', at, known);
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
