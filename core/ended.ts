/**
 * Why a socket ended, told to the player in one `ended` frame just before the server closes it: a browser sees only
 * a close code, so without the frame a player cannot tell "another screen took over" from "the network dropped".
 */
import type { ConnectionGateway, Logger } from './ports.js';
import { sleep } from './retry.js';

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
}

export interface EndUncountedOptions {
  now: number;
  /** a socket younger than this may still be inside its handshake (the handshake grace) */
  youngMs: number;
}

/**
 * Pauses between tries while a young socket may still be inside its handshake. One short one: the socket's own
 * `$connect` reads its item once more just before answering (a stream ended before that read fails its handshake),
 * so only the moment between that read and API Gateway completing the handshake is left to cover.
 */
const HANDSHAKE_RETRY_DELAYS_MS = [100];

/**
 * tellThenClose for a socket whose stream was just taken from it (taken over, reclaimed, kicked), which must not
 * outlive its count. API Gateway answers 410 for a socket still inside its handshake: its `$connect` has committed,
 * the socket is not open yet, and it would open uncounted. So a young socket reported gone is tried again for a
 * moment, until it is closed or the pauses run out (then it truly was gone: closed, or a lost handshake). Old
 * sockets reported gone are gone; only the rare race with a handshake ever waits here.
 */
export async function endUncounted(
  deps: TellThenCloseDeps,
  socket: UncountedSocket,
  ended: { reason: EndedReason; device?: string | null },
  options: EndUncountedOptions,
): Promise<'closed' | 'gone'> {
  let outcome = await tellThenClose(deps, socket.connectionId, ended);
  if (options.now - socket.connectedAt >= options.youngMs) return outcome;
  for (const delay of HANDSHAKE_RETRY_DELAYS_MS) {
    if (outcome === 'closed') break;
    await sleep(delay);
    outcome = await tellThenClose(deps, socket.connectionId, ended);
  }
  return outcome;
}
