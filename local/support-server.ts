/**
 * Serves the support handler on a local port, building the API Gateway HTTP API (payload v2) event it gets in
 * AWS. In dev mode a bearer token (`ADMIN_TOKEN`) stands in for AWS's authorization; in jwt mode this plays the HTTP
 * API's JWT authorizer: a verified token or 401, a staff token or 403, and the token's claims in the event.
 * Beside it, on the same port: the player API (`/me/...`, the player's own identity, CORS) and the web pages.
 */

import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { JSONWebKeySet } from 'jose';
import { isStaff, type StaffRule } from '../core/identity/claims.js';
import { InvalidTokenError, type TokenVerifier } from '../core/identity/verify.js';
import { ErrorCode, errorResponse } from '../handlers/lib/responses.js';
import { PLAYER_CORS_HEADERS, type PlayerHandler, playerError } from '../handlers/routes/player.js';
import type { SupportEvent } from '../handlers/support.js';
import { EVENTS_PATH, type EventHub } from './events/hub.js';
import { boundPort, close, flattenHeaders, hostForUrl, isClientGone, listen, readBody, requestUrl } from './http.js';
import type { LocalSettings } from './settings.js';
import { WebPages, type WebPagesOptions } from './web-pages.js';

type SupportHandler = (event: SupportEvent) => Promise<APIGatewayProxyStructuredResultV2>;

const MAX_BODY_BYTES = 64 * 1024;

export type SupportAuth =
  | { kind: 'adminToken'; token: string }
  /** `jwks`: the stack's own public keys, served at `/.well-known/jwks.json` */
  | { kind: 'jwt'; verifier: TokenVerifier; staff: StaffRule; jwks?: JSONWebKeySet };

type Authorizer = NonNullable<SupportEvent['requestContext']['authorizer']>;
type AuthOutcome = { ok: true; authorizer: Authorizer } | { ok: false; result: APIGatewayProxyStructuredResultV2 };

export function newAdminToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Compares hashes, so neither the token's length nor its content leaks through timing. */
function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** What the port serves besides the support API. */
export interface SupportServerExtras {
  /** the player API, at `/me/...` */
  player?: PlayerHandler;
  pages?: WebPagesOptions;
  /** the lifecycle events, served to staff at `GET /events` */
  events?: EventHub;
  /** machine-readable documents by path (`/openapi.json`), made on first request */
  documents?: Readonly<Record<string, () => unknown>>;
}

export class SupportServer {
  private readonly server: Server;
  private readonly pages: WebPages;
  private readonly player?: PlayerHandler;
  private readonly events?: EventHub;
  private readonly documents: Readonly<Record<string, () => unknown>>;
  private readonly documentCache = new Map<string, string>();

  constructor(
    private readonly handler: SupportHandler,
    private readonly auth: SupportAuth,
    private readonly options: Pick<LocalSettings, 'httpPort' | 'host'>,
    extras: SupportServerExtras = {},
  ) {
    this.pages = new WebPages(extras.pages);
    this.player = extras.player;
    this.events = extras.events;
    this.documents = extras.documents ?? {};
    this.server = createServer((req, res) =>
      this.serve(req, res).catch((error) => {
        // An aborted body or a failing socket: answer if still possible, never take the process down.
        if (!isClientGone(error)) console.error('[support] request failed:', error);
        if (!res.headersSent && !res.destroyed) send(res, errorResponse(500, ErrorCode.INTERNAL, 'internal error'));
        else res.destroy();
      }),
    );
  }

  get url(): string {
    return `http://${hostForUrl(this.options.host)}:${boundPort(this.server)}`;
  }

  async start(): Promise<this> {
    await listen(this.server, { port: this.options.httpPort, host: this.options.host, label: 'HTTP_PORT' });
    return this;
  }

  async stop(): Promise<void> {
    this.events?.close();
    await close(this.server);
  }

  /** Public, like the pages, and readable from any origin (an API tool on another page fetches it). */
  private serveDocument(res: ServerResponse, path: string) {
    let body = this.documentCache.get(path);
    if (body === undefined) {
      body = JSON.stringify(this.documents[path]!(), null, 2);
      this.documentCache.set(path, body);
    }
    send(res, {
      statusCode: 200,
      headers: { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'cache-control': 'no-cache' },
      body,
    });
  }

  private authorize(header: string): Promise<AuthOutcome> {
    return authorizeWith(this.auth, header);
  }

  private servePlayer(req: IncomingMessage, res: ServerResponse, url: URL, player: PlayerHandler): Promise<void> {
    return servePlayerRequest(req, res, url, { auth: this.auth, player });
  }

