/**
 * Sharing signals: accounts that look shared, told and listed, never blocked. Two signs, each at most once per user
 * and day (UTC): streams playing at once from more distinct networks than `networks` (a household is one or two), and
 * more refusals at the limit in a day than `refusalsPerDay`. Computed by the events processor from the events it
 * makes, off the players' path.
 */

import { forEachLimited } from '../limiter.js';
import type { ConnectionRecord, CounterRecord } from '../store/items.js';
import { dayOf } from './names.js';
import { networkOf } from './network.js';
import { type CloudEvent, cloudEvent } from './schema.js';

export type SharingReason = 'networks' | 'refusals';

export interface SharingSignal {
  userId: string;
  reason: SharingReason;
  /** the UTC day, `YYYY-MM-DD` */
  day: string;
  at: number;
  seen: number;
  threshold: number;
  networks?: string[];
}

export interface SharingRules {
  networks: number;
  refusalsPerDay: number;
}

export interface SignalStore {
  /** whether this user's signal of this reason is recorded for that day */
  hasSignal(day: string, userId: string, reason: SharingReason): Promise<boolean>;
  /** records a signal once its event was delivered (a second time changes nothing) */
  recordSignal(signal: SharingSignal): Promise<void>;
  /** counts a refusal once per connection: how many the user had that day, past `cap` no longer exact */
  countRefusal(day: string, userId: string, connectionId: string, cap: number): Promise<number>;
  /** the signals of a day, by user */
  listSignals(day: string): Promise<SharingSignal[]>;
}

export interface SignalDeps {
  signals: SignalStore;
  rules: SharingRules;
  getCounter(userId: string): Promise<CounterRecord>;
  getConnection(connectionId: string): Promise<ConnectionRecord | undefined>;
}

export { dayOf };

/** What a batch of the table's changes already showed: each user's counter after it, and connections' items. */
export interface SignalsSeen {
  counters: ReadonlyMap<string, CounterRecord>;
  connections: { get(connectionId: string): ConnectionRecord | undefined };
}

/** Users judged at once for the networks sign: each costs a read or two when the batch did not show it all. */
const USERS_IN_FLIGHT = 8;

export function sharingEvent(signal: SharingSignal): CloudEvent<'user.sharingSuspected'> {
  return cloudEvent('user.sharingSuspected', {
    id: `${signal.userId}/sharing/${signal.reason}/${signal.day}`,
    subject: signal.userId,
    time: signal.at,
    data: {
      userId: signal.userId,
      reason: signal.reason,
      seen: signal.seen,
      threshold: signal.threshold,
      ...(signal.networks ? { networks: signal.networks } : {}),
      day: signal.day,
    },
  });
}

/**
 * The signals `events` raise that are not yet recorded. The caller delivers their events with the others, then
 * records them: a batch that fails is processed again and raises them again, so none is lost, and a consumer drops
 * the second by its `id`.
 */
export async function signalsOf(deps: SignalDeps, events: CloudEvent[], seen?: SignalsSeen): Promise<SharingSignal[]> {
  const admittedUsers = new Map<string, number>();
  for (const e of events) if (e.type === 'stream.admitted') admittedUsers.set(e.subject, Date.parse(e.time));
  const byUser = new Map<string, SharingSignal>();
  await forEachLimited([...admittedUsers], USERS_IN_FLIGHT, async ([userId, at]) => {
    const signal = await networksSignal(deps, userId, at, seen);
    if (signal) byUser.set(userId, signal);
  });
  // In the order the users were admitted, whatever order their reads came back in.
  const found = [...admittedUsers.keys()].flatMap((userId) => byUser.get(userId) ?? []);
  for (const e of events) {
    if (e.type !== 'stream.refused') continue;
    const at = Date.parse(e.time);
    const day = dayOf(at);
    const { refusalsPerDay } = deps.rules;
    const seen = await deps.signals.countRefusal(day, e.subject, e.data.connectionId, refusalsPerDay + 1);
    if (seen <= refusalsPerDay || found.some((s) => s.userId === e.subject && s.reason === 'refusals')) continue;
    if (await deps.signals.hasSignal(day, e.subject, 'refusals')) continue;
    found.push({ userId: e.subject, reason: 'refusals', day, at, seen, threshold: refusalsPerDay });
  }
  return found;
}

/** The distinct networks of the user's streams counted now; a signal when they are more than allowed. */
async function networksSignal(
  deps: SignalDeps,
  userId: string,
  at: number,
  seen?: SignalsSeen,
): Promise<SharingSignal | undefined> {
  const counter = seen?.counters.get(userId) ?? (await deps.getCounter(userId));
  if (counter.counted.size <= deps.rules.networks) return undefined; // cannot be more networks than streams
  const connections = await Promise.all(
    [...counter.counted.keys()].map(async (id) => seen?.connections.get(id) ?? (await deps.getConnection(id))),
  );
  const networks = new Set(
    connections.flatMap((c) => (c?.state === 'open' && networkOf(c.sourceIp) ? [networkOf(c.sourceIp)!] : [])),
  );
  if (networks.size <= deps.rules.networks) return undefined;
  const day = dayOf(at);
  if (await deps.signals.hasSignal(day, userId, 'networks')) return undefined;
  return {
    userId,
    reason: 'networks',
    day,
    at,
    seen: networks.size,
    threshold: deps.rules.networks,
    networks: [...networks].sort(),
  };
}
