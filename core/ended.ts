/**
 * Why a socket ended, told to the player in one `ended` frame just before the server closes it: a browser sees only
 * a close code, so without the frame a player cannot tell "another screen took over" from "the network dropped".
 */
import {
  type Clock,
  chase,
  ENDER_WAIT_DELAYS_MS,
  openBy,
  RECENT_CLOSE_MS,
  realClock,
  surelyPastOpening,
} from './lifecycle.js';
import type { ConnectionGateway, Logger } from './ports.js';
import type { CloseReason } from './store/items.js';

export const ENDED_REASONS = [
  'takenOver',
  'kicked',
  'endedByUser',
  'evicted',
  'uncounted',
  'idle',
  'maxDuration',
] as const;

export type EndedReason = (typeof ENDED_REASONS)[number];

export interface EndedFrame {
  type: 'ended';
  reason: EndedReason;
  /** the device that took the slot (takeover, eviction), or null when none did */
  device: string | null;
}

export function endedFrame(reason: EndedReason, device?: string | null): EndedFrame {
  return { type: 'ended', reason, device: device ?? null };
}

export interface TellThenCloseDeps {
  gateway: ConnectionGateway;
  logger: Pick<Logger, 'warn'>;
}

/**
 * Sends the `ended` frame (PostToConnection), then closes the socket (DeleteConnection): API Gateway delivers a
 * connection's frames in order, so the frame arrives before the close. A frame that cannot be sent never keeps the
 * socket open: the close is what the count relies on. 'gone' when the socket was already closed.
 */
export async function tellThenClose(
  deps: TellThenCloseDeps,
  connectionId: string,
  ended: { reason: EndedReason; device?: string | null },
): Promise<'closed' | 'gone'> {
  try {
    if ((await deps.gateway.send(connectionId, endedFrame(ended.reason, ended.device))) === 'gone') return 'gone';
  } catch (error) {
    deps.logger.warn('could not tell the socket why it ends', { connectionId, error: String(error) });
  }
  return deps.gateway.disconnect(connectionId);
}

/** A socket whose stream has just stopped counting, and when its `$connect` arrived. */
export interface UncountedSocket {
  connectionId: string;
  connectedAt: number;
  /** when its admitting write was sent, when the caller read it on the item (it never changes once written) */
  handshakeAt?: number;
}

export interface EndUncountedOptions {
  /** stop trying by then even if the socket's window lasts longer: a `$connect` doing the close must answer in time */
  giveUpAt?: number;
}

export interface EndUncountedDeps extends TellThenCloseDeps {
  store: { getConnection(connectionId: string): Promise<{ handshakeAt?: number } | undefined> };
  /** how long a `$connect` may run before it gives up (an item without `handshakeAt` is judged by it) */
  handshakeGraceMs: number;
  clock?: Clock;
}

/**
 * tellThenClose for a socket whose stream has just been ended in the store (taken over, reclaimed, kicked, ended by
 * its user): call it after the release, never before. API Gateway answers 410 for a socket still inside its
 * handshake, which would then open uncounted; so while the connection's opening window lasts (lifecycle.ts), a 410
 * is tried again at the chase cadence. The window is short and `$connect` enforces it on itself, so this ends, in
 * Lambda too, before the caller answers, and no socket of the stream opens after it.
 */
export async function endUncounted(
  deps: EndUncountedDeps,
  socket: UncountedSocket,
  ended: { reason: EndedReason; device?: string | null },
  options: EndUncountedOptions = {},
): Promise<'closed' | 'gone'> {
  const clock = deps.clock ?? realClock;
  const first = await tellThenClose(deps, socket.connectionId, ended);
  if (first === 'closed' || surelyPastOpening(socket.connectedAt, clock.now(), deps.handshakeGraceMs)) return first;
  const handshakeAt = socket.handshakeAt ?? (await deps.store.getConnection(socket.connectionId))?.handshakeAt;
  const until = Math.min(
    openBy({ connectedAt: socket.connectedAt, handshakeAt }, deps.handshakeGraceMs),
    options.giveUpAt ?? Number.POSITIVE_INFINITY,
  );
  return chase(
    clock,
    until,
    () => tellThenClose(deps, socket.connectionId, ended),
    (outcome) => outcome === 'closed',
    first,
  );
}

/**
 * endUncounted for the one ender whose release closed the item. A stream released meanwhile by someone else (a
 * takeover, an eviction, a kick, its player, its `$disconnect`) is told and closed by them: a second `ended` frame
 * would contradict the first.
 */
export async function endIfReleasedHere(
  deps: EndUncountedDeps,
  release: { kind: string },
  socket: UncountedSocket,
  ended: { reason: EndedReason; device?: string | null },
  options: EndUncountedOptions = {},
): Promise<'closed' | 'gone' | 'endedElsewhere'> {
  return release.kind === 'released' ? endUncounted(deps, socket, ended, options) : 'endedElsewhere';
}

/** Who ends a stream and then tells its socket why, moments after the release. */
const TELLING_CLOSERS: ReadonlySet<CloseReason> = new Set([
  'takenOver',
  'evicted',
  'kicked',
  'endedByUser',
  'reclaimed',
]);
export interface CloseUncountedDeps extends TellThenCloseDeps {
  store: { getConnection(connectionId: string): Promise<{ closedAt?: number; closeReason?: CloseReason } | undefined> };
  clock?: Clock;
}

/**
 * A socket that speaks but no longer counts must not outlive its count: it is told `uncounted` and closed. Unless it
 * was ended a moment ago by one that tells it why (a takeover, an eviction, a kick, its player, a reclaim): its frame
 * and close are on the way, and a second `ended` would contradict it. Then this waits, up to a second, for the socket
 * to be gone, and tells it only if it still lives (its ender failed, or gave up on a socket still in its handshake).
 */
export async function closeUncounted(
  deps: CloseUncountedDeps,
  connectionId: string,
  now: number,
): Promise<'closed' | 'gone' | 'endedElsewhere'> {
  const item = await deps.store.getConnection(connectionId);
  const endedByATeller =
    item?.closeReason !== undefined &&
    TELLING_CLOSERS.has(item.closeReason) &&
    now - (item.closedAt ?? 0) < RECENT_CLOSE_MS;
  if (endedByATeller) {
    for (const delay of ENDER_WAIT_DELAYS_MS) {
      await (deps.clock ?? realClock).sleep(delay);
      const liveness = await deps.gateway.probe(connectionId).catch(() => 'alive' as const);
      if (liveness === 'gone') return 'endedElsewhere';
    }
  }
  return tellThenClose(deps, connectionId, { reason: 'uncounted' });
}
