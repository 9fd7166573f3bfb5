/**
 * Drives the routes as API Gateway does: `$connect` decides the handshake, each message goes to its route, and
 * every accepted socket gets one `$disconnect` when it closes (unless a fault drops it).
 */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, type WebSocketServer } from 'ws';
import type { WebSocketHandler } from '../../handlers/lib/events.js';
import { ErrorCode, errorBody } from '../../handlers/lib/responses.js';
import { type Authorizer, UNAUTHORIZED } from '../../handlers/routes/authorizer.js';
import { requestUrl } from '../http.js';
import type { Connections, LiveConnection } from './connections.js';
import {
  authorizerEvent,
  type ConnectionIdentity,
  connectEvent,
  disconnectEvent,
  identityOf,
  lambdaContext,
  messageEvent,
  selectRoute,
} from './events.js';
import { limitFrameSize } from './frame-limit.js';
import { type MessageThrottle, tooManyRequestsFrame } from './throttle.js';

/**
 * Past this many bytes waiting to go out to one socket (answers and throttle frames to a client that does not read),
 * the emulator stops reading that socket until they drain: TCP then slows the sender down, and memory stays bounded.
 */
const MAX_OUTBOUND_BYTES = 1024 * 1024;
/** API Gateway's answer to a throttled request that has no socket yet (`$connect`). */
const TOO_MANY_REQUESTS_BODY = JSON.stringify({ message: 'Too Many Requests' });

export interface EmulatorRoutes {
  $connect: WebSocketHandler;
  $disconnect: WebSocketHandler;
  $default: WebSocketHandler;
  [routeKey: string]: WebSocketHandler;
}

export interface Faults {
  /** share (0 to 1) of `$disconnect` events never delivered, as API Gateway may do */
  dropDisconnectRate: number;
  /** share (0 to 1) of admitted `$connect`s whose handshake then fails, with no `$disconnect` */
  failHandshakeRate: number;
}

export interface RouteDriverOptions {
  connections: Connections;
  wss: WebSocketServer;
  faults: Faults;
  maxFrameBytes: number;
  /** API Gateway's throttling and the emulator's in-flight bounds */
  throttle: MessageThrottle;
  /** `host:port` the API answers on, as events carry it */
  domainName: () => string;
  random: () => number;
  onError: (error: unknown, where: string) => void;
}

/** What API Gateway does with an authorizer's answer: a context for `$connect`, or a refusal. */
type Authorization = { ok: true; context: Record<string, unknown> } | { ok: false; status: number; body: string };

export class RouteDriver {
  routes?: EmulatorRoutes;
  /** the `$connect` REQUEST authorizer (jwt mode); runs before `$connect`, which never runs if it refuses */
  authorizer?: Authorizer;
  /** how often each route (and `authorizer`) was invoked, for tests that must show a handler never ran */
  readonly invocations = new Map<string, number>();
  private readonly pendingDisconnects = new Set<Promise<unknown>>();

  constructor(private readonly options: RouteDriverOptions) {}

