/**
 * Reads the table's change stream on DynamoDB Local, as AWS's event source mapping reads it for the Lambda: each
 * shard in order, a batch at a time, the next batch only once the last one was processed, and a checkpoint per shard
 * after each processed batch. A batch that fails is read again from the checkpoint, after a pause; a reader started
 * again (or a new process on the same data) resumes from the checkpoints, so nothing is lost and a batch is at most
 * processed twice.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { TableChange } from '../../core/events/changes.js';
import { changeOf, type StreamRecordLike } from '../../core/events/records.js';
import { isEventsItem, keys } from '../../core/store/schema.js';

/** The checkpoint items: under their own partition, never a counter, so their own changes make no events. */
const checkpointKey = keys.eventsCheckpoint;

export interface TableStreamOptions {
  endpoint: string;
  tableName: string;
  db: DynamoDBDocumentClient;
  onBatch(changes: TableChange[]): Promise<void>;
  /** whose checkpoints these are: readers of the same stream for different ends keep their own (default `events`) */
  consumer?: string;
  /** a batch this big means the reader is behind and reads on at once (default BEHIND_AT) */
  behindAt?: number;
  /** how often an idle reader asks for new records (AWS polls each shard about 4 times a second) */
  pollMs?: number;
  /** the pause before a failed batch is read again */
  retryMs?: number;
  log?: (line: string) => void;
}

const DESCRIBE_EVERY_MS = 10_000;
/**
 * Records per GetRecords (the Streams API's most): a reader behind the table catches up in fewer, larger batches; the
 * processor's reads and writes per batch grow with the users in it, not with the records.
 */
const RECORDS_PER_BATCH = 1_000;
/**
 * A batch this big says the reader is behind (GetRecords also stops at 1 MB, so a reader behind may get fewer than
 * it asked for): it reads on at once; a smaller one waits a poll, gathering records as AWS's reader does.
 */
