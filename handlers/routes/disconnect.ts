/** `$disconnect`: give the stream back (or hold it for a `resume` player's reconnect). API Gateway only tries this once; the sweep covers what it misses. */
import { disconnect } from '../../core/admission.js';
import type { WebSocketHandler } from '../lib/events.js';
import { MetricName } from '../lib/metric-names.js';
import type { Runtime } from '../lib/runtime.js';

export function createDisconnectHandler({ deps, logger, metrics }: Runtime): WebSocketHandler {
  return async (event) => {
    const { connectionId, requestTimeEpoch, disconnectStatusCode } = event.requestContext;
    try {
      const outcome = await disconnect(deps, connectionId, requestTimeEpoch, disconnectStatusCode);
      // Already released (a kick, the sweep, a redelivery) or never counted (a refused connect): nothing given back.
      if (outcome.kind === 'released') metrics.count(MetricName.released);
      return { statusCode: 200 };
    } catch (error) {
      metrics.count(MetricName.storeErrors);
      logger.error('disconnect failed; the sweep will release it', { connectionId, error: error as Error });
      return { statusCode: 500 };
    }
  };
}
