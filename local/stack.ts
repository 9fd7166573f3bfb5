/**
 * The whole service on one machine: DynamoDB Local, the API Gateway emulator in front of the real handlers.
 * `npm start`, the integration tests and the benchmark all start it through here.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../core/config.js';
import type { SweepReport } from '../core/reclaim.js';
import { DynamoSignalStore } from '../core/store/dynamodb/signals.js';
import { createDocumentClient, createDynamoStore } from '../core/store/dynamodb/store.js';
import { DynamoUsageStore } from '../core/store/dynamodb/usage.js';
import type { ServiceMetrics } from '../handlers/lib/metrics.js';
import { createRuntime, type Runtime } from '../handlers/lib/runtime.js';
import { createAuthorizer } from '../handlers/routes/authorizer.js';
import { createConnectHandler } from '../handlers/routes/connect.js';
import { createDisconnectHandler } from '../handlers/routes/disconnect.js';
import { createMessageHandler } from '../handlers/routes/message.js';
import { createPlayerHandler } from '../handlers/routes/player.js';
import { createSupportHandler } from '../handlers/routes/support.js';
import { createSweepHandler } from '../handlers/routes/sweep.js';
import { type EmbeddedDynamoDb, ensureTable, startDynamoDbLocal } from './dynamodb-local.js';
import { EventHub } from './events/hub.js';
import { EventPipeline } from './events/pipeline.js';
import { GatewayEmulator } from './gateway/emulator.js';
import { type LocalIdentity, localIdentity } from './identity.js';
import { asyncApiDocument, openApiDocument } from './protocol/documents.js';
import { sdkBundle } from './sdk-bundle.js';
import { type LocalSettings, localSettings } from './settings.js';
import type { LocalSigningKey } from './signing-key.js';
import { delayStoreCalls } from './store-latency.js';
import { newAdminToken, type SupportAuth, SupportServer } from './support-server.js';
import { CONSOLE_VENDOR_FILES, type WebPagesOptions } from './web-pages.js';

/** Settings (defaults and ranges in `settings.ts`), plus what only tests set. */
export interface LocalStackOptions extends Partial<LocalSettings> {
  /** for tests of an unreachable store: do not create the table */
  skipTableSetup?: boolean;
  /**
   * for tests that are not about the events: a new table without its change stream (DynamoDB Local spends about a
   * sixth more on each write with one, which every race test would pay)
   */
  withoutTableStream?: boolean;
  /** jwt mode: sign with this key (held in memory) instead of the key file */
  signingKey?: LocalSigningKey;
  /** for tests of the metrics: what the handlers record (silent otherwise, as `npm start` is) */
  metrics?: ServiceMetrics;
  /**
   * Called once, with one line, if the embedded DynamoDB Local dies while the stack runs. Nothing restarts it: an
   * in-memory store would come back empty while sockets it counted are still open, and limits would be wrong.
   */
  onStoreExit?: (line: string) => void;
}

export interface LocalStack {
  wsUrl: string;
  httpUrl: string;
  /** dev mode's bearer token of the support API */
  adminToken: string;
  /** jwt mode: the verifier and, when the stack is its own issuer, its signing key (tests mint tokens with it) */
  identity?: LocalIdentity;
  callbackUrl: string;
  dynamodbEndpoint: string;
  tableName: string;
  emulator: GatewayEmulator;
  /** what the handlers run on: config, store, gateway (tests drive handlers and the store through it) */
  runtime: Runtime;
  /** the embedded DynamoDB Local's java process, when the stack started one */
  dynamodbPid?: number;
  /** the lifecycle events read from the table's changes (`GET /events`, the webhook) */
  readonly events: EventPipeline;
  /** stops the events pipeline and starts another in its place, as a restarted processor would (tests) */
  restartEvents(): Promise<EventPipeline>;
  /** runs the sweep once, now */
  sweep(): Promise<SweepReport>;
  stop(): Promise<void>;
}

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** video.js's files, served beside the video.js page from node_modules (it is a dev dependency, as esbuild is). */
const VIDEOJS_DIST = fileURLToPath(new URL('../node_modules/video.js/dist/', import.meta.url));

/**
 * The player pages' `config.json` (where the sockets are, how the player says who it is; the player API is the page's
 * own origin), the player SDK's bundle beside each, and their content security policy, which lets them open sockets
 * on the WebSocket port: the demo player (`/player/`) and the video.js page (`/watch/`). Beside the console: the
 * charting library its usage charts draw with.
 */
function webPages(wsUrl: string, authMode: 'dev' | 'jwt'): WebPagesOptions {
  const config = { type: 'application/json; charset=utf-8', body: JSON.stringify({ wsUrl, apiUrl: '', authMode }) };
  const wsOrigin = [new URL(wsUrl).origin];
  return {
    generated: { '/player/config.json': config, '/watch/config.json': config },
    connectSources: { player: wsOrigin, watch: wsOrigin },
    built: {
      '/player/streamgate.js': () => sdkBundle('streamgate.js'),
      '/watch/streamgate-videojs.js': () => sdkBundle('streamgate-videojs.js'),
    },
    files: {
      '/watch/video.min.js': `${VIDEOJS_DIST}video.min.js`,
      '/watch/video-js.min.css': `${VIDEOJS_DIST}video-js.min.css`,
      ...Object.fromEntries(Object.entries(CONSOLE_VENDOR_FILES).map(([name, path]) => [`/console/${name}`, path])),
    },
  };
}