const BEHIND_AT = 100;
/** How long a stop waits for the batch in hand: a delivery stopped mid-way is read again, so waiting long gains nothing. */
const STOP_WAIT_MS = 2_000;
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export class TableStreamReader {
  private readonly streams: DynamoDBStreamsClient;
  private readonly tables: DynamoDBClient;
  private readonly iterators = new Map<string, string>();
  private readonly closedShards = new Set<string>();
  private described?: { at: number; streamArn: string; shards: Shard[] };
  private running?: Promise<void>;
  private stopping = false;
  private readonly abandon = new AbortController();
  private wake?: () => void;

  constructor(private readonly options: TableStreamOptions) {
    const client = { endpoint: options.endpoint, region: 'local', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 };
    this.streams = new DynamoDBStreamsClient(client);
    this.tables = new DynamoDBClient(client);
  }

  start(): this {
    this.running ??= this.loop();
    return this;
  }

  /** Stops after the batch in hand (its checkpoint written or not), and frees the clients. */
  /**
   * Stops: the calls in flight are abandoned (a store that hangs must not hold a stop), and the batch in hand gets
   * `STOP_WAIT_MS` to finish; one that does not is read again by the next reader, from the checkpoint.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.abandon.abort();
    await Promise.race([this.running, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    this.streams.destroy();
    this.tables.destroy();
  }

  private async loop(): Promise<void> {
    const { pollMs = 250, retryMs = 1_000, log = () => undefined } = this.options;
    while (!this.stopping) {
      let pause = pollMs;
      try {
        // Straight on only while behind: otherwise a batch gathers a poll's worth of records, so the processor's
        // writes per admission stay few when the table is busy.
        if ((await this.readOnce()) === 'full') pause = 0;
      } catch (error) {
        log(`[events] reading the table's stream failed, trying again: ${String(error)}`);
        this.iterators.clear(); // read again from the checkpoints
        this.described = undefined;
        pause = retryMs;
      }
      if (pause > 0 && !this.stopping) await this.pauseFor(pause);
    }
  }

  /**
   * The stream and its shards, described again only now and then (a shard closes about every four hours in AWS, and
   * a new one opens): an idle reader then costs one GetRecords per shard per poll.
   */
  private async shardList() {
    const now = Date.now();
    if (this.described && now - this.described.at < DESCRIBE_EVERY_MS) return this.described;
    const { tableName } = this.options;
    const table = await this.tables.send(new DescribeTableCommand({ TableName: tableName }), this.signal);
    const streamArn = table.Table?.LatestStreamArn;
    if (!streamArn) throw new Error(`table ${tableName} has no stream`);
    const { StreamDescription } = await this.streams.send(
      new DescribeStreamCommand({ StreamArn: streamArn }),
      this.signal,
    );
    // A child shard holds changes made after its parent's: parents first, by their first sequence number.
    const shards = [...(StreamDescription?.Shards ?? [])].sort((a, b) =>
      compareSequence(a.SequenceNumberRange?.StartingSequenceNumber, b.SequenceNumberRange?.StartingSequenceNumber),
    );
    this.described = { at: now, streamArn, shards };
    return this.described;
  }

  private get signal() {
    return { abortSignal: this.abandon.signal };
  }

  private pauseFor(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      setTimeout(resolve, ms);
    });
  }

  /** One pass over the shards: `full` when a shard gave a big batch (the reader is behind), else `caughtUp`. */
  private async readOnce(): Promise<'full' | 'caughtUp'> {
    const { streamArn, shards } = await this.shardList();
    let full = false;
    for (const shard of shards) {
      const shardId = shard.ShardId!;
      if (this.closedShards.has(shardId) || this.stopping) continue;
      // A child's changes come after all of its parent's: it waits until the parent is read to its end.
      const parent = shard.ParentShardId;
      if (parent && !this.closedShards.has(parent) && shards.some((s) => s.ShardId === parent)) continue;
      const iterator = this.iterators.get(shardId) ?? (await this.iteratorFor(streamArn, shardId));
      const page = await this.streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: RECORDS_PER_BATCH }),
        this.signal,
      );
      const records = page.Records ?? [];
      if (records.length > 0) {
        const changes = records.map((r) => changeOf(r as StreamRecordLike));
        await this.options.onBatch(changes);
        // Its own checkpoint's changes alone move nothing: writing one for them would feed itself forever.
        if (changes.some((c) => !isEventsItem(c.keys))) await this.save(shardId, changes.at(-1)!.sequence);
        full ||= records.length >= (this.options.behindAt ?? BEHIND_AT);
      }
      if (page.NextShardIterator) this.iterators.set(shardId, page.NextShardIterator);
      else {
        this.iterators.delete(shardId);
        this.closedShards.add(shardId);
      }
    }
    return full ? 'full' : 'caughtUp';
  }

  private async iteratorFor(streamArn: string, shardId: string): Promise<string> {
    const after = await this.checkpoint(shardId);
    const { ShardIterator } = await this.streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(after
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
      this.signal,
    );
    if (!ShardIterator) throw new Error(`no iterator for shard ${shardId}`);
    return ShardIterator;
  }

  async checkpoint(shardId: string): Promise<string | undefined> {
    const { db, tableName } = this.options;
    const { Item } = await db.send(
      new GetCommand({
        TableName: tableName,
        Key: checkpointKey(shardId, this.options.consumer),
        ConsistentRead: true,
      }),
      this.signal,
    );
    return Item?.sequence as string | undefined;
  }

  private async save(shardId: string, sequence: string): Promise<void> {
    const { db, tableName } = this.options;
    await db.send(
      new PutCommand({ TableName: tableName, Item: { ...checkpointKey(shardId, this.options.consumer), sequence } }),
      this.signal,
    );
  }
}

/** Sequence numbers are decimal strings of up to 40 digits: compared by length, then as text. */
export function compareSequence(a = '', b = ''): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}
