/**
 * The player API (contract 4b): a player's own streams, for a browser that cannot read a refused handshake. An API
 * Gateway HTTP API (payload v2) handler; the local stack serves it beside the support API. Every answer carries CORS
 * headers, errors included, since players run on other origins and a browser hides an answer without them.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { IDENTITY_DEFAULTS, ownClaim } from '../../core/identity/claims.js';
import { check, LimitSchema, StreamIdSchema, UserIdSchema } from '../../core/params.js';
import { endOwnStream, listOwnStreams, type PlayerDeps } from '../../core/player.js';
import { MetricName } from '../lib/metric-names.js';
import { ErrorCode, errorBody } from '../lib/responses.js';
import type { Runtime } from '../lib/runtime.js';
import type { SupportEvent } from './support.js';

type Result = APIGatewayProxyStructuredResultV2;
/** The support API's event shape: in jwt mode the HTTP API's JWT authorizer puts the verified claims in it. */
export type PlayerEvent = SupportEvent;
export type PlayerHandler = (event: PlayerEvent) => Promise<Result>;

/**
 * Any origin: the caller proves who it is with a bearer token (or, in dev mode, says so in the query), never with a
 * cookie, so no credential rides along implicitly and a hostile page gains nothing by calling.
 */
export const PLAYER_CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, DELETE, OPTIONS',
  'access-control-allow-headers': 'authorization',
  'access-control-max-age': '600',
} as const;

const answer = (statusCode: number, body?: unknown): Result => ({
  statusCode,
  headers: { ...PLAYER_CORS_HEADERS, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

/** An error answer, `{"error":{"code","message"}}`, with the CORS headers a browser needs to read it. */
export const playerError = (statusCode: number, code: ErrorCode, message: string): Result => ({
  statusCode,
  headers: { ...PLAYER_CORS_HEADERS, 'content-type': 'application/json' },
  body: errorBody(code, message),
});

/** The caller, and in jwt mode the plan limit their token carries (none: the service's default applies). */
export type PlayerIdentity = { ok: true; userId: string; planLimit?: number } | { ok: false; refusal: Result };

/**
 * The plan limit claim as the `$connect` authorizer reads it: a whole number from 0 to 100, or its decimal text (API
 * Gateway hands every claim to the handler as text, and Cognito writes custom attributes as text anyway).
 */
function planLimitOf(
  claims: Record<string, unknown>,
  limitClaim: string,
): { ok: true; value?: number } | { ok: false } {
  const raw = ownClaim(claims, limitClaim);
  if (raw === undefined) return { ok: true };
  const limit = check(LimitSchema, typeof raw === 'string' && /^\d{1,3}$/.test(raw) ? Number(raw) : raw);
  return limit.ok ? { ok: true, value: limit.value } : { ok: false };
}

/**
 * Who is calling: the one place the player API learns its caller, as the socket does. Dev mode: `?userId=` (local use
 * only). jwt mode: the `sub` of the bearer token the HTTP API's JWT authorizer verified (locally, the stack's server
 * verifies it with the socket's verifier); a `?userId=` is ignored.
 */
export function identifyPlayer(
  event: PlayerEvent,
  authMode: 'dev' | 'jwt',
  limitClaim: string = IDENTITY_DEFAULTS.limitClaim,
): PlayerIdentity {
  if (authMode === 'jwt') {
    const claims = event.requestContext.authorizer?.jwt?.claims ?? {};
    const userId = check(UserIdSchema, claims.sub);
    if (!userId.ok)
      return { ok: false, refusal: playerError(401, ErrorCode.UNAUTHORIZED, 'send Authorization: Bearer TOKEN') };
    // As on the socket: a plan the service cannot read is refused, never silently replaced by the default.
    const plan = planLimitOf(claims, limitClaim);
    if (!plan.ok)
      return {
        ok: false,
        refusal: playerError(
          401,
          ErrorCode.UNAUTHORIZED,
          `the token's ${limitClaim} is not a whole number from 0 to 100`,
        ),
      };
    return { ok: true, userId: userId.value, ...(plan.value === undefined ? {} : { planLimit: plan.value }) };
  }
  // URLSearchParams never throws: a broken escape stays as text and then fails the alphabet below.
  const values = new URLSearchParams(event.rawQueryString ?? '').getAll('userId').filter((v) => v !== '');
  if (values.length === 0)
    return { ok: false, refusal: playerError(401, ErrorCode.UNAUTHORIZED, 'send ?userId=U (dev mode)') };
  if (values.length > 1)
    return { ok: false, refusal: playerError(400, ErrorCode.INVALID_PARAMETER, 'userId is given more than once') };
  const userId = check(UserIdSchema, values[0]);
  if (!userId.ok) return { ok: false, refusal: playerError(400, ErrorCode.INVALID_USER_ID, userId.message) };
  return { ok: true, userId: userId.value };
}

type Route = { kind: 'list' } | { kind: 'one'; streamId: string };

/** `/me/streams` or `/me/streams/{streamId}` (decoded), or undefined for any other path. */
function routeOf(segments: string[]): Route | undefined {
  const [root, me, streams, id, ...rest] = segments;
  if (root !== '' || me !== 'me' || streams !== 'streams' || rest.length > 0) return undefined;
  return id === undefined || id === '' ? { kind: 'list' } : { kind: 'one', streamId: id };
}

export function createPlayerHandler({ store, gateway, logger, config, metrics }: Runtime): PlayerHandler {
  const deps: PlayerDeps = {
    store,
    gateway,
    logger,
    defaultLimit: config.defaultLimit,
    handshakeGraceMs: config.handshakeGraceMs,
    openingWindowMs: config.openingWindowMs,
    defaultPolicy: config.defaultPolicy,
  };
  return async (event) => {
    const method = event.requestContext.http.method.toUpperCase();
    try {
      // A preflight carries no credentials (browsers never send any); it only says what a real request may look like.
      if (method === 'OPTIONS') return answer(204);
      // Who is asking comes first, as at the support API's door: without identity a caller learns nothing, not even
      // which paths and methods exist.
      const caller = identifyPlayer(event, config.authMode, config.limitClaim);
      if (!caller.ok) return caller.refusal;
      let segments: string[];
      try {
        segments = event.rawPath.split('/').map(decodeURIComponent);
      } catch {
        return playerError(400, ErrorCode.INVALID_PATH, 'the path is not valid percent-encoding');
      }
      const route = routeOf(segments);
      if (!route) return playerError(404, ErrorCode.NOT_FOUND, 'no such route: GET /me/streams, DELETE /me/streams/ID');
      const allowed = route.kind === 'list' ? 'GET' : 'DELETE';
      if (method !== allowed) return playerError(405, ErrorCode.METHOD_NOT_ALLOWED, `use ${allowed}`);
      if (route.kind === 'list') return answer(200, await listOwnStreams(deps, caller.userId, caller.planLimit));

      const streamId = check(StreamIdSchema, route.streamId);
      if (!streamId.ok) return playerError(400, ErrorCode.INVALID_STREAM_ID, streamId.message);
      const ended = await endOwnStream(deps, caller.userId, streamId.value);
      if (ended.kind === 'notFound')
        return playerError(404, ErrorCode.STREAM_NOT_FOUND, `you hold no open stream ${streamId.value}`);
      if (ended.release === 'released') metrics.count(MetricName.released);
      return answer(204);
    } catch (error) {
      metrics.count(MetricName.storeErrors);
      logger.error('player request failed', { method, path: event.rawPath, error: error as Error });
      return playerError(503, ErrorCode.UNAVAILABLE, 'the service cannot answer right now; try again');
    }
  };
}
