import type { ConnectRequest } from '../../core/admission.js';
import { check, DeviceSchema, StreamIdSchema, UserIdSchema } from '../../core/params.js';
import type { WebSocketEvent } from './events.js';
import { ErrorCode } from './responses.js';

export type ParsedConnect =
  | { ok: true; request: ConnectRequest }
  | { ok: false; statusCode: 400 | 401; code: ErrorCode; message: string };

const SINGLE_VALUED = ['userId', 'streamId', 'device', 'token'] as const;

/** Turns a `$connect` event into a request, or says why not (401: who is it?; 400: what is this?). */
export function parseConnect(event: WebSocketEvent): ParsedConnect {
  const query = event.queryStringParameters ?? {};
  const multi = event.multiValueQueryStringParameters ?? {};
  for (const name of SINGLE_VALUED) {
    if ((multi[name]?.length ?? 0) > 1) {
      return {
        ok: false,
        statusCode: 400,
        code: ErrorCode.INVALID_PARAMETER,
        message: `${name} is given more than once`,
      };
    }
  }
  if (!query.userId) {
    return { ok: false, statusCode: 401, code: ErrorCode.UNAUTHORIZED, message: 'userId is required' };
  }
  const userId = check(UserIdSchema, query.userId);
  if (!userId.ok) return { ok: false, statusCode: 400, code: ErrorCode.INVALID_PARAMETER, message: userId.message };
  // An empty optional parameter means "none": players send `streamId=` when they have no id.
  const streamId = query.streamId ? check(StreamIdSchema, query.streamId) : undefined;
  if (streamId && !streamId.ok)
    return { ok: false, statusCode: 400, code: ErrorCode.INVALID_PARAMETER, message: streamId.message };
  const device = query.device ? check(DeviceSchema, query.device) : undefined;
  if (device && !device.ok)
    return { ok: false, statusCode: 400, code: ErrorCode.INVALID_PARAMETER, message: device.message };

  const ctx = event.requestContext;
  return {
    ok: true,
    request: {
      connectionId: ctx.connectionId,
      userId: userId.value,
      streamId: streamId?.value,
      device: device?.value,
      sourceIp: ctx.identity?.sourceIp,
      userAgent: ctx.identity?.userAgent ?? event.headers?.['User-Agent'] ?? event.headers?.['user-agent'],
      connectedAt: ctx.connectedAt,
    },
  };
}