  /** The upgrade request: `$connect` first; only a 2xx answer completes the handshake. */
  async handshake(req: IncomingMessage, socket: Duplex, head: Buffer, closing: boolean): Promise<void> {
    socket.on('error', () => socket.destroy());
    const routes = this.routes;
    if (closing || !routes) return refuse(socket, 503, '');
    // API Gateway refuses a malformed handshake before `$connect` runs: nothing is counted for it.
    const url = requestUrl(req.url);
    const problem = url ? handshakeProblem(req) : 'the request target is not a URL path';
    if (problem || !url) return refuse(socket, 400, errorBody(ErrorCode.INVALID_HANDSHAKE, problem ?? ''));
    if (!this.options.throttle.admitConnect()) return refuse(socket, 429, TOO_MANY_REQUESTS_BODY);
    const identity = identityOf(req);
    let clientGone = false;
    socket.once('close', () => (clientGone = true));
    const event = connectEvent(url, req, identity, this.options.domainName());
    if (this.authorizer) {
      const authorization = await this.authorize(this.authorizer, event);
      if (!authorization.ok) return refuse(socket, authorization.status, authorization.body);
      event.requestContext.authorizer = authorization.context;
    }
    let result: Awaited<ReturnType<WebSocketHandler>>;
    try {
      this.count('$connect');
      result = await routes.$connect(event, lambdaContext('$connect'));
    } catch (error) {
      this.options.onError(error, '$connect handler threw');
      return refuse(socket, 500, JSON.stringify({ message: 'Internal server error' }));
    }
    const status = result?.statusCode ?? 200;
    if (status < 200 || status >= 300) return refuse(socket, status, result?.body ?? '');

    if (clientGone || socket.destroyed) {
      return this.disconnect(identity, { code: 1006, reason: 'Connection closed before handshake completed' });
    }
    if (this.options.random() < this.options.faults.failHandshakeRate) {
      // Fault: the `$connect` committed but the client never gets its socket, and no `$disconnect` follows.
      socket.destroy();
      return;
    }
    // Should ws still refuse the upgrade (a check not mirrored above), the stream `$connect` counted is given back.
    let accepted = false;
    const refusedByWs = () => {
      if (!accepted) this.disconnect(identity, { code: 1006, reason: 'Handshake failed' });
    };
    socket.once('close', refusedByWs);
    this.options.wss.handleUpgrade(req, socket, head, (ws) => {
      accepted = true;
      socket.off('close', refusedByWs);
      this.accept(ws, socket, identity);
    });
  }

  /**
   * Runs the authorizer as API Gateway does: `Unauthorized` thrown is 401, any other failure 500, a policy that does
   * not allow this route 403. The context reaches `$connect` as `requestContext.authorizer`, with `principalId`, its
   * values as strings (API Gateway passes them on as text).
   */
  private async authorize(authorizer: Authorizer, connect: Parameters<WebSocketHandler>[0]): Promise<Authorization> {
    const event = authorizerEvent(connect);
    const started = Date.now();
    let answer: Awaited<ReturnType<Authorizer>>;
    try {
      this.count('authorizer');
      answer = await authorizer(event);
    } catch (error) {
      if (error instanceof Error && error.message === UNAUTHORIZED) {
        return {
          ok: false,
          status: 401,
          body: errorBody(ErrorCode.UNAUTHORIZED, 'a valid token is required: ?token=JWT'),
        };
      }
      this.options.onError(error, 'authorizer threw');
      return { ok: false, status: 500, body: JSON.stringify({ message: 'Internal server error' }) };
    }
    const allowed = answer?.policyDocument?.Statement?.some(
      (s) => s.Effect === 'Allow' && (s.Resource === event.methodArn || s.Resource === '*'),
    );
    if (!allowed) return { ok: false, status: 403, body: JSON.stringify({ message: 'Forbidden' }) };
    const context: Record<string, unknown> = {
      principalId: answer.principalId,
      integrationLatency: Date.now() - started,
    };
    for (const [k, v] of Object.entries(answer.context ?? {})) if (v !== undefined) context[k] = String(v);
    return { ok: true, context };
  }

  private count(route: string) {
    this.invocations.set(route, (this.invocations.get(route) ?? 0) + 1);
  }

