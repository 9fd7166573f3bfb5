/**
 * The support API: an API Gateway HTTP API (payload v2) handler. In jwt mode (AWS, or `AUTH_MODE=jwt npm start`) the
 * HTTP API's JWT authorizer verifies the staff token and this handler checks its claims again (a route deployed without
 * the authorizer must not be open); in dev mode the local adapter's bearer token (`ADMIN_TOKEN`) stands in. Routes on method and path so it works with explicit routes or a
 * single `$default` route alike.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ConnectionNotFoundError } from '../../core/errors.js';
import { dayOf } from '../../core/events/names.js';
import type { SignalStore } from '../../core/events/signals.js';
import { serviceUsage, type UsageReader, usageRange, userUsage } from '../../core/events/usage.js';
import { IDENTITY_DEFAULTS, isStaff, type StaffRule } from '../../core/identity/claims.js';
import { check, LimitSchema, UserIdSchema } from '../../core/params.js';
import { LIMIT_POLICIES } from '../../core/policy.js';
import { LIMIT_OVERRIDE_RANGE } from '../../core/ranges.js';
import { DynamoSignalStore } from '../../core/store/dynamodb/signals.js';
import { DynamoUsageStore } from '../../core/store/dynamodb/usage.js';
import {
  clearUserLimit,
  endConnection,
  listUserConnections,
  RecentLookups,
  type SupportDeps,
  setUserLimit,
  setUserPolicy,
  userAudit,
} from '../../core/support.js';
import * as z from '../../core/zod.js';
import { MetricName } from '../lib/metric-names.js';
import type { ServiceMetrics } from '../lib/metrics.js';
import { ErrorCode, errorResponse } from '../lib/responses.js';
import type { Runtime } from '../lib/runtime.js';

export type SupportEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: {
      iam?: { userArn?: string; userId?: string };
      /** the HTTP API's JWT authorizer: the verified token's claims (non-string claims flattened to strings) */
      jwt?: { claims?: Record<string, unknown>; scopes?: string[] | null };
    };
  };
};

/** API Gateway connection ids are short base64; anything else cannot name a connection. */
const ConnectionIdSchema = z
  .string()
  .check(z.regex(/^[A-Za-z0-9+/=_-]{1,128}$/, 'connectionId is not a connection id'));
/**
 * How long `/health` waits for the store before it says the service is down: the opening window
 * (`OPENING_WINDOW_SECONDS`, core/lifecycle.ts). A store slower than that is down for players whatever it says
 * later: every `$connect` must have its write back before its socket's window closes, so none could be admitted.
 * Anything faster is busy, not down: a health check that failed while 600 handshakes arrived at once would take a
 * healthy service out of rotation when it is needed most. The answer carries the latency, so slow is visible.
 */
export const healthBoundMs = (config: { openingWindowMs: number }) => config.openingWindowMs;
const LimitBodySchema = z.strictObject({ limit: LimitSchema }, 'the body must be {"limit": n}');
const PolicyBodySchema = z.strictObject(
  { policy: z.enum(LIMIT_POLICIES) },
  'the body must be {"policy": "block-new" | "evict-oldest"}',
);

const json = (statusCode: number, body?: unknown): Result =>
  body === undefined
    ? { statusCode }
    : { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };

type Result = APIGatewayProxyStructuredResultV2;
type Route = {
  method: string;
  /** answered without a staff identity */
  open?: true;
  pattern: RegExp;
  run: (params: string[], event: SupportEvent, staff: string) => Promise<Result>;
};

/** A route about one user: the path's user id is checked before anything else runs. */
const forUser =
  (run: (userId: string, event: SupportEvent, staff: string) => Promise<Result>): Route['run'] =>
  async ([raw], event, staff) => {
    const userId = check(UserIdSchema, raw);
    if (!userId.ok) return errorResponse(400, ErrorCode.INVALID_USER_ID, userId.message);
    return run(userId.value, event, staff);
  };

/** A UTC day as `YYYY-MM-DD`, a real one (not 2026-02-30). */
const DaySchema = z
  .string()
  .check(z.regex(/^\d{4}-\d{2}-\d{2}$/, 'day must be YYYY-MM-DD'))
  .check(
    z.refine((d) => {
      // Checks all run, the pattern's failure or not: a text that is no date at all must not throw here.
      const at = Date.parse(`${d}T00:00:00Z`);
      return !Number.isNaN(at) && new Date(at).toISOString().startsWith(d);
    }, 'day is not a date'),
  );

/** An ISO 8601 time: a UTC day, or a day and a time (to the minute at least; UTC when it names no offset). */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const IsoTimeSchema = z.string().check(
  z.maxLength(40, 'from and to must be ISO 8601 times, e.g. 2026-12-07T10:00:00Z'),
  z.regex(ISO_TIME, 'from and to must be ISO 8601 times, e.g. 2026-12-07T10:00:00Z'),
  // Checks all run, the pattern's failure or not: a text that is no time at all must not throw here.
  z.refine((t) => timeOf(t) !== undefined, 'from and to must be real times (no 30 February, no 25:00)'),
);

