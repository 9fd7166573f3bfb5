/**
 * The local stack's events: the table's change stream read beside `npm start` (as the processor Lambda reads it in
 * AWS), turned into CloudEvents by the same core, and handed to `GET /events` and, when set, the webhook. The hourly
 * usage is kept by a second reader of the same stream with checkpoints of its own, so its writes (a transaction per
 * batch) never hold up the events' delivery; it polls less often, so each of its writes sums more changes.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type EventSink,
  type ProcessorDeps,
  processChanges,
  publish,
  recordUsage,
} from '../../core/events/processor.js';
import { type Refusal, refusedEvent } from '../../core/events/refusals.js';
import { RememberedConnections } from '../../core/events/remembered.js';
import type { CloudEvent } from '../../core/events/schema.js';
import type { SignalDeps } from '../../core/events/signals.js';
import type { UsageWriter } from '../../core/events/usage.js';
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
  /** the sharing signals' store and rules */
  signals?: SignalDeps;
  /** the hourly usage's store */
  usage?: UsageWriter;
  /** `GET /events`: kept across restarts of the pipeline, so staff following it stay connected */
  hub?: EventHub;
  pollMs?: number;
  log?: (line: string) => void;
}

/**
 * Refusals waiting for delivery, at most: a flood of refused connects while the webhook is down must not fill the
 * process. Past it the oldest are dropped (and counted); they were never in the table, so nothing else has them.
 */
const MAX_QUEUED_REFUSALS = 10_000;

/**
 * How often the usage reader asks for new changes unless a whole batch waits: hourly figures can wait a few seconds,
 * and a batch that gathers a user's several changes writes their user-hour once (DynamoDB Local has one writer).
 */
const USAGE_POLL_MS = 5_000;
const USAGE_BATCH = 1_000;

export class EventPipeline {
  readonly hub: EventHub;
  private readonly webhook?: WebhookSink;
  private readonly reader: TableStreamReader;
  private readonly usageReader?: TableStreamReader;
  private readonly sink: EventSink;
  private readonly log: (line: string) => void;
  private readonly signals?: SignalDeps;
  private readonly usage?: UsageWriter;
  private readonly refusals: CloudEvent[] = [];
  private draining?: Promise<void>;
  /** refusals dropped because too many waited */
  droppedRefusals = 0;
  /** every event processed since the start, for tests and `/health`-style checks */
  processed = 0;

  constructor(options: EventPipelineOptions) {
    const log = options.log ?? ((line: string) => console.error(line));
    this.log = log;
    this.hub = options.hub ?? new EventHub();
    this.webhook = options.webhook && new WebhookSink({ ...options.webhook, log });
    this.sink = {
      deliver: async (events: CloudEvent[]) => {
        // The live view first: it never fails. The webhook may hold the batch until its receiver takes it.
        await this.hub.deliver(events);
        await this.webhook?.deliver(events);
        this.processed += events.length;
      },
    };
    this.signals = options.signals;
    this.usage = options.usage;
    const deps: ProcessorDeps = {
      getConnection: options.getConnection,
      sink: this.sink,
      signals: options.signals,
      remembered: new RememberedConnections(),
    };
    const stream = { endpoint: options.endpoint, tableName: options.tableName, db: options.db, log };
    this.reader = new TableStreamReader({
      ...stream,
      pollMs: options.pollMs,
      onBatch: async (changes) => {
        await processChanges(deps, changes);
      },
    });
    const { usage } = options;
    if (usage) {
      this.usageReader = new TableStreamReader({
        ...stream,
        consumer: 'usage',
        behindAt: USAGE_BATCH,
        pollMs: Math.max(options.pollMs ?? 0, USAGE_POLL_MS),
        onBatch: (changes) => recordUsage({ usage, getConnection: options.getConnection }, changes),
      });
    }
  }

  start(): this {
    this.reader.start();
    this.usageReader?.start();
    return this;
  }

  /**
   * A refusal at the limit, told by `$connect` as it refuses: queued, and delivered beside the table's events. Never
   * waits and never throws: the refusal is answered whatever happens here.
   */
  refused(refusal: Refusal): void {
    this.refusals.push(refusedEvent(refusal));
    if (this.refusals.length > MAX_QUEUED_REFUSALS) {
      this.refusals.shift();
      this.droppedRefusals++;
    }
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.refusals.length > 0) {
      const event = this.refusals[0]!;
      try {
        await publish({ sink: this.sink, signals: this.signals, usage: this.usage }, [event]);
      } catch (error) {
        this.log(`[events] a refusal could not be delivered: ${String(error)}`);
        return; // stopping: what is left stays queued
      }
      this.refusals.shift();
    }
  }

  /** Stops reading and delivering; the refusals not yet delivered are handed back (a restart takes them over). */
  async stop(): Promise<CloudEvent[]> {
    this.webhook?.stop();
    await Promise.all([this.reader.stop(), this.usageReader?.stop()]);
    // A refusal in flight to a store that hangs must not hold the stop either: it is handed on, and comes again.
    await Promise.race([this.draining, new Promise((r) => setTimeout(r, 2_000).unref())]);
    return this.refusals.splice(0);
  }

  /** Refusals another pipeline could not deliver before it stopped. */
  adopt(pending: CloudEvent[]): void {
    if (pending.length === 0) return;
    this.refusals.unshift(...pending);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }
}
