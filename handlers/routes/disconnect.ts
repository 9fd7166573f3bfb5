/** `$disconnect`: give the stream back. API Gateway only tries this once; the sweep covers what it misses. */
import { disconnect } from '../../core/admission.js';
import type { WebSocketHandler } from '../lib/events.js';
import type { Runtime } from '../lib/runtime.js';

export function createDisconnectHandler({ deps, logger }: Runtime): WebSocketHandler {
  return async (event) => {
    const { connectionId, requestTimeEpoch } = event.requestContext;
    try {
      await disconnect(deps, connectionId, requestTimeEpoch);
      return { statusCode: 200 };
    } catch (error) {
      logger.error('disconnect failed; the sweep will release it', { connectionId, error: error as Error });
      return { statusCode: 500 };
    }
  };
}