/** The protocol, machine-readable (local/protocol/), on the HTTP port beside the pages and the APIs. */
function protocolDocuments(wsUrl: string): Record<string, () => unknown> {
  return {
    '/openapi.json': () => openApiDocument(PACKAGE_VERSION),
    '/asyncapi.json': () => asyncApiDocument(PACKAGE_VERSION, wsUrl),
  };
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const settings = localSettings(options);
  const { tableName } = settings;
  let dynamo: EmbeddedDynamoDb | undefined;
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    // jwt mode: the issuer's keys first, so that a bad setting stops the start before anything listens.
    const identity = settings.authMode === 'jwt' ? await localIdentity(settings, options.signingKey) : undefined;

    let endpoint = settings.dynamodbEndpoint;
    if (!endpoint) {
      dynamo = await startDynamoDbLocal({ dataDir: settings.dataDir });
      stoppers.push(dynamo.stop);
      endpoint = dynamo.endpoint;
      if (options.onStoreExit) dynamo.onUnexpectedExit(options.onStoreExit);
    }
    if (!options.skipTableSetup) await ensureTable(endpoint, tableName, { stream: !options.withoutTableStream });

    let events: EventPipeline | undefined;
    const emulator = new GatewayEmulator({ settings });
    await emulator.start();
    stoppers.push(() => emulator.stop());

    // One runtime for every handler, as one Lambda container would have; checked like the Lambda environment.
    const runtime = createRuntime(
      loadConfig({
        TABLE_NAME: tableName,
        AUTH_MODE: settings.authMode,
        MANAGEMENT_ENDPOINT: emulator.callbackUrl,
        DYNAMODB_ENDPOINT: endpoint,
        STREAM_LIMIT: String(settings.streamLimit),
        LEASE_SECONDS: String(settings.leaseSeconds),
        HANDSHAKE_GRACE_SECONDS: String(settings.handshakeGraceSeconds),
        OPENING_WINDOW_SECONDS: String(settings.openingWindowSeconds),
        RESUME_HOLD_SECONDS: String(settings.resumeHoldSeconds),
        SHARING_NETWORKS: String(settings.sharingNetworks),
        SHARING_REFUSALS_PER_DAY: String(settings.sharingRefusalsPerDay),
        LIMIT_POLICY: settings.limitPolicy,
        JWT_STAFF_CLAIM: identity?.staff.claim,
        JWT_STAFF_VALUE: identity?.staff.value,
        JWT_LIMIT_CLAIM: identity?.limitClaim,
      }),
      // Refusals reach the events in memory, as they are refused (the pipeline starts below).
      {
        logLevel: settings.logLevel,
        metrics: options.metrics,
        refusals: settings.eventsProcessor === 'on' ? (r) => events?.refused(r) : undefined,
      },
    );
    if (settings.faultStoreLatency) delayStoreCalls(runtime.store.db, settings.faultStoreLatency);
    emulator.attach(
      {
        $connect: createConnectHandler(runtime),
        $disconnect: createDisconnectHandler(runtime),
        $default: createMessageHandler(runtime),
      },
      // jwt mode: the `$connect` REQUEST authorizer, run before `$connect` as API Gateway does.
      { authorizer: identity && createAuthorizer({ verifier: identity.verifier, logger: runtime.logger }) },
    );

    const adminToken = settings.adminToken ?? newAdminToken();
    const auth: SupportAuth = identity
      ? { kind: 'jwt', verifier: identity.verifier, staff: identity.staff, jwks: identity.jwks }
      : { kind: 'adminToken', token: adminToken };
    const hub = new EventHub();
    // The processor has clients of its own, as its Lambda does in AWS: its reads are not the handlers' calls.
    const eventsStore = createDynamoStore(createDocumentClient(endpoint), { tableName });
    const newPipeline = () =>
      new EventPipeline({
        endpoint,
        tableName,
        db: eventsStore.db,
        getConnection: (id) => eventsStore.getConnection(id),
        signals: {
          signals: new DynamoSignalStore(eventsStore.db, tableName),
          rules: runtime.config.sharing,
          getCounter: (id) => eventsStore.getCounter(id),
          getConnection: (id) => eventsStore.getConnection(id),
        },
        usage: new DynamoUsageStore(eventsStore.db, tableName),
        webhook: settings.eventsWebhookUrl
          ? { url: settings.eventsWebhookUrl, secret: settings.eventsWebhookSecret }
          : undefined,
        hub,
      });
    events = newPipeline();
    const supportServer = await new SupportServer(createSupportHandler(runtime), auth, settings, {
      player: createPlayerHandler(runtime),
      pages: webPages(emulator.url, settings.authMode),
      documents: protocolDocuments(emulator.url),
      events: hub,
    }).start();
    stoppers.push(() => supportServer.stop());
    if (!options.skipTableSetup && settings.eventsProcessor === 'on') {
      events.start();
      stoppers.push(async () => {
        await events?.stop();
        eventsStore.db.destroy();
      });
    }

    const sweeper = createSweepHandler(runtime);
    const runSweep = () => sweeper({ time: new Date().toISOString() });
    if (settings.sweepIntervalSeconds !== 0) {
      const interval = settings.sweepIntervalSeconds * 1000;
      let running: Promise<unknown> | undefined;
      const timer = setInterval(() => {
        if (running) return; // never two sweeps at once
        running = runSweep()
          .catch((error) => console.error('[sweep] failed:', error))
          .finally(() => (running = undefined));
      }, interval);
      stoppers.push(async () => {
        clearInterval(timer);
        await running;
      });
    }

    return {
      wsUrl: emulator.url,
      httpUrl: supportServer.url,
      adminToken,
      identity,
      callbackUrl: emulator.callbackUrl,
      dynamodbEndpoint: endpoint,
      dynamodbPid: dynamo?.pid,
      tableName,
      emulator,
      runtime,
      get events() {
        return events!;
      },
      async restartEvents() {
        const pending = await events!.stop();
        events = newPipeline();
        events.adopt(pending);
        return events.start();
      },
      sweep: runSweep,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