  private async serve(req: IncomingMessage, res: ServerResponse) {
    const url = requestUrl(req.url);
    if (!url) return send(res, errorResponse(400, ErrorCode.INVALID_PATH, 'the request target is not a URL path'));
    // The web pages are public files: the console signs in against the API, not to get its own page.
    if (this.pages.owns(url.pathname)) return this.pages.serve(req, res, url.pathname);
    if (Object.hasOwn(this.documents, url.pathname)) return this.serveDocument(res, url.pathname);
    if (this.player && (url.pathname === '/me' || url.pathname.startsWith('/me/'))) {
      return this.servePlayer(req, res, url, this.player);
    }
    if (url.pathname === '/.well-known/jwks.json' && this.auth.kind === 'jwt' && this.auth.jwks) {
      return send(res, {
        statusCode: 200,
        headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300' },
        body: JSON.stringify(this.auth.jwks),
      });
    }
    let authorizer: Authorizer = {};
    if (url.pathname !== '/health') {
      const outcome = await this.authorize(req.headers.authorization ?? '');
      if (!outcome.ok) return send(res, outcome.result);
      authorizer = outcome.authorizer;
    }
    if (url.pathname === EVENTS_PATH && this.events) {
      if (req.method !== 'GET') {
        return send(res, { ...errorResponse(405, ErrorCode.METHOD_NOT_ALLOWED, 'use GET'), headers: { allow: 'GET' } });
      }
      req.resume(); // a body, if any, is not read: drained so the socket stays usable
      return this.events.serve(req, res);
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) {
      return send(res, errorResponse(413, ErrorCode.TOO_LARGE, 'the body is over 64 KB'));
    }
    const event = httpEvent(req, url, body);
    event.requestContext.authorizer = authorizer;
    try {
      send(res, await this.handler(event));
    } catch (error) {
      console.error('[support] handler threw:', error);
      send(res, errorResponse(500, ErrorCode.INTERNAL, 'internal error'));
    }
  }
}

/**
 * The player API: no admin token (players are not staff). In jwt mode any valid token, as the HTTP API's JWT
 * authorizer without a scope would; in dev mode the handler reads `?userId=`. Every answer from here carries the
 * CORS headers, refusals included, so a browser player can read why.
 */
async function servePlayerRequest(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: { auth: SupportAuth; player: PlayerHandler },
): Promise<void> {
  // The API takes no body; one is read (up to the cap) and dropped, so it cannot pile up in memory.
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body === undefined) return send(res, playerError(413, ErrorCode.TOO_LARGE, 'the body is over 64 KB'));
  const event = httpEvent(req, url, Buffer.alloc(0));
  // A preflight carries no Authorization header (browsers never send one), so it is not authorized, as in AWS.
  if (context.auth.kind === 'jwt' && req.method !== 'OPTIONS') {
    const outcome = await authorizeWith(context.auth, req.headers.authorization ?? '', { requireStaff: false });
    if (!outcome.ok)
      return send(res, { ...outcome.result, headers: { ...outcome.result.headers, ...PLAYER_CORS_HEADERS } });
    event.requestContext.authorizer = outcome.authorizer;
  }
  try {
    send(res, await context.player(event));
  } catch (error) {
    console.error('[player] handler threw:', error);
    send(res, playerError(500, ErrorCode.INTERNAL, 'internal error'));
  }
}

/** The API Gateway HTTP API (payload v2) event for a request, as the Lambda would get it (no authorizer yet). */
function httpEvent(req: IncomingMessage, url: URL, body: Buffer): SupportEvent {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: flattenHeaders(req.headers),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: req.headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: String(req.headers['user-agent'] ?? ''),
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    body: body.length ? body.toString('utf8') : undefined,
    isBase64Encoded: false,
  };
}

/**
 * What the caller proves, as API Gateway would hand it to the handler; or the refusal. `requireStaff: false` for the
 * player API: any valid token, its `sub` the caller.
 */
async function authorizeWith(
  auth: SupportAuth,
  header: string,
  { requireStaff }: { requireStaff: boolean } = { requireStaff: true },
): Promise<AuthOutcome> {
  const presented = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
  if (auth.kind === 'adminToken') {
    if (!presented || !tokenMatches(presented, auth.token)) {
      return {
        ok: false,
        result: errorResponse(401, ErrorCode.UNAUTHORIZED, 'send Authorization: Bearer ADMIN_TOKEN'),
      };
    }
    // Who did it, for the audit log: in AWS this is the caller's IAM identity.
    return { ok: true, authorizer: { iam: { userArn: 'local:admin-token' } } };
  }
  try {
    const identity = await auth.verifier.verify(presented);
    if (requireStaff && !isStaff(identity.claims, auth.staff)) {
      return { ok: false, result: errorResponse(403, ErrorCode.FORBIDDEN, 'this token is not a staff token') };
    }
    // As the HTTP API's JWT authorizer passes them on: every claim as text.
    const claims = Object.fromEntries(
      Object.entries(identity.claims).map(([k, v]) => [k, typeof v === 'string' ? v : flatten(v)]),
    );
    return { ok: true, authorizer: { jwt: { claims, scopes: null } } };
  } catch (error) {
    if (error instanceof InvalidTokenError) {
      return {
        ok: false,
        result: errorResponse(
          401,
          ErrorCode.UNAUTHORIZED,
          requireStaff
            ? 'send Authorization: Bearer STAFF_TOKEN (a valid one)'
            : 'send Authorization: Bearer TOKEN (a valid one)',
        ),
      };
    }
    return { ok: false, result: errorResponse(503, ErrorCode.UNAVAILABLE, 'the token issuer cannot be reached') };
  }
}

/** API Gateway's rendering of a non-string claim: arrays as `[a b]`, the rest as JSON. */
function flatten(value: unknown): string {
  return Array.isArray(value) ? `[${value.join(' ')}]` : JSON.stringify(value);
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2) {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  if (result.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.body);
}
