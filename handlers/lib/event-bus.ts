/**
 * The events' way out in AWS: the stack's EventBridge bus. Each event is one entry (source `streamgate`, detail type
 * the event's type, detail the whole CloudEvent), sent in order in PutEvents calls of ten. An entry EventBridge
 * refuses fails the batch: Lambda then retries it (the events' ids let consumers drop what came twice).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { EventSink } from '../../core/events/processor.js';
import { type CloudEvent, EVENT_SOURCE } from '../../core/events/schema.js';

/** PutEvents takes at most ten entries a call. */
const ENTRIES_PER_CALL = 10;

export class EventPublishError extends Error {
  override name = 'EventPublishError';
}

export class EventBusSink implements EventSink {
  constructor(
    private readonly client: Pick<EventBridgeClient, 'send'>,
    private readonly busName: string,
  ) {}

  async deliver(events: CloudEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += ENTRIES_PER_CALL) {
      const chunk = events.slice(i, i + ENTRIES_PER_CALL);
      const result = await this.client.send(
        new PutEventsCommand({
          Entries: chunk.map((event) => ({
            EventBusName: this.busName,
            Source: EVENT_SOURCE,
            DetailType: event.type,
            Detail: JSON.stringify(event),
            Time: new Date(event.time),
          })),
        }),
      );
      if (result.FailedEntryCount) {
        const failed = (result.Entries ?? []).find((e) => e.ErrorCode);
        throw new EventPublishError(`EventBridge refused ${result.FailedEntryCount} events: ${failed?.ErrorCode}`);
      }
    }
  }
}

export const createEventBusSink = (busName: string) => new EventBusSink(new EventBridgeClient({}), busName);
