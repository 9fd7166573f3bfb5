/**
 * `evict-oldest`: a user at their limit who opens one more stream keeps watching, and their least recently active
 * stream is ended to make room (its socket is told `evicted`, naming the new device). The swap is one transaction
 * (`StreamStore.evict`), so the count never passes the limit and two connects racing for the same victim cannot both
 * evict it: the loser looks again at the counter its failed condition returned.
 */
import type { UncountedSocket } from './ended.js';
import { StoreContentionError } from './errors.js';
import {
  type AdmittingConnection,
  admitting,
  type ConnectRequest,
  endingWaitUntil,
  memberOpenBy,
  realClock,
} from './lifecycle.js';
import { DEFAULT_LIMIT_POLICY, effectivePolicy, type LimitPolicy } from './policy.js';
import { awaitEnded, type GhostDeps, knownOrPast } from './reclaim.js';
import { type ConnectionRecord, type CounterRecord, effectiveLimit, planOrDefault } from './store/items.js';

export interface EvictionDeps extends GhostDeps {
  defaultLimit: number;
  defaultPolicy?: LimitPolicy;
}

export type RoomOutcome =
  /**
   * `victim`'s item was closed and the new connection counted, as `admitted`; the victim still holds its slot until
   * the caller has closed its socket (`endReplaced`)
   */
  | { kind: 'evicted'; victim: UncountedSocket; admitted: AdmittingConnection }
  /** this `$connect` was already written (redelivered) */
  | { kind: 'duplicate'; existing: ConnectionRecord }
  /** room came free, the stream id is held (a takeover), the policy changed, or ghosts were released: admit again */
  | { kind: 'lookAgain' }
  /**
   * nothing fair to evict: the limit is 0, the user holds more than their limit (staff lowered it: as under
   * block-new, nothing new until they are under it), or the counter disagrees with its members (drift to repair)
   */
  | { kind: 'cannot' };

/**
 * How many victims one connect may try before it gives up (503). Racing connects of one user all choose the same
 * least recently active stream and one of them wins per try, so a burst of N needs up to N tries for its last one.
 */
export const MAX_EVICTION_TRIES = 64;

/**
 * What API Gateway says of a counted connection: when it was last active, or that it does not know it (and when it
 * was asked: a 410 is final only for a question asked after the connection's `openBy`, lifecycle.ts).
 */
type Activity = { kind: 'active'; at: number } | { kind: 'gone'; askedAt: number } | { kind: 'unknown' };

async function activityOf(deps: EvictionDeps, connectionId: string): Promise<Activity> {
  try {
    const askedAt = (deps.clock ?? realClock).now();
    const at = await deps.gateway.lastActive(connectionId);
    return at === 'gone' ? { kind: 'gone', askedAt } : { kind: 'active', at };
  } catch (error) {
    deps.logger.warn('GetConnection failed; ranked by its connect time', { connectionId, error: String(error) });
    return { kind: 'unknown' };
  }
}

/**
 * Makes room for `conn` by evicting the user's least recently active stream. Asks API Gateway once per counted
 * connection when each was last active (`lastActiveAt`: a heartbeat or any message renews it). A connection API
 * Gateway no longer knows is released as a ghost instead, unless it may still be opening (asked before its `openBy`):
 * then it ranks by its connect time, and if evicted is closed once it opens (`endUncounted`). A victim some teller
 * is ending already (a kick) is waited for instead: this socket must not open beside it.
 */
