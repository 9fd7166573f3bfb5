/** `$connect`: admit the stream under the user's limit, or refuse the handshake. */
import { connect } from '../../core/admission.js';
import { LimitReachedError } from '../../core/errors.js';
import { parseConnect } from '../lib/connect-request.js';
import type { WebSocketHandler } from '../lib/events.js';
import { ErrorCode, errorBody } from '../lib/responses.js';
import type { Runtime } from '../lib/runtime.js';

export function createConnectHandler({ config, deps, logger }: Runtime): WebSocketHandler {
  return async (event) => {
    const parsed = parseConnect(event, config.authMode);
    if (!parsed.ok) return { statusCode: parsed.statusCode, body: errorBody(parsed.code, parsed.message) };
    try {
      const result = await connect(deps, parsed.request);
      if (result.kind === 'tookOver')
        logger.info('stream taken over', { ...parsed.request, replaced: result.replaced });
      return { statusCode: 200 };
    } catch (error) {
      if (error instanceof LimitReachedError) {
        logger.info('stream refused at limit', { userId: error.userId, active: error.active, limit: error.limit });
        return { statusCode: 429, body: errorBody(ErrorCode.LIMIT_REACHED, `at most ${error.limit} streams at once`) };
      }
      // Fail closed: a stream that could not be counted is not admitted.
      logger.error('connect failed', { connectionId: parsed.request.connectionId, error: error as Error });
      return { statusCode: 503, body: errorBody(ErrorCode.UNAVAILABLE, 'the service cannot admit streams right now') };
    }
  };
}
