/**
 * A local stand-in for API Gateway's WebSocket API: it calls the same Lambda handlers with the same event shapes,
 * serves `@connections` so the real management client works against it, and applies API Gateway's limits.
 * It is an emulator, not a second implementation: all decisions stay in the handlers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { WebSocketEvent, WebSocketHandler, WebSocketRequestContext } from '../handlers/lib/events.js';
import { limitFrameSize } from './frame-limit.js';
import { hostForUrl, listen } from './http.js';
import type { LocalSettings } from './settings.js';

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

export type EmulatorSettings = Pick<
  LocalSettings,
  'host' | 'wsPort' | 'idleTimeoutSeconds' | 'hardTimeoutSeconds' | 'faultDropDisconnect' | 'faultFailHandshake'
>;

export interface EmulatorOptions {
  settings: EmulatorSettings;
  /** may also be attached after start, once the port (and so the callback URL) is known */
  routes?: EmulatorRoutes;
  /** for fault injection; tests may pass a seeded one */
  random?: () => number;
  onError?: (error: unknown, where: string) => void;
}

interface LiveConnection {
  id: string;
  socket: WebSocket;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
  idleTimer?: NodeJS.Timeout;
  hardTimer: NodeJS.Timeout;
}

const API_ID = 'local';
const STAGE = 'local';
/** API Gateway's limits: 32 KB per frame, 128 KB per message. */
const MAX_FRAME_BYTES = 32 * 1024;
const MAX_MESSAGE_BYTES = 128 * 1024;
const CONNECTIONS_PATH = /^(?:\/[^/]+)?\/@connections\/([^/?]+)$/;

export class GatewayEmulator {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly live = new Map<string, LiveConnection>();
  private readonly pendingDisconnects = new Set<Promise<unknown>>();
  private readonly settings: EmulatorSettings;
  private readonly faults: Faults;
  private readonly random: () => number;
  private readonly onError: (error: unknown, where: string) => void;
  private routes?: EmulatorRoutes;
  private closing = false;

  constructor(options: EmulatorOptions) {
    this.settings = options.settings;
    this.faults = {
      dropDisconnectRate: options.settings.faultDropDisconnect,
      failHandshakeRate: options.settings.faultFailHandshake,
    };
    this.random = options.random ?? Math.random;
    this.onError = options.onError ?? ((error, where) => console.error(`[gateway] ${where}:`, error));
    this.routes = options.routes;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
    this.http = createServer((req, res) => void this.serveManagement(req, res));
    this.http.on('upgrade', (req, socket, head) => void this.upgrade(req, socket, head));
  }

  attach(routes: EmulatorRoutes) {
    this.routes = routes;
  }

  /** Changes fault injection while running (tests turn faults on and off). */
  setFaults(faults: Partial<Faults>) {
    Object.assign(this.faults, faults);
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    return `ws://${this.hostAndPort}`;
  }

  /** The `@connections` endpoint, as `stage.callbackUrl` is in AWS. */
  get callbackUrl(): string {
    return `http://${this.hostAndPort}`;
  }

  private get hostAndPort(): string {
    return `${hostForUrl(this.settings.host)}:${this.port}`;
  }

  get connectionCount(): number {
    return this.live.size;
  }

  async start(): Promise<this> {
    await listen(this.http, { port: this.settings.wsPort, host: this.settings.host, label: 'WS_PORT' });
    return this;
  }

