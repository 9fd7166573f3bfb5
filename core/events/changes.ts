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
import { type ConnectionRecord, type CounterRecord, type Item, toCounter } from '../store/items.js';
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

const COUNTER_SORT_KEY = 'counter';
const USER_PREFIX = 'user#';

/** The counter changes among `changes`, with the members each one added and removed; other items are not events. */
export function counterChanges(changes: TableChange[]): CounterChange[] {
  return changes.flatMap((change) => {
    const { pk, sk } = change.keys;
    if (sk !== COUNTER_SORT_KEY || !pk.startsWith(USER_PREFIX)) return [];
    const userId = pk.slice(USER_PREFIX.length);
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
