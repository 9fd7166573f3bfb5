/** API Gateway's WebSocket events and Lambda context, built the way API Gateway builds them. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocketEvent, WebSocketRequestContext } from '../../handlers/lib/events.js';
import type { AuthorizerEvent } from '../../handlers/routes/authorizer.js';
import { flattenHeaders, multiValueHeaders } from '../http.js';

const API_ID = 'local';
const STAGE = 'local';

/** What API Gateway remembers of a connection and repeats in every event about it. */
export interface ConnectionIdentity {
  connectionId: string;
  connectedAt: number;
  sourceIp: string;
  userAgent: string;
}

/** API Gateway's ids are 16 characters of base64 (for example `L0SM9cOFvHcCIhw=`). */
export function newConnectionId(): string {
  return randomBytes(11).toString('base64').replace(/[+/]/g, 'A');
}

export function identityOf(req: IncomingMessage): ConnectionIdentity {
  return {
    connectionId: newConnectionId(),
    connectedAt: Date.now(),
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    userAgent: String(req.headers['user-agent'] ?? ''),
  };
}

/** API Gateway's request ids look like `PbTk7ET8IAMFs2g=`. */
export const newRequestId = () => randomBytes(11).toString('base64').replace(/[+/]/g, 'A');

function baseEvent(
  routeKey: string,
  eventType: WebSocketRequestContext['eventType'],
  id: ConnectionIdentity,
  domainName: string,
): WebSocketEvent {
  const now = Date.now();
  const requestId = newRequestId();
  return {
    requestContext: {
      routeKey,
      eventType,
      messageId: eventType === 'MESSAGE' ? newRequestId() : (undefined as unknown as string),
      extendedRequestId: requestId,
      requestTime: new Date(now).toUTCString(),
      messageDirection: 'IN',
      stage: STAGE,
      connectedAt: id.connectedAt,
      requestTimeEpoch: now,
      requestId,
      domainName,
      connectionId: id.connectionId,
      apiId: API_ID,
      identity: { sourceIp: id.sourceIp, userAgent: id.userAgent },
    },
    isBase64Encoded: false,
  };
}

/**
 * `$connect`: the handshake's headers and query string, single- and multi-valued. The names are the client's: they
 * are gathered in a Map, and the maps handed on are built with own properties only (as JSON.parse builds them in
 * Lambda), so `constructor`, `__proto__` or `toString` are plain names.
 */
export function connectEvent(
  url: URL,
  req: IncomingMessage,
  id: ConnectionIdentity,
  domainName: string,
): WebSocketEvent {
  const event = baseEvent('$connect', 'CONNECT', id, domainName);
  event.headers = flattenHeaders(req.headers);
  event.multiValueHeaders = multiValueHeaders(req.headers);
  const multi = new Map<string, string[]>();
  for (const [k, v] of url.searchParams) {
    const values = multi.get(k);
    if (values) values.push(v);
    else multi.set(k, [v]);
  }
  // The last value wins in the single-valued map, as in API Gateway.
  event.queryStringParameters = multi.size
    ? Object.fromEntries([...multi].map(([k, v]) => [k, v[v.length - 1]]))
    : null;
  event.multiValueQueryStringParameters = multi.size ? Object.fromEntries(multi) : null;
  return event;
}

/** The `$connect` REQUEST authorizer's event: the handshake's headers and query, and the `$connect` route's ARN. */
export function authorizerEvent(connect: WebSocketEvent): AuthorizerEvent & Record<string, unknown> {
  return {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:local:000000000000:${API_ID}/${STAGE}/$connect`,
    headers: connect.headers,
    multiValueHeaders: connect.multiValueHeaders,
    queryStringParameters: connect.queryStringParameters,
    multiValueQueryStringParameters: connect.multiValueQueryStringParameters,
    stageVariables: {},
    requestContext: { ...connect.requestContext },
  };
}

/** A message: text as it came, binary as base64. */
export function messageEvent(
  routeKey: string,
  id: ConnectionIdentity,
  domainName: string,
  message: { body: string; isBinary: boolean },
): WebSocketEvent {
  const event = baseEvent(routeKey, 'MESSAGE', id, domainName);
  event.body = message.body;
  event.isBase64Encoded = message.isBinary;
  return event;
}

export function disconnectEvent(
  id: ConnectionIdentity,
  domainName: string,
  close: { code: number; reason: string },
): WebSocketEvent {
  const event = baseEvent('$disconnect', 'DISCONNECT', id, domainName);
  event.requestContext.disconnectStatusCode = close.code;
  event.requestContext.disconnectReason = close.reason;
  event.headers = { Host: domainName, 'x-api-key': '', 'X-Forwarded-For': '' };
  return event;
}

/**
 * API Gateway's route selection, `$request.body.action`: a known action of a JSON text frame, else `$default`.
 * `isRoute` must answer for the routes' own keys only, never for what an object inherits (`toString`, `__proto__`).
 */
export function selectRoute(body: string, isBinary: boolean, isRoute: (key: string) => boolean): string {
  if (isBinary) return '$default';
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || !Object.hasOwn(parsed, 'action')) return '$default';
    const action = (parsed as { action: unknown }).action;
    if (typeof action === 'string' && !action.startsWith('$') && isRoute(action)) return action;
  } catch {
    // not JSON (or nested past what the parser takes): `$default`
  }
  return '$default';
}

export function lambdaContext(functionName: string) {
  return {
    awsRequestId: randomUUID(),
    functionName,
    functionVersion: '$LATEST',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 30_000,
  };
}