/** The time an ISO 8601 text names (ms), or undefined when it names none: no month 13, no 30 February, no 24:00. */
function timeOf(text: string): number | undefined {
  const m = ISO_TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', zone] = m;
  const day = Date.UTC(Number(y), Number(mo) - 1, Number(d));
  if (new Date(day).toISOString().slice(0, 10) !== `${y}-${mo}-${d}`) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined;
  const at = Date.parse(m[4] === undefined ? `${text}T00:00:00Z` : zone === undefined ? `${text}Z` : text);
  return Number.isNaN(at) ? undefined : at;
}

type UsageQuery = { ok: true; from: number; to: number } | { ok: false; message: string };

/** `from` and `to` of a usage request: each at most once, each an ISO time; the range whole hours, 31 days at most. */
function usageQuery(event: SupportEvent): UsageQuery {
  const query = new URLSearchParams(event.rawQueryString ?? '');
  const asked: { from?: number; to?: number } = {};
  for (const name of ['from', 'to'] as const) {
    const values = query.getAll(name);
    if (values.length > 1) return { ok: false, message: `give ${name} once` };
    if (values.length === 0) continue;
    const time = check(IsoTimeSchema, values[0]);
    if (!time.ok) return { ok: false, message: `${name}: ${time.message}` };
    asked[name] = timeOf(time.value);
  }
  return usageRange(asked, Date.now());
}

const routesFor = (
  supportDeps: SupportDeps,
  metrics: ServiceMetrics,
  boundMs: number,
  signals: Pick<SignalStore, 'listSignals'>,
  usage: UsageReader,
): Route[] => [
  {
    method: 'GET',
    pattern: /^\/health$/,
    open: true,
    run: async () => {
      // Health tells the truth: ok while the store answers within the bound, however slowly; a hung store is a 503,
      // not a hang, and a store that errors is a 503 at once.
      const started = performance.now();
      const ping = await supportDeps.store.ping(boundMs);
      const storeLatencyMs = Math.round(performance.now() - started);
      return ping.ok
        ? json(200, { status: 'ok', storeLatencyMs })
        : json(503, { status: 'unavailable', reason: ping.reason });
    },
  },
  {
    method: 'GET',
    pattern: /^\/users\/([^/]+)\/connections$/,
    run: forUser(async (userId, _event, staff) => json(200, await listUserConnections(supportDeps, staff, userId))),
  },
  {
    method: 'DELETE',
    pattern: /^\/connections\/([^/]+)$/,
    run: async ([raw], _event, staff) => {
      const id = check(ConnectionIdSchema, raw);
      if (!id.ok) return errorResponse(400, ErrorCode.INVALID_CONNECTION_ID, id.message);
      if ((await endConnection(supportDeps, staff, id.value)) === 'released') metrics.count(MetricName.released);
      return json(204);
    },
  },
  {
    method: 'PUT',
    pattern: /^\/users\/([^/]+)\/limit$/,
    run: forUser(async (userId, event, staff) => {
      const body = parseBody(event);
      if (!body.ok) return errorResponse(400, ErrorCode.INVALID_BODY, body.message);
      const limit = check(LimitBodySchema, body.value);
      if (!limit.ok)
        return errorResponse(
          400,
          ErrorCode.INVALID_LIMIT,
          `limit must be a whole number from ${LIMIT_OVERRIDE_RANGE.min} to ${LIMIT_OVERRIDE_RANGE.max} (${limit.message})`,
        );
      return json(200, await setUserLimit(supportDeps, staff, userId, limit.value.limit));
    }),
  },
  {
    method: 'DELETE',
    pattern: /^\/users\/([^/]+)\/limit$/,
    run: forUser(async (userId, _event, staff) => json(200, await clearUserLimit(supportDeps, staff, userId))),
  },
  {
    method: 'PUT',
    pattern: /^\/users\/([^/]+)\/policy$/,
    run: forUser(async (userId, event, staff) => {
      const body = parseBody(event);
      if (!body.ok) return errorResponse(400, ErrorCode.INVALID_BODY, body.message);
      const policy = check(PolicyBodySchema, body.value);
      if (!policy.ok)
        return errorResponse(
          400,
          ErrorCode.INVALID_POLICY,
          `policy must be "block-new" or "evict-oldest" (${policy.message})`,
        );
      return json(200, await setUserPolicy(supportDeps, staff, userId, policy.value.policy));
    }),
  },
  {
    method: 'DELETE',
    pattern: /^\/users\/([^/]+)\/policy$/,
    run: forUser(async (userId, _event, staff) =>
      json(200, await setUserPolicy(supportDeps, staff, userId, undefined)),
    ),
  },
  {
    method: 'GET',
    pattern: /^\/users\/([^/]+)\/audit$/,
    run: forUser(async (userId) => json(200, await userAudit(supportDeps, userId))),
  },
  {
    method: 'GET',
    pattern: /^\/signals$/,
    run: async (_params, event) => {
      const asked = new URLSearchParams(event.rawQueryString ?? '').get('day');
      const day = check(DaySchema, asked ?? dayOf(Date.now()));
      if (!day.ok) return errorResponse(400, ErrorCode.INVALID_PARAMETER, day.message);
      return json(200, { day: day.value, signals: await signals.listSignals(day.value) });
    },
  },
  {
    method: 'GET',
    pattern: /^\/usage$/,
    run: async (_params, event) => {
      const range = usageQuery(event);
      if (!range.ok) return errorResponse(400, ErrorCode.INVALID_PARAMETER, range.message);
      const deps = { usage, getCounter: (id: string) => supportDeps.store.getCounter(id) };
      return json(200, await serviceUsage(deps, range.from, range.to));
    },
  },
  {
    method: 'GET',
    pattern: /^\/users\/([^/]+)\/usage$/,
    run: forUser(async (userId, event) => {
      const range = usageQuery(event);
      if (!range.ok) return errorResponse(400, ErrorCode.INVALID_PARAMETER, range.message);
      const deps = { usage, getCounter: (id: string) => supportDeps.store.getCounter(id) };
      return json(200, await userUsage(deps, userId, range.from, range.to));
    }),
  },
];

