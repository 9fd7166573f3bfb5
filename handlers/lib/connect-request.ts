import type { ConnectRequest } from '../../core/admission.js';
import { check, DeviceSchema, LimitSchema, StreamIdSchema, UserIdSchema } from '../../core/params.js';
import type { WebSocketEvent } from './events.js';
import { ErrorCode } from './responses.js';

export type ParsedConnect =
  | { ok: true; request: ConnectRequest }
  | { ok: false; statusCode: 400 | 401; code: ErrorCode; message: string };

const SINGLE_VALUED = ['userId', 'streamId', 'device', 'token', 'resume'] as const;

type Identity = { ok: true; userId: string; planLimit?: number } | (ParsedConnect & { ok: false });

const unauthorized = (message: string) =>
  ({ ok: false, statusCode: 401, code: ErrorCode.UNAUTHORIZED, message }) as const;

/** dev mode: whoever the query says (local use only). */
function identityFromQuery(query: Record<string, string | undefined>): Identity {
  if (!query.userId) return unauthorized('userId is required');
  const userId = check(UserIdSchema, query.userId);
  if (!userId.ok) return { ok: false, statusCode: 400, code: ErrorCode.INVALID_PARAMETER, message: userId.message };
  return { ok: true, userId: userId.value };
}

/**
 * jwt mode: whoever the `$connect` authorizer verified, never the query. Without the authorizer's word (a route
 * deployed without it), nobody is admitted.
 */
function identityFromAuthorizer(authorizer: Record<string, unknown> | null | undefined): Identity {
  const userId = check(UserIdSchema, authorizer?.userId);
  if (!userId.ok) return unauthorized('a verified token is required');
  const raw = authorizer?.streamLimit;
  if (raw === undefined || raw === null || raw === '') return { ok: true, userId: userId.value };
  const planLimit = check(LimitSchema, typeof raw === 'string' && /^\d{1,3}$/.test(raw) ? Number(raw) : raw);
  if (!planLimit.ok) return unauthorized('the token carries no valid stream limit');
  return { ok: true, userId: userId.value, planLimit: planLimit.value };
}

/** Turns a `$connect` event into a request, or says why not (401: who is it?; 400: what is this?). */
export function parseConnect(event: WebSocketEvent, authMode: 'dev' | 'jwt' = 'dev'): ParsedConnect {
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
  const identity =
    authMode === 'jwt' ? identityFromAuthorizer(event.requestContext.authorizer) : identityFromQuery(query);
  if (!identity.ok) return identity;
  // An empty optional parameter means "none": players send `streamId=` when they have no id.
  const streamId = query.streamId ? check(StreamIdSchema, query.streamId) : undefined;
  if (streamId && !streamId.ok)
    return { ok: false, statusCode: 400, code: ErrorCode.INVALID_PARAMETER, message: streamId.message };
  const device = query.device ? check(DeviceSchema, query.device) : undefined;
  if (device && !device.ok)
    return { ok: false, statusCode: 400, code: ErrorCode.INVALID_PARAMETER, message: device.message };

  // `resume=1`: the player reconnects by itself, so a socket it did not end keeps its slot a while (lifecycle.ts, held).
  const resume = query.resume === '1';
  if (query.resume && !resume && query.resume !== '0') {
    return { ok: false, statusCode: 400, code: ErrorCode.INVALID_PARAMETER, message: 'resume must be 1 or 0' };
  }

  const ctx = event.requestContext;
  return {
    ok: true,
    request: {
      connectionId: ctx.connectionId,
      userId: identity.userId,
      ...(identity.planLimit === undefined ? {} : { planLimit: identity.planLimit }),
      streamId: streamId?.value,
      device: device?.value,
      ...(resume ? { resume } : {}),
      sourceIp: ctx.identity?.sourceIp,
      userAgent: ctx.identity?.userAgent ?? event.headers?.['User-Agent'] ?? event.headers?.['user-agent'],
      connectedAt: ctx.connectedAt,
    },
  };
}
