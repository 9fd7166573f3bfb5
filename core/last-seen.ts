/**
 * When each listed stream was last seen: API Gateway's `lastActiveAt` for its socket (a heartbeat or any message
 * renews it), since the store is not written per heartbeat. Where API Gateway cannot say (the socket is still in its
 * handshake, is gone and not yet released, or the question failed), the item's own time: its connect.
 */
import { forEachLimited } from './limiter.js';
import type { ConnectionGateway, Logger } from './ports.js';
import type { ConnectionRecord } from './store/items.js';

/** Questions in flight at once for one listing: a user holds at most 100 streams, most hold a few. */
const QUESTIONS_IN_FLIGHT = 16;

/** Last-seen times (ms) by connection id, for every connection given. */
export async function lastSeenTimes(
  deps: { gateway: ConnectionGateway; logger: Logger },
  connections: readonly ConnectionRecord[],
): Promise<Map<string, number>> {
  const seen = new Map(connections.map((c) => [c.connectionId, c.lastSeenAt] as const));
  await forEachLimited(connections, QUESTIONS_IN_FLIGHT, async ({ connectionId }) => {
    try {
      const at = await deps.gateway.lastActive(connectionId);
      if (at !== 'gone') seen.set(connectionId, Math.max(at, seen.get(connectionId) ?? 0));
    } catch (error) {
      // A listing is for people: it shows the stored time rather than failing over one unanswered question.
      deps.logger.warn('last activity unknown', { connectionId, error: (error as Error).message });
    }
  });
  return seen;
}
