/** `$disconnect`: give the stream back. API Gateway only tries this once; the sweep covers what it misses. */
import { disconnect } from '../core/admission.js';
import type { WebSocketEvent, WebSocketResult } from './lib/events.js';
import { deps, logger } from './lib/runtime.js';

export const handler = async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { connectionId, requestTimeEpoch } = event.requestContext;
  try {
    await disconnect(deps, connectionId, requestTimeEpoch);
    return { statusCode: 200 };
  } catch (error) {
    logger.error('disconnect failed; the sweep will release it', { connectionId, error: error as Error });
    return { statusCode: 500 };
  }
};
