/** `$connect`: admit the stream under the user's limit, or refuse the handshake. */
import { connect } from '../../core/admission.js';
import { AdmissionTooLateError, LimitReachedError, StreamReplacedError } from '../../core/errors.js';
import { REFUSAL_LOG_MESSAGE } from '../../core/events/names.js';
import { parseConnect } from '../lib/connect-request.js';
import type { WebSocketHandler } from '../lib/events.js';
import { MetricName, RefusalReason } from '../lib/metric-names.js';
import { ErrorCode, errorBody } from '../lib/responses.js';
import type { Runtime } from '../lib/runtime.js';

export function createConnectHandler({ config, deps, logger, metrics, refusals }: Runtime): WebSocketHandler {
  const admit: WebSocketHandler = async (event) => {
    const parsed = parseConnect(event, config.authMode);
    if (!parsed.ok) {
      metrics.refused(parsed.statusCode === 401 ? RefusalReason.unauthorized : RefusalReason.invalid);
      return { statusCode: parsed.statusCode, body: errorBody(parsed.code, parsed.message) };
    }
    try {
      const result = await connect(deps, parsed.request);
      // A redelivered `$connect` (duplicate) was counted the first time.
      if (result.kind !== 'duplicate') metrics.count(MetricName.admitted);
      if (result.kind === 'tookOver') {
        metrics.count(MetricName.takeovers);
        logger.info('stream taken over', { ...parsed.request, replaced: result.replaced });
      }
      if (result.kind === 'evicted') {
        // Its release is this admission's other half: counted in the same write, so one less stream is released.
        metrics.count(MetricName.released);
        logger.info('stream evicted to make room', { ...parsed.request, evicted: result.evicted });
      }
      return { statusCode: 200 };
    } catch (error) {
      if (error instanceof LimitReachedError) {
        metrics.refused(RefusalReason.limit);
        const { connectionId, streamId, device, sourceIp } = parsed.request;
        const refusal = { userId: error.userId, connectionId, streamId, device, sourceIp, active: error.active };
        // This line is also the event `stream.refused` in AWS (core/events/refusals.ts): no write, no wait.
        logger.info(REFUSAL_LOG_MESSAGE, { ...refusal, limit: error.limit });
        refusals?.({ ...refusal, limit: error.limit, at: Date.now() });
        return { statusCode: 429, body: errorBody(ErrorCode.LIMIT_REACHED, `at most ${error.limit} streams at once`) };
      }
      if (error instanceof StreamReplacedError) {
        metrics.refused(RefusalReason.replaced);
        logger.info('stream reconnected again meanwhile', { userId: error.userId, streamId: error.streamId });
        return {
          statusCode: 409,
          body: errorBody(ErrorCode.REPLACED, 'a newer connection of this stream arrived meanwhile and holds it'),
        };
      }
      if (error instanceof AdmissionTooLateError) {
        // The store was slow, not down: the item stays a ghost until its window passes; a retry gets in.
        metrics.refused(RefusalReason.tooLate);
        logger.warn('admission answered too late to open in time', { connectionId: error.connectionId });
        return {
          statusCode: 503,
          body: errorBody(ErrorCode.UNAVAILABLE, 'the store is slow right now; connect again'),
        };
      }
      // Fail closed: a stream that could not be counted is not admitted.
      metrics.refused(RefusalReason.unavailable);
      metrics.count(MetricName.storeErrors);
      logger.error('connect failed', { connectionId: parsed.request.connectionId, error: error as Error });
      return { statusCode: 503, body: errorBody(ErrorCode.UNAVAILABLE, 'the service cannot admit streams right now') };
    }
  };
  return async (event, context) => {
    const started = performance.now();
    try {
      return await admit(event, context);
    } finally {
      metrics.connectLatency(Math.round((performance.now() - started) * 10) / 10);
    }
  };
}