  /** Waits for every `$disconnect` still running. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.pendingDisconnects]);
  }

  private accept(socket: WebSocket, raw: Duplex, identity: ConnectionIdentity) {
    limitFrameSize(socket, this.options.maxFrameBytes);
    const conn = this.options.connections.add(socket, identity);
    socket.on('message', (data, isBinary) => {
      this.options.connections.touch(conn);
      this.receive(conn, raw, data as Buffer, isBinary);
    });
    // ws closes with 1009 itself when a frame or message is too large; nothing else to do on errors.
    socket.on('error', () => {});
    socket.on('close', (code, reason) => this.disconnect(identity, { code, reason: reason.toString() }));
  }

  /**
   * One frame: throttled (answered `Too Many Requests`, its route never invoked, nothing counted) or handed to its
   * route, in flight until the route answers. Synchronous up to the handler call, so that the bounds hold however
   * many frames one chunk of TCP carries.
   */
  private receive(conn: LiveConnection, raw: Duplex, data: Buffer, isBinary: boolean) {
    const { throttle } = this.options;
    if (throttle.precheck(conn.connectionId)) return this.send(conn, raw, tooManyRequestsFrame(conn.connectionId));
    const routes = this.routes!;
    const body = isBinary ? data.toString('base64') : data.toString('utf8');
    const routeKey = selectRoute(body, isBinary, (key) => Object.hasOwn(routes, key));
    if (throttle.admit(conn.connectionId, routeKey))
      return this.send(conn, raw, tooManyRequestsFrame(conn.connectionId));
    this.message(conn, raw, routeKey, { body, isBinary })
      .catch((error) => this.options.onError(error, `${routeKey} message failed`))
      .finally(() => throttle.done(conn.connectionId));
  }

  private async message(
    conn: LiveConnection,
    raw: Duplex,
    routeKey: string,
    message: { body: string; isBinary: boolean },
  ) {
    const routes = this.routes!;
    const event = messageEvent(routeKey, conn, this.options.domainName(), message);
    try {
      this.count(routeKey);
      const result = await routes[routeKey]!(event, lambdaContext(routeKey));
      if (result?.body !== undefined) this.send(conn, raw, result.body);
    } catch (error) {
      this.options.onError(error, `${routeKey} handler threw`);
      const requestId = event.requestContext.requestId;
      this.send(
        conn,
        raw,
        JSON.stringify({ message: 'Internal server error', connectionId: conn.connectionId, requestId }),
      );
    }
  }

  /**
   * Sends a frame if the socket is open; past MAX_OUTBOUND_BYTES unsent, stops reading the socket until they drain.
   */
  private send(conn: LiveConnection, raw: Duplex, frame: string) {
    const { socket } = conn;
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(frame);
    if (socket.bufferedAmount > MAX_OUTBOUND_BYTES && !socket.isPaused) {
      socket.pause();
      raw.once('drain', () => socket.resume());
    }
  }

  private disconnect(identity: ConnectionIdentity, close: { code: number; reason: string }) {
    if (this.options.random() < this.options.faults.dropDisconnectRate) return;
    const event = disconnectEvent(identity, this.options.domainName(), close);
    this.count('$disconnect');
    const run = this.routes!.$disconnect(event, lambdaContext('$disconnect'))
      .catch((error) => this.options.onError(error, '$disconnect handler threw'))
      .finally(() => this.pendingDisconnects.delete(run));
    this.pendingDisconnects.add(run);
  }
}

/** Sec-WebSocket-Key: 16 random bytes in base64 (RFC 6455, 4.1). */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;

/** What API Gateway would refuse in an upgrade request, checked before `$connect`; undefined when it is fine. */
export function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return 'a WebSocket handshake must be a GET request';
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'the Upgrade header must be websocket';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !WEBSOCKET_KEY.test(key.trim())) return 'Sec-WebSocket-Key must be 16 bytes in base64';
  if (req.headers['sec-websocket-version'] !== '13') return 'Sec-WebSocket-Version must be 13';
  const protocols = req.headers['sec-websocket-protocol'];
  if (
    protocols !== undefined &&
    !/^\s*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\s*,\s*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*\s*$/.test(protocols)
  )
    return 'Sec-WebSocket-Protocol is malformed';
  return undefined;
}

/** Answers the upgrade request with a plain HTTP status, as API Gateway does when `$connect` refuses. */
function refuse(socket: Duplex, status: number, body: string) {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
