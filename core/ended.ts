/**
 * Why a socket ended, told to the player in one `ended` frame just before the server closes it: a browser sees only
 * a close code, so without the frame a player cannot tell "another screen took over" from "the network dropped".
 */
import type { ConnectionGateway, Logger } from './ports.js';

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
