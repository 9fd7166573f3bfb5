/**
 * The local stack's events: the table's change stream read beside `npm start` (as the processor Lambda reads it in
 * AWS), turned into CloudEvents by the same core, and handed to `GET /events` and, when set, the webhook.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type ProcessorDeps, processChanges } from '../../core/events/processor.js';
import type { CloudEvent } from '../../core/events/schema.js';
import type { ConnectionRecord } from '../../core/store/items.js';
import { EventHub } from './hub.js';
import { TableStreamReader } from './table-stream.js';
import { WebhookSink } from './webhook.js';

export interface EventPipelineOptions {
  endpoint: string;
  tableName: string;
  db: DynamoDBDocumentClient;
  getConnection(connectionId: string): Promise<ConnectionRecord | undefined>;
  webhook?: { url: string; secret?: string };
  pollMs?: number;
  log?: (line: string) => void;
}

export class EventPipeline {
  readonly hub = new EventHub();
  private readonly webhook?: WebhookSink;
  private readonly reader: TableStreamReader;
  /** every event processed since the start, for tests and `/health`-style checks */
  processed = 0;

  constructor(options: EventPipelineOptions) {
    const log = options.log ?? ((line: string) => console.error(line));
    this.webhook = options.webhook && new WebhookSink({ ...options.webhook, log });
    const deps: ProcessorDeps = {
      getConnection: options.getConnection,
      sink: {
        deliver: async (events: CloudEvent[]) => {
          // The live view first: it never fails. The webhook may hold the batch until its receiver takes it.
          await this.hub.deliver(events);
          await this.webhook?.deliver(events);
          this.processed += events.length;
        },
      },
    };
    this.reader = new TableStreamReader({
      endpoint: options.endpoint,
      tableName: options.tableName,
      db: options.db,
      pollMs: options.pollMs,
      log,
      onBatch: async (changes) => {
        await processChanges(deps, changes);
      },
    });
  }

  start(): this {
    this.reader.start();
    return this;
  }

  async stop(): Promise<void> {
    this.webhook?.stop();
    await this.reader.stop();
    this.hub.close();
  }
}