function parseBody(event: SupportEvent): { ok: true; value: unknown } | { ok: false; message: string } {
  const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, message: 'the body is not JSON' };
  }
}

export type SupportHandler = (event: SupportEvent) => Promise<Result>;

export function createSupportHandler({ store, gateway, config, audit, logger, metrics }: Runtime): SupportHandler {
  const routes = routesFor(
    {
      store,
      gateway,
      defaultLimit: config.defaultLimit,
      handshakeGraceMs: config.handshakeGraceMs,
      openingWindowMs: config.openingWindowMs,
      defaultPolicy: config.defaultPolicy,
      audit,
      logger,
      // One memory per container (per `npm start` locally): a refreshing console is audited once per window.
      lookups: new RecentLookups(),
    },
    metrics,
    healthBoundMs(config),
    new DynamoSignalStore(store.db, config.tableName),
    new DynamoUsageStore(store.db, config.tableName),
  );
  const staffRule = config.staff ?? IDENTITY_DEFAULTS.staff;
  return async (event) => {
    const method = event.requestContext.http.method.toUpperCase();
    let segments: string[];
    try {
      segments = event.rawPath.split('/').map(decodeURIComponent);
    } catch {
      return errorResponse(400, ErrorCode.INVALID_PATH, 'the path is not valid percent-encoding');
    }
    // Match on the decoded path, one segment at a time, so an encoded `/` in a user id cannot fake a route.
    const path = segments.map((s) => s.replaceAll('/', '\u0000')).join('/');
    const matching = routes.map((r) => ({ r, m: r.pattern.exec(path) })).filter((x) => x.m);
    if (matching.length === 0) return errorResponse(404, ErrorCode.NOT_FOUND, 'no such route');
    const found = matching.find((x) => x.r.method === method);
    if (!found)
      return errorResponse(405, ErrorCode.METHOD_NOT_ALLOWED, `use ${matching.map((x) => x.r.method).join(' or ')}`);
    const params = found.m!.slice(1).map((p) => p.replaceAll('\u0000', '/'));
    const who = found.r.open ? { ok: true as const, staff: 'nobody' } : staffOf(event, config.authMode, staffRule);
    if (!who.ok) return who.refusal;
    const { staff } = who;
    try {
      return await found.r.run(params, event, staff);
    } catch (error) {
      if (error instanceof ConnectionNotFoundError)
        return errorResponse(404, ErrorCode.CONNECTION_NOT_FOUND, error.message);
      metrics.count(MetricName.storeErrors);
      logger.error('support request failed', { method, path: event.rawPath, error: error as Error });
      return errorResponse(503, ErrorCode.UNAVAILABLE, 'the service cannot answer right now; try again');
    }
  };
}

type StaffCheck = { ok: true; staff: string } | { ok: false; refusal: Result };

/** Who is acting, for the audit log; in jwt mode also whether the token's claims say staff (401 / 403 otherwise). */
function staffOf(event: SupportEvent, authMode: 'dev' | 'jwt', rule: StaffRule): StaffCheck {
  const authorizer = event.requestContext.authorizer;
  if (authMode === 'dev') return { ok: true, staff: authorizer?.iam?.userArn ?? 'unknown' };
  const claims = authorizer?.jwt?.claims;
  const sub = claims?.sub;
  if (!claims || typeof sub !== 'string' || sub === '') {
    return { ok: false, refusal: errorResponse(401, ErrorCode.UNAUTHORIZED, 'send Authorization: Bearer STAFF_TOKEN') };
  }
  // API Gateway's claims: every one a string, lists flattened to "[a b]".
  if (!isStaff(claims, rule, { flattened: true })) {
    return { ok: false, refusal: errorResponse(403, ErrorCode.FORBIDDEN, 'this token is not a staff token') };
  }
  return { ok: true, staff: sub };
}