export async function makeRoom(
  deps: EvictionDeps,
  conn: ConnectRequest,
  first: CounterRecord,
  /** the `$connect`'s own deadline: no new eviction is tried past it */
  giveUpAt: number,
): Promise<RoomOutcome> {
  const now = conn.connectedAt;
  const clock = deps.clock ?? realClock;
  const defaultLimit = planOrDefault(conn, deps.defaultLimit);
  const known = new Map<string, Activity>();
  let counter = first;
  for (let attempt = 0; attempt < MAX_EVICTION_TRIES && clock.now() <= giveUpAt; attempt++) {
    const limit = effectiveLimit(counter, defaultLimit);
    if (effectivePolicy(counter, deps.defaultPolicy ?? DEFAULT_LIMIT_POLICY) !== 'evict-oldest') return lookAgain;
    if (counter.active < limit) return lookAgain;
    if (conn.streamId && counter.streams.has(conn.streamId)) return lookAgain;
    if (counter.active > limit && (await awaitEnding(deps, counter, giveUpAt))) return lookAgain;
    if (limit === 0 || counter.active > limit || counter.counted.size !== counter.active) return { kind: 'cannot' };

    const ids = [...counter.counted.keys()];
    const unasked = ids.filter((id) => !known.has(id));
    const answers = await Promise.all(unasked.map((id) => activityOf(deps, id)));
    for (const [i, id] of unasked.entries()) known.set(id, answers[i]!);
    // One that may still be opening is waited for (known, or past its window) before anything is decided on it: a
    // victim is never a socket that may still open, so its close after the write never waits on a window.
    await Promise.all(
      ids.map(async (id) => {
        const answer = known.get(id)!;
        const member = {
          connectionId: id,
          connectedAt: counter.counted.get(id)!,
          openBy: memberOpenBy(counter, id, deps),
        };
        if (answer.kind !== 'gone' || answer.askedAt > member.openBy) return;
        const settled = await knownOrPast(deps, member, giveUpAt);
        known.set(
          id,
          settled === 'alive'
            ? { kind: 'active', at: member.connectedAt }
            : settled === 'gone'
              ? { kind: 'gone', askedAt: Number.POSITIVE_INFINITY }
              : { kind: 'unknown' },
        );
      }),
    );

    const ghosts = ids.filter((id) => {
      if (now - counter.counted.get(id)! > deps.maxConnectionMs) return true;
      const answer = known.get(id)!;
      return answer.kind === 'gone' && answer.askedAt > memberOpenBy(counter, id, deps);
    });
    if (ghosts.length > 0) {
      // A gone stream frees its slot without ending anyone's: released as a refusal would, then admitted again.
      if (await deps.store.releaseGhosts(counter, ghosts, now)) {
        deps.logger.info('ghosts reclaimed', { userId: counter.userId, connectionIds: ghosts });
        for (const id of ghosts) deps.events?.({ kind: 'ghostReclaimed', connectionId: id, userId: counter.userId });
      }
      return lookAgain;
    }

    const victim = leastRecentlyActive(counter, known);
    const victimOpenBy = memberOpenBy(counter, victim, deps);
    const admitted = admitting(deps, conn, clock.now());
    const outcome = await deps.store.evict(admitted, {
      victim: { connectionId: victim, streamId: streamHeldBy(counter, victim) },
      defaultLimit,
      defaultPolicy: deps.defaultPolicy ?? DEFAULT_LIMIT_POLICY,
      maxConnectionMs: deps.maxConnectionMs,
    });
    if (outcome.kind === 'duplicate') return outcome;
    if (outcome.kind === 'evicted') {
      deps.logger.info('stream evicted', { userId: conn.userId, evicted: victim, by: conn.connectionId });
      const seenAlive = known.get(victim)?.kind === 'active';
      return { kind: 'evicted', victim: { connectionId: victim, openBy: victimOpenBy, seenAlive }, admitted };
    }
    if (outcome.kind === 'victimEnding') {
      const ending = { connectionId: victim, connectedAt: counter.counted.get(victim)!, openBy: victimOpenBy };
      await awaitEnded(deps, conn.userId, ending, giveUpAt);
      return lookAgain;
    }
    counter = outcome.counter;
  }
  throw new StoreContentionError(`connect of ${conn.connectionId} lost every eviction race, or ran out of time`);
}

const lookAgain: RoomOutcome = { kind: 'lookAgain' };

/**
 * Over the limit because a socket is still being closed (a takeover's, an eviction's or a kick's, lifecycle.ts
 * ending): waits for those slots and says so, to look again. Over it with none ending (staff lowered the limit): no.
 */
async function awaitEnding(deps: EvictionDeps, counter: CounterRecord, giveUpAt: number): Promise<boolean> {
  const { ending } = await deps.store.countedConnections(counter);
  if (ending.length === 0) return false;
  const now = (deps.clock ?? realClock).now();
  await Promise.all(
    ending.map((c) => awaitEnded(deps, counter.userId, c, Math.min(giveUpAt, endingWaitUntil(c, now, deps)))),
  );
  return true;
}

/**
 * The counted connection last active longest ago. One API Gateway does not know (young: maybe in its handshake) or
 * could not answer for ranks by its connect time. Ties go to the earlier connect, then the smaller id, so racing
 * connects agree on the victim and the transaction decides between them.
 */
function leastRecentlyActive(counter: CounterRecord, known: Map<string, Activity>): string {
  const rank = (id: string) => {
    const a = known.get(id);
    const connectedAt = counter.counted.get(id)!;
    return { id, at: a?.kind === 'active' ? a.at : connectedAt, connectedAt };
  };
  const [oldest] = [...counter.counted.keys()]
    .map(rank)
    .sort((x, y) => x.at - y.at || x.connectedAt - y.connectedAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return oldest!.id;
}

function streamHeldBy(counter: CounterRecord, connectionId: string): string | undefined {
  for (const [streamId, holder] of counter.streams) if (holder === connectionId) return streamId;
  return undefined;
}
