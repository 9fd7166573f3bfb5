/**
 * The contract's error codes and the one error body, `{"error": {"code", "message"}}`, every HTTP-shaped answer uses
 * (refused handshakes, the support API, the local support adapter). Message frames carry the same codes as
 * `{"type": "error", code, message}`.
 */
export const ErrorCode = {
  // $connect, support API
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  INVALID_PARAMETER: 'INVALID_PARAMETER',
  LIMIT_REACHED: 'LIMIT_REACHED',
  /** a newer connection of the same stream arrived while this one was being admitted */
  REPLACED: 'REPLACED',
  /** refused by the gateway before `$connect`: not a WebSocket handshake API Gateway would take */
  INVALID_HANDSHAKE: 'INVALID_HANDSHAKE',
  // message frames
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  INVALID_JSON: 'INVALID_JSON',
  NOT_CONNECTED: 'NOT_CONNECTED',
  UNKNOWN_ACTION: 'UNKNOWN_ACTION',
  // support API
  INVALID_PATH: 'INVALID_PATH',
  INVALID_USER_ID: 'INVALID_USER_ID',
  INVALID_CONNECTION_ID: 'INVALID_CONNECTION_ID',
  INVALID_BODY: 'INVALID_BODY',
  INVALID_LIMIT: 'INVALID_LIMIT',
  INVALID_POLICY: 'INVALID_POLICY',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  CONNECTION_NOT_FOUND: 'CONNECTION_NOT_FOUND',
  TOO_LARGE: 'TOO_LARGE',
  // player API
  INVALID_STREAM_ID: 'INVALID_STREAM_ID',
  STREAM_NOT_FOUND: 'STREAM_NOT_FOUND',
  // anywhere
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

export interface ErrorResponse {
  statusCode: number;
  headers: { 'content-type': 'application/json' };
  body: string;
}

export function errorResponse(statusCode: number, code: ErrorCode, message: string): ErrorResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: errorBody(code, message) };
}
