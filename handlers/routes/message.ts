/** `$default`: every message frame, routed by its `action`. The answer goes back as the route's response. */
import { heartbeat, userStatus } from '../../core/admission.js';
import { closeUncounted } from '../../core/ended.js';
import type { WebSocketHandler, WebSocketResult } from '../lib/events.js';
import { MetricName } from '../lib/metric-names.js';
import { ErrorCode } from '../lib/responses.js';
import type { Runtime } from '../lib/runtime.js';

const frame = (body: Record<string, unknown>): WebSocketResult => ({ statusCode: 200, body: JSON.stringify(body) });
const errorFrame = (code: ErrorCode, message: string) => frame({ type: 'error', code, message });

/**
 * An action as it may be shown in a reply or a log: the client chose it, so it may be nested thousands of levels deep,
 * and stringifying it (`JSON.stringify`, `String`) could blow the stack. Only strings are quoted, and cut short.
 */
function describeAction(action: unknown): string {
  if (typeof action === 'string') return JSON.stringify(action.slice(0, 100));
  if (action === undefined || action === null) return 'none';
  return `of type ${Array.isArray(action) ? 'array' : typeof action}`;
}

export function createMessageHandler({ deps, logger, metrics }: Runtime): WebSocketHandler {
  /** A socket that speaks but no longer counts (ended while it was still in its handshake, or a moment ago). */
  const uncounted = async (connectionId: string, at: number) => {
    const socket = await closeUncounted(deps, connectionId, at);
    if (socket === 'closed') logger.warn('closed a socket that was not counted', { connectionId });
    return errorFrame(ErrorCode.NOT_CONNECTED, 'this connection is no longer counted');
  };
  return async (event) => {
    const { connectionId, requestTimeEpoch } = event.requestContext;
    if (event.isBase64Encoded)
      return errorFrame(ErrorCode.INVALID_MESSAGE, 'binary frames are not supported; send JSON text');
    let message: unknown;
    try {
      message = JSON.parse(event.body ?? '');
    } catch {
      return errorFrame(ErrorCode.INVALID_JSON, 'the message is not JSON');
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return errorFrame(ErrorCode.INVALID_MESSAGE, 'the message must be a JSON object with an "action"');
    }
    const action = (message as { action?: unknown }).action;
    try {
      switch (action) {
        case 'heartbeat': {
          const connection = await heartbeat(deps, connectionId, requestTimeEpoch);
          if (!connection) return await uncounted(connectionId, requestTimeEpoch);
          return frame({
            type: 'heartbeat',
            connectionId,
            leaseExpiresAt: new Date(connection.leaseExpiresAt).toISOString(),
          });
        }
        case 'status': {
          const status = await userStatus(deps, connectionId);
          if (!status) return await uncounted(connectionId, requestTimeEpoch);
          return frame({ type: 'status', ...status, connectionId });
        }
        default:
          return errorFrame(
            ErrorCode.UNKNOWN_ACTION,
            `unknown action ${describeAction(action)}; use heartbeat or status`,
          );
      }
    } catch (error) {
      metrics.count(MetricName.storeErrors);
      logger.error('message failed', { connectionId, action: describeAction(action), error: error as Error });
      return errorFrame(ErrorCode.UNAVAILABLE, 'the service cannot answer right now; try again');
    }
  };
}
