/**
 * Turns a batch of table changes into events and hands them on, in order. Run by whatever reads the table's change
 * stream: a Lambda on DynamoDB Streams in AWS, the local poller beside `npm start`. A batch whose delivery fails is
 * handed back whole (the reader retries it from its checkpoint), so delivery is at least once; consumers deduplicate
 * by the event's `id`, which a retry keeps. The hourly usage (usage.ts) is kept from the same changes and refusals,
 * each counted once however often it comes.
 */
import { forEachLimited } from '../limiter.js';
import type { ConnectionRecord } from '../store/items.js';
import {
  type CounterChange,
  connectionsInBatch,
  connectionsNamed,
  counterChanges,
  countersAfter,
  eventsOf,
  type TableChange,
} from './changes.js';
import type { RememberedConnections } from './remembered.js';
import type { CloudEvent } from './schema.js';
import { type SignalDeps, type SignalsSeen, sharingEvent, signalsOf } from './signals.js';
import { type UsageWriter, usageRefusals, usageSteps } from './usage.js';

export interface EventSink {
  /** Delivers `events` in their order; throws when it could not (the batch is then tried again). */
  deliver(events: CloudEvent[]): Promise<void>;
}

export interface PublishDeps {
  sink: EventSink;
  /** the sharing signals' store and rules; without them no signal is raised */
  signals?: SignalDeps;
  /** the hourly usage's store; without it no usage is kept */
  usage?: UsageWriter;
}

export interface ProcessorDeps extends PublishDeps {
  getConnection(connectionId: string): Promise<ConnectionRecord | undefined>;
  /** connections seen in earlier batches, kept across batches by whoever runs the processor (see remembered.ts) */
  remembered?: RememberedConnections;
}

/** Reads of a batch's connections in flight at once: the processor is off the players' path and stays light. */
const READS_IN_FLIGHT = 8;

export interface UsageDeps {
  usage: UsageWriter;
  getConnection(connectionId: string): Promise<ConnectionRecord | undefined>;
  remembered?: RememberedConnections;
}

/** The events of a batch, delivered; and its usage too when `deps.usage` is given (as the Lambda runs it). */
export async function processChanges(deps: ProcessorDeps, changes: TableChange[]): Promise<CloudEvent[]> {
  const counters = counterChanges(changes);
  if (counters.length === 0) return [];
  const connections = await connectionsOf(deps, changes, counters);
  deps.remembered?.add(connections);
  const seen = { counters: countersAfter(counters), connections: deps.remembered ?? connections };
  const published = await publish(deps, eventsOf(counters, connections), seen);
  // After delivery: a batch tried again applies only what its last try did not (the writer skips applied changes).
  await deps.usage?.recordSteps(usageSteps(counters, connections));
  return published;
}

/**
 * A batch's usage alone: what a reader of its own runs (locally), so the hourly figures' writes never hold up the
 * events' delivery. Applied once per change however often the batch comes (the writer skips applied changes).
 */
export async function recordUsage(deps: UsageDeps, changes: TableChange[]): Promise<void> {
  const counters = counterChanges(changes);
  if (counters.length === 0) return;
  await deps.usage.recordSteps(usageSteps(counters, await connectionsOf(deps, changes, counters)));
}

/** The items of the connections a batch's counter changes name: from the batch itself where it shows them, else read. */
async function connectionsOf(
  deps: Pick<ProcessorDeps, 'getConnection'>,
  changes: TableChange[],
  counters: CounterChange[],
): Promise<Map<string, ConnectionRecord>> {
  const connections = connectionsInBatch(changes, counters);
  const unseen = connectionsNamed(counters).filter((id) => !connections.has(id));
  await forEachLimited(unseen, READS_IN_FLIGHT, async (id) => {
    const c = await deps.getConnection(id);
    if (c) connections.set(id, c);
  });
  return connections;
}

/**
 * Delivers `events` with the sharing signals they raise (judged on `seen`, what the batch showed, where it has it), then records those signals: a failed delivery records
 * nothing, so the batch's next try raises them again.
 */
export async function publish(deps: PublishDeps, events: CloudEvent[], seen?: SignalsSeen): Promise<CloudEvent[]> {
  const found = deps.signals ? await signalsOf(deps.signals, events, seen) : [];
  const all = [...events, ...found.map(sharingEvent)];
  if (all.length > 0) await deps.sink.deliver(all);
  for (const signal of found) await deps.signals!.signals.recordSignal(signal);
  await deps.usage?.recordRefusals(usageRefusals(events));
  return all;
}
