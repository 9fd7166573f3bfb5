/**
 * The whole service on one machine: DynamoDB Local, the API Gateway emulator in front of the real handlers.
 * `npm start`, the integration tests and the benchmark all start it through here.
 */

import { loadConfig } from '../core/config.js';
import type { SweepReport } from '../core/reclaim.js';
import { createRuntime, type Runtime } from '../handlers/lib/runtime.js';
import { createConnectHandler } from '../handlers/routes/connect.js';
import { createDisconnectHandler } from '../handlers/routes/disconnect.js';
import { createMessageHandler } from '../handlers/routes/message.js';
import { createSupportHandler } from '../handlers/routes/support.js';
import { createSweepHandler } from '../handlers/routes/sweep.js';
import { type EmbeddedDynamoDb, ensureTable, startDynamoDbLocal } from './dynamodb-local.js';
import { type Faults, GatewayEmulator } from './gateway-emulator.js';
import { newAdminToken, SupportServer } from './support-server.js';

export interface LocalStackOptions {
  wsPort?: number;
  /** support API; 0 picks a free port */
  httpPort?: number;
  /** bearer token of the support API; random when unset */
  adminToken?: string;
  host?: string;
  streamLimit?: number;
  /** keep DynamoDB Local's data here across restarts; in memory when unset */
  dataDir?: string;
  /** use this DynamoDB instead of starting one */
  dynamodbEndpoint?: string;
  tableName?: string;
  leaseSeconds?: number;
  handshakeGraceSeconds?: number;
  /** how often the sweep runs; 0 turns it off (tests that call it themselves) */
  sweepIntervalSeconds?: number;
  idleTimeoutMs?: number;
  hardTimeoutMs?: number;
  faults?: Partial<Faults>;
  /** `dev` (identity from `?userId=`) unless set */
  authMode?: string;
  logLevel?: string;
  /** for tests of an unreachable store: do not create the table */
  skipTableSetup?: boolean;
}

export interface LocalStack {
  wsUrl: string;
  httpUrl: string;
  adminToken: string;
  callbackUrl: string;
  dynamodbEndpoint: string;
  tableName: string;
  emulator: GatewayEmulator;
  /** what the handlers run on: config, store, gateway (tests drive handlers and the store through it) */
  runtime: Runtime;
  /** runs the sweep once, now */
  sweep(): Promise<SweepReport>;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const tableName = options.tableName ?? 'streamgate';
  let dynamo: EmbeddedDynamoDb | undefined;
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    let endpoint = options.dynamodbEndpoint;
    if (!endpoint) {
      dynamo = await startDynamoDbLocal({ dataDir: options.dataDir });
      stoppers.push(dynamo.stop);
      endpoint = dynamo.endpoint;
    }
    if (!options.skipTableSetup) await ensureTable(endpoint, tableName);

    const emulator = new GatewayEmulator({
      port: options.wsPort ?? 3001,
      host: options.host ?? '127.0.0.1',
      idleTimeoutMs: options.idleTimeoutMs,
      hardTimeoutMs: options.hardTimeoutMs,
      faults: options.faults,
    });
    await emulator.start();
    stoppers.push(() => emulator.stop());

    // One runtime for every handler, as one Lambda container would have; checked like the Lambda environment.
    const runtime = createRuntime(
      loadConfig({
        TABLE_NAME: tableName,
        AUTH_MODE: options.authMode ?? 'dev',
        MANAGEMENT_ENDPOINT: emulator.callbackUrl,
        DYNAMODB_ENDPOINT: endpoint,
        STREAM_LIMIT: String(options.streamLimit ?? 3),
        LEASE_SECONDS: String(options.leaseSeconds ?? 300),
        HANDSHAKE_GRACE_SECONDS: String(options.handshakeGraceSeconds ?? 30),
      }),
      { logLevel: options.logLevel ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN' },
    );
    emulator.attach({
      $connect: createConnectHandler(runtime),
      $disconnect: createDisconnectHandler(runtime),
      $default: createMessageHandler(runtime),
    });

    const adminToken = options.adminToken || newAdminToken();
    const supportServer = await new SupportServer(createSupportHandler(runtime), adminToken, {
      port: options.httpPort ?? 3000,
      host: options.host ?? '127.0.0.1',
    }).start();
    stoppers.push(() => supportServer.stop());

    const sweeper = createSweepHandler(runtime);
    const runSweep = () => sweeper({ time: new Date().toISOString() });
    if (options.sweepIntervalSeconds !== 0) {
      const interval = (options.sweepIntervalSeconds ?? 60) * 1000;
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
      callbackUrl: emulator.callbackUrl,
      dynamodbEndpoint: endpoint,
      tableName,
      emulator,
      runtime,
      sweep: runSweep,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
