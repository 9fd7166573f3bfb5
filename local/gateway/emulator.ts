/**
 * A local stand-in for API Gateway's WebSocket API: it calls the same Lambda handlers with the same event shapes,
 * serves `@connections` so the real management client works against it, and applies API Gateway's limits.
 * It is an emulator, not a second implementation: all decisions stay in the handlers.
 * This file is its lifecycle; events, routes, connections and the management API live next to it.
 */
import { createServer, type Server } from 'node:http';
import { WebSocketServer } from 'ws';
import type { Authorizer } from '../../handlers/routes/authorizer.js';
import { boundPort, close, hostForUrl, isClientGone, listen } from '../http.js';
import type { LocalSettings } from '../settings.js';
import { Connections } from './connections.js';
import { serveManagement } from './management-api.js';
import { type EmulatorRoutes, type Faults, RouteDriver } from './routes.js';
import { MessageThrottle, type ThrottleStats } from './throttle.js';

export type { EmulatorRoutes, Faults } from './routes.js';
export type { ThrottleStats } from './throttle.js';

/** API Gateway's limits: 32 KB per frame, 128 KB per message. */
const MAX_FRAME_BYTES = 32 * 1024;
const MAX_MESSAGE_BYTES = 128 * 1024;
/** How long sockets get to close on shutdown before they are cut. */
const CLOSE_GRACE_MS = 2000;

export type EmulatorSettings = Pick<
  LocalSettings,
  | 'host'
  | 'wsPort'
  | 'idleTimeoutSeconds'
  | 'hardTimeoutSeconds'
  | 'faultDropDisconnect'
  | 'faultFailHandshake'
  | 'throttleRateLimit'
  | 'throttleBurstLimit'
  | 'throttleRoutes'
  | 'maxMessagesInFlight'
  | 'maxMessagesInFlightPerConnection'
>;

export interface EmulatorOptions {
  settings: EmulatorSettings;
  /** may also be attached after start, once the port (and so the callback URL) is known */
  routes?: EmulatorRoutes;
  /** for fault injection; tests may pass a seeded one */
  random?: () => number;
  onError?: (error: unknown, where: string) => void;
}

export class GatewayEmulator {
  private readonly http: Server;
  private readonly connections: Connections;
  private readonly driver: RouteDriver;
  private readonly faults: Faults;
  private readonly throttle: MessageThrottle;
  private closing = false;

  constructor(private readonly options: EmulatorOptions) {
    const { settings } = options;
    const onError = options.onError ?? ((error, where) => console.error(`[gateway] ${where}:`, error));
    this.faults = { dropDisconnectRate: settings.faultDropDisconnect, failHandshakeRate: settings.faultFailHandshake };
    this.connections = new Connections({
      idleMs: settings.idleTimeoutSeconds * 1000,
      hardMs: settings.hardTimeoutSeconds * 1000,
    });
    this.throttle = new MessageThrottle({
      rateLimit: settings.throttleRateLimit,
      burstLimit: settings.throttleBurstLimit,
      routes: settings.throttleRoutes,
      maxInFlight: settings.maxMessagesInFlight,
      maxInFlightPerConnection: settings.maxMessagesInFlightPerConnection,
    });
    this.driver = new RouteDriver({
      connections: this.connections,
      wss: new WebSocketServer({
        noServer: true,
        maxPayload: MAX_MESSAGE_BYTES,
        perMessageDeflate: false,
        // One message per socket per turn of the event loop: a TCP chunk of thousands of small frames from one socket
        // is not handled in one go while every other socket, `/health` and the support API wait. ws then reads that
        // socket no faster than its messages are handled, so TCP slows the sender down.
        allowSynchronousEvents: false,
      }),
      faults: this.faults,
      maxFrameBytes: MAX_FRAME_BYTES,
      throttle: this.throttle,
      domainName: () => this.hostAndPort,
      random: options.random ?? Math.random,
      onError,
    });
    this.driver.routes = options.routes;
    this.http = createServer((req, res) =>
      serveManagement(req, res, this.connections, MAX_MESSAGE_BYTES).catch((error) => {
        // An aborted body or a failing socket: answer if still possible, never take the process down.
        if (!isClientGone(error)) onError(error, '@connections request failed');
        if (!res.headersSent && !res.destroyed) res.writeHead(500).end();
        else res.destroy();
      }),
    );
    this.http.on('upgrade', (req, socket, head) =>
      this.driver.handshake(req, socket, head, this.closing).catch((error) => {
        onError(error, 'handshake failed');
        socket.destroy();
      }),
    );
  }

  /** The handlers; with an `authorizer`, every handshake passes it before `$connect` runs (jwt mode). */
  attach(routes: EmulatorRoutes, options: { authorizer?: Authorizer } = {}) {
    this.driver.routes = routes;
    this.driver.authorizer = options.authorizer;
  }

  /** Changes fault injection while running (tests turn faults on and off). */
  setFaults(faults: Partial<Faults>) {
    Object.assign(this.faults, faults);
  }

  get port(): number {
    return boundPort(this.http);
  }

  get url(): string {
    return `ws://${this.hostAndPort}`;
  }

  /** The `@connections` endpoint, as `stage.callbackUrl` is in AWS. */
  get callbackUrl(): string {
    return `http://${this.hostAndPort}`;
  }

  /** The connection ids of the open sockets, as API Gateway knows them. */
  openConnectionIds(): string[] {
    return this.connections.openIds();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Messages in flight now and at most, and how many were throttled, by cause (tests check the bounds hold). */
  get throttleStats(): ThrottleStats {
    return this.throttle.snapshot();
  }

  /** How often a route (or `authorizer`) has been invoked since start. */
  invocations(route: string): number {
    return this.driver.invocations.get(route) ?? 0;
  }

  private get hostAndPort(): string {
    return `${hostForUrl(this.options.settings.host)}:${this.port}`;
  }

  async start(): Promise<this> {
    const { wsPort, host } = this.options.settings;
    await listen(this.http, { port: wsPort, host, label: 'WS_PORT' });
    return this;
  }

  /** Closes every socket (running `$disconnect` for each, as API Gateway would on shutdown) and the port. */
  async stop(): Promise<void> {
    this.closing = true;
    await this.connections.closeAll(CLOSE_GRACE_MS);
    await this.driver.drain();
    await close(this.http);
  }
}
