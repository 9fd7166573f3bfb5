/**
 * From the table's changes to the events of the lifecycle. Pure: the processor (core/events/processor.ts) reads the
 * connections these changes name and hands them in.
 *
 * The counter item is the source. Its members change in the same write that admits or uncounts a connection, so one
 * change of the counter says which streams started and ended, and the count after: each member added is a
 * `stream.admitted`, each member removed a `stream.ended`. A user's counter lives in one partition, so its changes
 * come in the order they were made, and so do the events of each connection. The connection's item adds what the
 * counter does not hold: its stream, device, network and, once closed, why.
 *
 * An event's `id` is stable: a connection is admitted and uncounted once each (a closed connection's item stays as a
 * tombstone, so it is never counted again), so `<connectionId>/admitted` and `<connectionId>/ended` name one step
 * each, however often a change is read again. A user's limit or policy change is named by the change's sequence
 * number, which a re-read keeps.
 */
import { type ConnectionRecord, type CounterRecord, type Item, toConnection, toCounter } from '../store/items.js';
import {
  CONNECTION_PARTITION_PREFIX,
  CONNECTION_SORT_KEY,
  COUNTER_SORT_KEY,
  USER_PARTITION_PREFIX,
} from '../store/schema.js';
import { networkOf } from './network.js';
import { type CloudEvent, cloudEvent, type EndReason } from './schema.js';

export interface TableChange {
  /** the stream's sequence number: increases along a partition's changes */
  sequence: string;
  keys: { pk: string; sk: string };
  old?: Item;
  new?: Item;
  /** when the change was made (ms; DynamoDB Streams gives it to the second) */
  at: number;
}

export interface CounterChange {
  sequence: string;
  userId: string;
  before: CounterRecord;
  after: CounterRecord;
  at: number;
  added: string[];
  removed: string[];
}

/** The counter changes among `changes`, with the members each one added and removed; other items are not events. */
export function counterChanges(changes: TableChange[]): CounterChange[] {
  return changes.flatMap((change) => {
    const { pk, sk } = change.keys;
    if (sk !== COUNTER_SORT_KEY || !pk.startsWith(USER_PARTITION_PREFIX)) return [];
    const userId = pk.slice(USER_PARTITION_PREFIX.length);
    const before = toCounter(userId, change.old);
    const after = toCounter(userId, change.new);
    const added = [...after.counted.keys()].filter((id) => !before.counted.has(id));
    const removed = [...before.counted.keys()].filter((id) => !after.counted.has(id));
    return [{ sequence: change.sequence, userId, before, after, at: change.at, added, removed }];
  });
}

/** The connections whose items the events of `changes` need. */
export const connectionsNamed = (changes: CounterChange[]) => [
  ...new Set(changes.flatMap((c) => [...c.added, ...c.removed])),
];

/**
 * The connections' items as the batch itself shows them, so the processor reads only the others. A connection's item
 * is written in the same transaction as the counter change that counts or uncounts it, so on one shard (DynamoDB
 * Local's, or AWS's when both partitions share one) its image comes with that change; on another shard it may come
 * later or earlier, and then it is read. An item's state only moves forward (open, then closed once, with its
 * reason), so its last image in the batch is the most it can say: enough for an admission, and for an end once it
 * says closed (an end whose item still reads open here is read again: its closing write is on another shard).
 */
export function connectionsInBatch(changes: TableChange[], counters: CounterChange[]): Map<string, ConnectionRecord> {
  const latest = new Map<string, ConnectionRecord>();
  for (const change of changes) {
    const { pk, sk } = change.keys;
    if (sk !== CONNECTION_SORT_KEY || !pk.startsWith(CONNECTION_PARTITION_PREFIX) || !change.new) continue;
    const record = toConnection(change.new);
    if (record.connectionId === pk.slice(CONNECTION_PARTITION_PREFIX.length)) latest.set(record.connectionId, record);
  }
  const ended = new Set(counters.flatMap((c) => c.removed));
  for (const [id, record] of latest) if (ended.has(id) && record.state !== 'closed') latest.delete(id);
  return latest;
}

/** Each user's counter after the last of `changes` that touched it: who was counted at once, as of the batch. */
export function countersAfter(changes: CounterChange[]): Map<string, CounterRecord> {
  return new Map(changes.map((c) => [c.userId, c.after]));
}

/** The events of `changes`, in order: per change, ends before admissions (a slot freed, then taken). */
export function eventsOf(changes: CounterChange[], connections: ReadonlyMap<string, ConnectionRecord>): CloudEvent[] {
  return changes.flatMap((change) => [
    ...change.removed.map((id) => ended(change, id, connections.get(id))),
    ...change.added.map((id) => admitted(change, id, connections.get(id))),
    ...userChanges(change),
  ]);
}

function streamFields(change: CounterChange, connectionId: string, c: ConnectionRecord | undefined) {
  return {
    userId: change.userId,
    connectionId,
    ...(c?.streamId === undefined ? {} : { streamId: c.streamId }),
    ...(c?.device === undefined ? {} : { device: c.device }),
    ...(networkOf(c?.sourceIp) === undefined ? {} : { network: networkOf(c?.sourceIp) }),
    active: Math.max(0, change.after.active),
  };
}

function admitted(change: CounterChange, connectionId: string, c: ConnectionRecord | undefined): CloudEvent {
  const connectedAt = change.after.counted.get(connectionId) ?? c?.connectedAt ?? change.at;
  return cloudEvent('stream.admitted', {
    id: `${connectionId}/admitted`,
    subject: change.userId,
    time: connectedAt,
    data: { ...streamFields(change, connectionId, c), connectedAt: new Date(connectedAt).toISOString() },
  });
}

function ended(change: CounterChange, connectionId: string, c: ConnectionRecord | undefined): CloudEvent {
  const connectedAt = change.before.counted.get(connectionId) ?? c?.connectedAt ?? change.at;
  const endedAt = Math.max(connectedAt, c?.state === 'closed' ? (c.closedAt ?? change.at) : change.at);
  const reason: EndReason = c?.state === 'closed' && c.closeReason ? c.closeReason : 'forgotten';
  return cloudEvent('stream.ended', {
    id: `${connectionId}/ended`,
    subject: change.userId,
    time: endedAt,
    data: {
      ...streamFields(change, connectionId, c),
      reason,
      connectedAt: new Date(connectedAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      durationMs: Math.round(endedAt - connectedAt),
    },
  });
}

function userChanges({ before, after, userId, sequence, at }: CounterChange): CloudEvent[] {
  const events: CloudEvent[] = [];
  if (before.limitOverride !== after.limitOverride) {
    events.push(
      cloudEvent('user.limitChanged', {
        id: `${userId}/limit/${sequence}`,
        subject: userId,
        time: at,
        data: { userId, limit: after.limitOverride ?? null, previous: before.limitOverride ?? null },
      }),
    );
  }
  if (before.policyOverride !== after.policyOverride) {
    events.push(
      cloudEvent('user.policyChanged', {
        id: `${userId}/policy/${sequence}`,
        subject: userId,
        time: at,
        data: { userId, policy: after.policyOverride ?? null, previous: before.policyOverride ?? null },
      }),
    );
  }
  return events;
}
