/** The table's change stream, a batch at a time, to lifecycle events (core/events) on a sink. */
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { type EventSink, processChanges } from '../../core/events/processor.js';
import { changeOf, type StreamRecordLike } from '../../core/events/records.js';
import type { Runtime } from '../lib/runtime.js';

export function createEventsHandler({ store, logger }: Pick<Runtime, 'store' | 'logger'>, sink: EventSink) {
  return async (event: DynamoDBStreamEvent): Promise<void> => {
    const changes = event.Records.map((r) => changeOf(r as StreamRecordLike));
    // A failure throws: Lambda retries the batch (and splits it), then hands it to the dead-letter queue.
    const events = await processChanges({ getConnection: (id) => store.getConnection(id), sink }, changes);
    logger.debug('events published', { records: changes.length, events: events.length });
  };
}