  /** Closes every socket (running `$disconnect` for each, as API Gateway would on shutdown) and the port. */
  async stop(): Promise<void> {
    this.closing = true;
    for (const conn of this.live.values()) conn.socket.close(1001, 'Going away');
    const deadline = Date.now() + 2000;
    while (this.live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const conn of this.live.values()) conn.socket.terminate();
    await Promise.allSettled([...this.pendingDisconnects]);
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on('error', () => socket.destroy());
    const routes = this.routes;
    if (this.closing || !routes) return refuse(socket, 503, '');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const connectionId = newConnectionId();
    const connectedAt = Date.now();
    const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
    const userAgent = String(req.headers['user-agent'] ?? '');
    const event = this.event('$connect', 'CONNECT', connectionId, connectedAt, sourceIp, userAgent);
    event.headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
    );
    event.multiValueHeaders = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v : v === undefined ? [] : [v]]),
    );
    const multi: Record<string, string[]> = {};
    for (const [k, v] of url.searchParams) {
      multi[k] ??= [];
      multi[k].push(v);
    }
    event.queryStringParameters = url.searchParams.size
      ? Object.fromEntries(Object.entries(multi).map(([k, v]) => [k, v[v.length - 1]]))
      : null;
    event.multiValueQueryStringParameters = url.searchParams.size ? multi : null;

    let clientGone = false;
    socket.once('close', () => (clientGone = true));
    let result: Awaited<ReturnType<WebSocketHandler>>;
    try {
      result = await routes.$connect(event, lambdaContext('$connect'));
    } catch (error) {
      this.onError(error, '$connect handler threw');
      return refuse(socket, 500, JSON.stringify({ message: 'Internal server error' }));
    }
    const status = result?.statusCode ?? 200;
    if (status < 200 || status >= 300) return refuse(socket, status, result?.body ?? '');

    const ctx = { connectionId, connectedAt, sourceIp, userAgent };
    if (clientGone || socket.destroyed)
      return this.runDisconnect(ctx, 1006, 'Connection closed before handshake completed');
    if (this.random() < this.faults.failHandshakeRate) {
      // Fault: the `$connect` committed but the client never gets its socket, and no `$disconnect` follows.
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, ctx));
  }

  private accept(
    socket: WebSocket,
    ctx: { connectionId: string; connectedAt: number; sourceIp: string; userAgent: string },
  ) {
    limitFrameSize(socket, MAX_FRAME_BYTES);
    const conn: LiveConnection = {
      id: ctx.connectionId,
      socket,
      connectedAt: ctx.connectedAt,
      lastActiveAt: Date.now(),
      sourceIp: ctx.sourceIp,
      userAgent: ctx.userAgent,
      hardTimer: setTimeout(() => socket.close(1001, 'Going away'), this.settings.hardTimeoutSeconds * 1000),
    };
    this.live.set(conn.id, conn);
    this.touch(conn);
    socket.on('message', (data, isBinary) => {
      this.touch(conn);
      void this.route(conn, data as Buffer, isBinary);
    });
    // ws closes with 1009 itself when a frame or message is too large; nothing else to do on errors.
    socket.on('error', () => {});
    socket.on('close', (code, reason) => {
      clearTimeout(conn.idleTimer);
      clearTimeout(conn.hardTimer);
      this.live.delete(conn.id);
      this.runDisconnect(ctx, code, reason.toString());
    });
  }

  private touch(conn: LiveConnection) {
    conn.lastActiveAt = Date.now();
    clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => conn.socket.close(1001, 'Going away'), this.settings.idleTimeoutSeconds * 1000);
  }

  private async route(conn: LiveConnection, data: Buffer, isBinary: boolean) {
    const body = isBinary ? data.toString('base64') : data.toString('utf8');
    // API Gateway's route selection: `$request.body.action`, else `$default`.
    let routeKey = '$default';
    if (!isBinary) {
      try {
        const action = (JSON.parse(body) as { action?: unknown })?.action;
        if (typeof action === 'string' && action in this.routes! && !action.startsWith('$')) routeKey = action;
      } catch {
        // not JSON: `$default`
      }
    }
    const event = this.event(routeKey, 'MESSAGE', conn.id, conn.connectedAt, conn.sourceIp, conn.userAgent);
    event.body = body;
    event.isBase64Encoded = isBinary;
    try {
      const result = await this.routes![routeKey]!(event, lambdaContext(routeKey));
      if (result?.body !== undefined && conn.socket.readyState === WebSocket.OPEN) conn.socket.send(result.body);
    } catch (error) {
      this.onError(error, `${routeKey} handler threw`);
      if (conn.socket.readyState === WebSocket.OPEN) {
        conn.socket.send(
          JSON.stringify({
            message: 'Internal server error',
            connectionId: conn.id,
            requestId: event.requestContext.requestId,
          }),
        );
      }
    }
  }

  private runDisconnect(
    ctx: { connectionId: string; connectedAt: number; sourceIp: string; userAgent: string },
    code: number,
    reason: string,
  ) {
    if (this.random() < this.faults.dropDisconnectRate) return;
    const event = this.event(
      '$disconnect',
      'DISCONNECT',
      ctx.connectionId,
      ctx.connectedAt,
      ctx.sourceIp,
      ctx.userAgent,
    );
    event.requestContext.disconnectStatusCode = code;
    event.requestContext.disconnectReason = reason;
    event.headers = { Host: this.hostAndPort, 'x-api-key': '', 'X-Forwarded-For': '' };
    const run = this.routes!.$disconnect(event, lambdaContext('$disconnect'))
      .catch((error) => this.onError(error, '$disconnect handler threw'))
      .finally(() => this.pendingDisconnects.delete(run));
    this.pendingDisconnects.add(run);
  }

  private event(
    routeKey: string,
    eventType: WebSocketRequestContext['eventType'],
    connectionId: string,
    connectedAt: number,
    sourceIp: string,
    userAgent: string,
  ): WebSocketEvent {
    const now = Date.now();
    const requestId = `${randomBytes(6).toString('base64url')}=`;
    return {
      requestContext: {
        routeKey,
        eventType,
        messageId:
          eventType === 'MESSAGE' ? `${randomBytes(6).toString('base64url')}=` : (undefined as unknown as string),
        extendedRequestId: requestId,
        requestTime: new Date(now).toUTCString(),
        messageDirection: 'IN',
        stage: STAGE,
        connectedAt,
        requestTimeEpoch: now,
        requestId,
        domainName: this.hostAndPort,
        connectionId,
        apiId: API_ID,
        identity: { sourceIp, userAgent },
      },
      isBase64Encoded: false,
    };
  }

  /** `@connections/{id}`: POST sends, GET describes, DELETE closes; 410 when the connection is gone. */
  private async serveManagement(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const match = CONNECTIONS_PATH.exec(path);
    if (!match) return json(res, 404, { message: 'Not Found' });
    const conn = this.live.get(decodeURIComponent(match[1]!));
    if (req.method === 'POST') {
      const body = await readBody(req, MAX_MESSAGE_BYTES);
      if (body === undefined)
        return json(res, 413, { message: 'Request entity too large' }, 'PayloadTooLargeException');
      if (!conn || conn.socket.readyState !== WebSocket.OPEN) return gone(res);
      conn.socket.send(body.toString('utf8'));
      return json(res, 200, {});
    }
    if (!conn || conn.socket.readyState !== WebSocket.OPEN) return gone(res);
    if (req.method === 'GET') {
      const connectedAt = new Date(conn.connectedAt).toISOString();
      const lastActiveAt = new Date(conn.lastActiveAt).toISOString();
      return json(res, 200, {
        // API Gateway's wire names, which the SDK reads (it shows them as ConnectedAt, Identity, LastActiveAt)...
        connectedAt,
        identity: { sourceIp: conn.sourceIp, userAgent: conn.userAgent },
        lastActiveAt,
        // ...and the SDK's spelling, which CONTRACT.md documents, for callers reading the JSON by hand.
        ConnectedAt: connectedAt,
        Identity: { SourceIp: conn.sourceIp, UserAgent: conn.userAgent },
        LastActiveAt: lastActiveAt,
      });
    }
    if (req.method === 'DELETE') {
      conn.socket.close(1000, '');
      res.writeHead(204).end();
      return;
    }
    return json(res, 405, { message: 'Method Not Allowed' });
  }
}

/** API Gateway's ids are 16 characters of base64 (for example `L0SM9cOFvHcCIhw=`). */
function newConnectionId(): string {
  return randomBytes(11).toString('base64').replace(/[+/]/g, 'A');
}

function refuse(socket: Duplex, status: number, body: string) {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function json(res: ServerResponse, status: number, body: unknown, errorType?: string) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
  });
  res.end(text);
}

function gone(res: ServerResponse) {
  json(res, 410, { message: 'Gone' }, 'GoneException');
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function lambdaContext(functionName: string) {
  return {
    awsRequestId: randomUUID(),
    functionName,
    functionVersion: '$LATEST',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 30_000,
  };
}
