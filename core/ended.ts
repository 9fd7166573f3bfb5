/**
 * Why a socket ended, told to the player in one `ended` frame just before the server closes it: a browser sees only
 * a close code, so without the frame a player cannot tell "another screen took over" from "the network dropped".
 */
import { type Clock, chase, type LifecycleTimes, openByOf, RECENT_CLOSE_MS, realClock } from './lifecycle.js';
import type { ConnectionGateway, Logger } from './ports.js';
import type { CloseReason, ConnectionRecord } from './store/items.js';
import type { ReleaseOutcome, StreamStore } from './store/port.js';

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
  return (await tellThenCloseOnce(deps, connectionId, ended)) === 'closed' ? 'closed' : 'gone';
}

/**
 * tellThenClose, saying also whether the socket was known when told: one that was (its frame went out) and is gone by
 * the close has closed on its own, for good (a connection id is one socket: once registered, 410 is final).
 */
async function tellThenCloseOnce(
  deps: TellThenCloseDeps,
  connectionId: string,
  ended: { reason: EndedReason; device?: string | null },
): Promise<'closed' | 'gone' | 'goneAfterTold'> {
  let told = false;
  try {
    if ((await deps.gateway.send(connectionId, endedFrame(ended.reason, ended.device))) === 'gone') return 'gone';
    told = true;
  } catch (error) {
    deps.logger.warn('could not tell the socket why it ends', { connectionId, error: String(error) });
  }
  const closing = await deps.gateway.disconnect(connectionId);
  return closing === 'gone' && told ? 'goneAfterTold' : closing;
}

/** A socket whose stream has just stopped counting, and by when it is open or never will be (lifecycle.ts). */
export interface UncountedSocket {
  connectionId: string;
  openBy: number;
  /** API Gateway knew it a moment ago: a 410 now means it closed for good, whatever its window */
  seenAlive?: boolean;
}

export interface EndUncountedDeps extends TellThenCloseDeps {
  clock?: Clock;
}

/**
 * tellThenClose for a socket whose stream has just been ended in the store (taken over, evicted, kicked, ended by its
 * player): call it after the write that ended it, by the one whose write did. API Gateway answers 410 for a socket
 * still inside its handshake, which would then open uncounted; so a 410 is asked again at the chase cadence until an
 * answer comes to a question asked after the socket's `openBy` (lifecycle.ts). `$connect` enforces `openBy` on itself,
 * so this ends within the window, in Lambda too, and no socket of the stream opens after it.
 */
export async function endUncounted(
  deps: EndUncountedDeps,
  socket: UncountedSocket,
  ended: { reason: EndedReason; device?: string | null },
): Promise<'closed' | 'gone'> {
  const clock = deps.clock ?? realClock;
  const outcome = await chase(
    clock,
    socket.seenAlive ? clock.now() : socket.openBy,
    () => tellThenCloseOnce(deps, socket.connectionId, ended),
    // Told, then gone: it was registered, so it closed on its own and cannot open again.
    (o) => o === 'closed' || o === 'goneAfterTold',
  );
  return outcome === 'closed' ? 'closed' : 'gone';
}

export interface EndStreamDeps extends EndUncountedDeps {
  store: Pick<StreamStore, 'closeItem' | 'uncount'>;
}

export interface EndStreamOutcome {
  /** 'released' when this call ended it; 'alreadyReleased' when another ender (or its `$disconnect`) did first */
  release: ReleaseOutcome['kind'];
  socket: 'closed' | 'gone' | 'endedElsewhere';
}

/**
 * A kick or a player's end (lifecycle.ts, ending): the item is closed first, on condition it is open, so exactly one
 * ender tells the socket why; the socket is told and closed; only then is the stream uncounted, so no new socket can
 * take its slot while it is still open, however slow the store. Another ender that got there first tells it instead:
 * a second `ended` frame would contradict the first.
 */
export async function endStream(
  deps: EndStreamDeps,
  connection: ConnectionRecord,
  ended: { reason: Extract<EndedReason, CloseReason>; at: number; times: LifecycleTimes },
): Promise<EndStreamOutcome> {
  const closing = await deps.store.closeItem(connection.connectionId, ended.reason, ended.at, connection);
  if (closing.kind !== 'released') return { release: closing.kind, socket: 'endedElsewhere' };
  const openBy = openByOf(connection, ended.times);
  // Should API Gateway fail here, the slot stays held (the caller answers with an error): the socket, if it lives, is
  // closed on its next message and its `$disconnect` frees the slot; if it is gone, the next refused connect does.
  const socket = await endUncounted(deps, { connectionId: connection.connectionId, openBy }, { reason: ended.reason });
  // Closed, or unknown to a question asked after its window: gone for sure.
  await deps.store.uncount(connection);
  return { release: 'released', socket };
}

/** Who ends a stream and then tells its socket why (lifecycle.ts), moments after its write. */
const TELLING_CLOSERS: ReadonlySet<CloseReason> = new Set(['takenOver', 'evicted', 'kicked', 'endedByUser']);
export interface CloseUncountedDeps extends TellThenCloseDeps {
  store: { getConnection(connectionId: string): Promise<{ closedAt?: number; closeReason?: CloseReason } | undefined> };
}

/**
 * A socket that speaks but no longer counts must not outlive its count: it is told `uncounted` and closed. Unless a
 * teller (a takeover, an eviction, a kick, its player) ended it a moment ago: its frame and close are on the way, and
 * a second `ended` would contradict the first, so it is left to that teller (RECENT_CLOSE_MS, lifecycle.ts). With the
 * lifecycle as it is, only a socket whose teller failed, or whose message races its teller's frame, ever gets here.
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
  if (endedByATeller) return 'endedElsewhere';
  return tellThenClose(deps, connectionId, { reason: 'uncounted' });
}
