/**
 * API Gateway WebSocket event shapes. `@types/aws-lambda` lags behind what API Gateway sends (no query string on
 * `$connect`, no identity, no disconnect status), so its types are extended here.
 */
import type { APIGatewayEventWebsocketRequestContextV2 } from 'aws-lambda';

export interface WebSocketRequestContext extends APIGatewayEventWebsocketRequestContextV2 {
  identity: { sourceIp: string; userAgent?: string };
  /**
   * `$connect` behind the REQUEST authorizer (jwt mode): `principalId` and the context the authorizer returned
   * (API Gateway may hand numbers on as strings).
   */
  authorizer?: Record<string, unknown> | null;
  /** `$disconnect` only */
  disconnectStatusCode?: number;
  disconnectReason?: string;
}

export interface WebSocketEvent {
  requestContext: WebSocketRequestContext;
  /** `$connect` only */
  headers?: Record<string, string | undefined>;
  multiValueHeaders?: Record<string, string[] | undefined>;
  queryStringParameters?: Record<string, string | undefined> | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
  /** `MESSAGE` only */
  body?: string;
  isBase64Encoded: boolean;
}

export interface WebSocketResult {
  statusCode: number;
  body?: string;
  headers?: Record<string, string>;
}

export type WebSocketHandler = (event: WebSocketEvent, context?: unknown) => Promise<WebSocketResult>;
