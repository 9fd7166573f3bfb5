/**
 * Why a socket ended, told to the player in one `ended` frame just before the server closes it: a browser sees only
 * a close code, so without the frame a player cannot tell "another screen took over" from "the network dropped".
 */
import type { ConnectionGateway, Logger } from './ports.js';
import { sleep } from './retry.js';
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
  /** its handshake stamp, when the caller read it on the item (a stamp, once written, never changes) */
  handshakeAt?: number;
}

export interface EndUncountedOptions {
  now: number;
  /** a socket younger than this may still be inside its handshake (the handshake grace) */
  youngMs: number;
}

export interface EndUncountedDeps extends TellThenCloseDeps {
  store: { getConnection(connectionId: string): Promise<{ handshakeAt?: number } | undefined> };
}

/**
 * A socket whose `$connect` stamped its item (`handshakeAt`) opens within moments of the stamp; closes are tried
 * again until it is closed or this long after the stamp (then it opened and closed already, or its client left).
 * The stamp records when it was sent: one that waited longer than this to commit (DynamoDB Local under a burst of
 * hundreds at once) can be followed by its socket after the window; that socket is closed on its first message.
 */
const OPENING_WINDOW_MS = 1_000;
const OPENING_RETRY_DELAYS_MS = [25, 50, 100, 200, 400];

/**
 * Whether a socket API Gateway does not know may still open: its `$connect` stamped it within the opening window.
 * Past it, the socket opened and closed already, or never will.
 */
export const mayStillOpen = (handshakeAt: number, now: number) => now - handshakeAt <= OPENING_WINDOW_MS;

/**
 * tellThenClose for a socket whose stream has just been ended in the store (taken over, reclaimed, kicked, ended by
 * its user): call it after the release, never before. API Gateway answers 410 for a socket still inside its
 * handshake, which would then open uncounted. Whether one is opening is decided by the item: `$connect` stamps it
 * (`markHandshake`) just before answering, on condition it is still open, so the release and the stamp cannot both
 * succeed. No stamp: its handshake fails (or was lost), nothing to wait for. A recent stamp: the socket is opening or
 * open, and is closed as soon as API Gateway knows it. Old sockets reported gone are gone.
 */
export async function endUncounted(
  deps: EndUncountedDeps,
  socket: UncountedSocket,
  ended: { reason: EndedReason; device?: string | null },
  options: EndUncountedOptions,
): Promise<'closed' | 'gone'> {
  let outcome = await tellThenClose(deps, socket.connectionId, ended);
  if (outcome === 'closed' || options.now - socket.connectedAt >= options.youngMs) return outcome;
  const stampedAt = socket.handshakeAt ?? (await deps.store.getConnection(socket.connectionId))?.handshakeAt;
  if (stampedAt === undefined) return outcome;
  for (const delay of OPENING_RETRY_DELAYS_MS) {
    if (outcome === 'closed' || !mayStillOpen(stampedAt, Date.now())) break;
    await sleep(delay);
    outcome = await tellThenClose(deps, socket.connectionId, ended);
  }
  return outcome;
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
  options: EndUncountedOptions,
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
/** A close this recent may still have its `ended` frame on the way. */
const RECENT_CLOSE_MS = 10_000;
/** How long a message waits for that frame's close before telling the socket itself: a second in all. */
const ENDER_WAIT_DELAYS_MS = [100, 200, 300, 400];

export interface CloseUncountedDeps extends TellThenCloseDeps {
  store: { getConnection(connectionId: string): Promise<{ closedAt?: number; closeReason?: CloseReason } | undefined> };
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
      await sleep(delay);
      const liveness = await deps.gateway.probe(connectionId).catch(() => 'alive' as const);
      if (liveness === 'gone') return 'endedElsewhere';
    }
  }
  return tellThenClose(deps, connectionId, { reason: 'uncounted' });
}
