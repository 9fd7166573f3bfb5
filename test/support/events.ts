import type { WebSocketEvent } from '../../handlers/lib/events.js';

/** An API Gateway WebSocket event as Lambda receives it, for redelivery tests that call handlers directly. */
export function wsEvent(
  eventType: 'CONNECT' | 'DISCONNECT' | 'MESSAGE',
  connectionId: string,
  connectedAt: number,
  extra: Partial<WebSocketEvent> = {},
): WebSocketEvent {
  const routeKey = eventType === 'CONNECT' ? '$connect' : eventType === 'DISCONNECT' ? '$disconnect' : '$default';
  return {
    requestContext: {
      routeKey,
      eventType,
      messageId: 'm',
      extendedRequestId: 'x',
      requestTime: new Date(connectedAt).toUTCString(),
      messageDirection: 'IN',
      stage: 'local',
      connectedAt,
      requestTimeEpoch: eventType === 'CONNECT' ? connectedAt : connectedAt + 1000,
      requestId: 'r',
      domainName: 'localhost',
      connectionId,
      apiId: 'local',
      identity: { sourceIp: '127.0.0.1' },
    },
    isBase64Encoded: false,
    ...extra,
  };
}
