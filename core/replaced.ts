/**
 * What a `$connect` does after its takeover or eviction write, before it answers (lifecycle.ts): the replaced socket is
 * told why and closed; only then is its slot given up (it stayed counted, ending, until now); and the new socket may
 * open only once no other ending socket of the user keeps them over their limit. So no new socket ever opens beside
 * one that still holds a slot, however slow the store or API Gateway: the count always covers every socket that may
 * be open.
 */
import { type EndedReason, endUncounted, type UncountedSocket } from './ended.js';
import { endingWaitUntil, realClock } from './lifecycle.js';
import { awaitEnded, type GhostDeps } from './reclaim.js';
import type { CounterRecord } from './store/items.js';
import { effectiveLimit } from './store/items.js';

export interface Replaced extends UncountedSocket {
  userId: string;
}

export type ReplacedOutcome =
  /** the replaced socket closed (or gone for sure), its slot given up, and the user within their limit */
  | { kind: 'ready' }
  /** a socket still open holds a slot past the deadline (the replaced one, or another one ending): do not open */
  | { kind: 'stillOpen' };

export interface Room {
  /** the connection about to open */
  self: string;
  /** the limit without a staff override */
  limit: number;
  /** the `$connect`'s own deadline */
  giveUpAt: number;
}

export async function endReplaced(
  deps: GhostDeps,
  replaced: Replaced,
  ended: { reason: Extract<EndedReason, 'takenOver' | 'evicted'>; device?: string | null },
  room: Room,
): Promise<ReplacedOutcome> {
  try {
    // Until the replaced one's `openBy`, which comes before this connection's own (lifecycle.ts, admitting).
    await endUncounted(deps, replaced, ended);
  } catch (error) {
    // Not closed for sure: its slot stays held (ending), and this connection waits for it below like any other.
    deps.logger.warn('could not close the replaced connection', {
      connectionId: replaced.connectionId,
      error: String(error),
    });
    return settle(deps, await deps.store.getCounter(replaced.userId), room);
  }
  // Without its claim when the claim moved on to this connection (a takeover), with it when it did not (an eviction
  // removes it in its write already).
  const counter =
    (await deps.store.uncount({ userId: replaced.userId, connectionId: replaced.connectionId })) ??
    (await deps.store.getCounter(replaced.userId));
  return settle(deps, counter, room);
}

/** Within the limit, or once every ending connection that keeps the user over it has given its slot up. */
async function settle(deps: GhostDeps, counter: CounterRecord, room: Room): Promise<ReplacedOutcome> {
  if (counter.active <= effectiveLimit(counter, room.limit)) return { kind: 'ready' };
  const { ending } = await deps.store.countedConnections(counter);
  // Ended itself meanwhile (a newer reconnect or an eviction): whoever did it closes this socket as it opens, and
  // waits for nobody on its account; waiting here would only hold up the chain behind it.
  if (ending.some((c) => c.connectionId === room.self)) return { kind: 'ready' };
  const now = (deps.clock ?? realClock).now();
  const slots = await Promise.all(
    ending.map((c) => awaitEnded(deps, counter.userId, c, Math.min(room.giveUpAt, endingWaitUntil(c, now, deps)))),
  );
  if (slots.some((slot) => slot === 'open') || (deps.clock ?? realClock).now() > room.giveUpAt) {
    return { kind: 'stillOpen' };
  }
  return { kind: 'ready' };
}
