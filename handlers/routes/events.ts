/**
 * The events processor: the table's change stream, a batch at a time, to lifecycle events (core/events) on a sink;
 * and, from the `$connect` function's log, its refusal lines to `stream.refused` (a refusal writes nothing to read).
 */
import { gunzipSync } from 'node:zlib';
import type { CloudWatchLogsEvent, DynamoDBStreamEvent } from 'aws-lambda';
import { type EventSink, processChanges, publish } from '../../core/events/processor.js';
import { changeOf, type StreamRecordLike } from '../../core/events/records.js';
import { refusalFromLogLine, refusedEvent } from '../../core/events/refusals.js';
import { RememberedConnections } from '../../core/events/remembered.js';
import type { CloudEvent } from '../../core/events/schema.js';
import type { SignalDeps } from '../../core/events/signals.js';
import { DynamoSignalStore } from '../../core/store/dynamodb/signals.js';
import { DynamoUsageStore } from '../../core/store/dynamodb/usage.js';
import type { Runtime } from '../lib/runtime.js';

export type EventsInput = DynamoDBStreamEvent | CloudWatchLogsEvent;

export function createEventsHandler(
  { store, logger, config }: Pick<Runtime, 'store' | 'logger' | 'config'>,
  sink: EventSink,
) {
  const signals: SignalDeps = {
    signals: new DynamoSignalStore(store.db, config.tableName),
    rules: config.sharing,
    getCounter: (id) => store.getCounter(id),
    getConnection: (id) => store.getConnection(id),
  };
  const usage = new DynamoUsageStore(store.db, config.tableName);
  // Kept while the Lambda's container lives: batches of the same shard come to the same container, one at a time.
  const remembered = new RememberedConnections();
  return async (input: EventsInput): Promise<void> => {
    if ('awslogs' in input) {
      const events = await publish({ sink, signals, usage }, refusalsOf(input));
      logger.debug('refusals published', { events: events.length });
      return;
    }
    const changes = input.Records.map((r) => changeOf(r as StreamRecordLike));
    // A failure throws: Lambda retries the batch (and splits it), then parks it in the dead-letter queue.
    const events = await processChanges(
      { getConnection: (id) => store.getConnection(id), sink, signals, usage, remembered },
      changes,
    );
    logger.debug('events published', { records: changes.length, events: events.length });
  };
}

/** CloudWatch Logs hands a subscription its lines gzipped and base64-encoded; lines that are not refusals are skipped. */
export function refusalsOf(input: CloudWatchLogsEvent): CloudEvent[] {
  const batch = JSON.parse(gunzipSync(Buffer.from(input.awslogs.data, 'base64')).toString('utf8')) as {
    logEvents?: Array<{ message?: string }>;
  };
  return (batch.logEvents ?? []).flatMap((e) => {
    const refusal = refusalFromLogLine(e.message ?? '');
    return refusal ? [refusedEvent(refusal)] : [];
  });
}
