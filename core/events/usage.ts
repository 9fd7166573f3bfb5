/**
 * Usage per hour, per user and service-wide: peak concurrent streams, admissions, refusals, evictions, reclaims,
 * ended streams and the median stream length. Computed by the events processor from the counter changes it reads and
 * the refusals it is handed, never on the players' path; kept in the table as one item per user-hour and one per
 * service-hour (core/store/dynamodb/usage.ts). This file is the pure part: what a batch adds to which hour, and the
 * report a range of stored hours makes.
 *
 * Peaks. A user's peak in an hour is the highest count their counter reached in it, starting from the count the
 * hour began with; each hour's item also keeps its `level` (the count after its last change), so an hour without a
 * change (streams running across it) reports the level carried from the last hour before it as its peak. The
 * service-wide peak is the same over a service-wide running total of streams (the sum of every counter change's
 * difference), kept by the processor as it applies the changes.
 *
 * Stream lengths. A user-hour keeps the lengths of its first `KEPT_DURATIONS` ended streams exactly, so its median is
 * exact; past that, and always for the service, a histogram with two significant digits of seconds (exact to the
 * second below 100 s, then within 10 %, rounded down): about 90 buckets per decade, so an item stays small.
 */
import type { ConnectionRecord } from '../store/items.js';
import { type CounterChange, eventsOf } from './changes.js';
import type { CloudEvent } from './schema.js';

export const HOUR_MS = 3_600_000;

/** The most hours one report covers: 31 days. */
export const MAX_REPORT_HOURS = 31 * 24;

/** Stream lengths a user-hour keeps exactly; a user ending more streams in an hour falls back to the histogram. */
export const KEPT_DURATIONS = 500;

const SEQUENCE = /^\d{1,60}$/;

/** The start of the hour `at` falls in (ms, UTC). */
export const hourOf = (at: number) => Math.floor(at / HOUR_MS) * HOUR_MS;

/** What one counter change adds to its user's usage, in the hour it was made. */
export interface UsageStep {
  userId: string;
  /** the change's sequence in its stream partition: a user's steps are applied in this order, each once */
  sequence: string;
  at: number;
  /** the user's count before and after the change */
  before: number;
  after: number;
  admissions: number;
  ended: number;
  evictions: number;
  reclaims: number;
  /** the lengths of the streams it ended (ms) */
  durations: number[];
}

/** A refusal, as the usage counts it: once per connection. */
export interface UsageRefusal {
  userId: string;
  connectionId: string;
  at: number;
}

/**
 * The usage steps of counter changes and the events made of them. A change that neither moved the count nor its
 * members (a limit or policy change) adds nothing.
 */
export function usageSteps(changes: CounterChange[], connections: ReadonlyMap<string, ConnectionRecord>): UsageStep[] {
  return changes.flatMap((change) => {
    if (change.added.length === 0 && change.removed.length === 0 && change.before.active === change.after.active)
      return [];
    // A change without its sequence could not be told from its redelivery: left out rather than counted twice (the
    // stream always gives one; this guards a record read wrong from failing its batch for good).
    if (!SEQUENCE.test(change.sequence)) return [];
    const ends = eventsOf([change], connections).filter(
      (e): e is CloudEvent<'stream.ended'> => e.type === 'stream.ended',
    );
    return [
      {
        userId: change.userId,
        sequence: change.sequence,
        at: change.at,
        before: change.before.active,
        after: change.after.active,
        admissions: change.added.length,
        ended: ends.length,
        evictions: ends.filter((e) => e.data.reason === 'evicted').length,
        // Both take back a slot a ghost held: at a connect that needed it, or by the sweep.
        reclaims: ends.filter((e) => e.data.reason === 'reclaimed' || e.data.reason === 'swept').length,
        durations: ends.map((e) => e.data.durationMs),
      },
    ];
  });
}

/** The refusals among `events`. */
export const usageRefusals = (events: CloudEvent[]): UsageRefusal[] =>
  events.flatMap((e) =>
    e.type === 'stream.refused'
      ? [{ userId: e.subject, connectionId: e.data.connectionId, at: Date.parse(e.time) }]
      : [],
  );

/**
 * A sequence number as text whose order is its number's: DynamoDB Streams' sequence numbers are up to 40 digits,
 * past what a DynamoDB number holds exactly, and of varying length, so they are compared zero-padded.
 */
export function sequenceKey(sequence: string): string {
  if (!SEQUENCE.test(sequence)) throw new RangeError(`not a sequence number: ${sequence.slice(0, 80)}`);
  return BigInt(sequence).toString().padStart(60, '0');
}

/** A stream length's histogram bucket: its seconds, rounded down to two significant digits. */
export function durationBucket(durationMs: number): number {
  const seconds = Math.floor(Math.max(0, durationMs) / 1000);
  if (seconds < 100) return seconds;
  const scale = 10 ** (String(seconds).length - 2);
  return Math.floor(seconds / scale) * scale;
}

/** The median of exact values (the mean of the two middle ones for an even count), rounded to the ms. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return Math.round(sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** The median of a histogram (bucket seconds → count), in ms: the bucket's value stands for its streams. */
export function histogramMedian(histogram: ReadonlyMap<number, number>): number | null {
  const buckets = [...histogram.entries()].filter(([, n]) => n > 0).sort(([a], [b]) => a - b);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const at = (rank: number) => {
    let seen = 0;
    for (const [seconds, n] of buckets) {
      seen += n;
      if (rank < seen) return seconds * 1000;
    }
    return buckets.at(-1)![0] * 1000;
  };
  const mid = total >> 1;
  return Math.round(total % 2 === 1 ? at(mid) : (at(mid - 1) + at(mid)) / 2);
}

/** What the writer read before it writes: the user-hours' last applied change, the service's total and hours. */
export interface UsageReads {
  users: ReadonlyMap<string, { peak?: number; sequence?: string; kept: number }>;
  total: number;
  service: ReadonlyMap<number, { peak?: number }>;
}

/** The figures a write adds to one hour's item. */
export interface HourDelta {
  hour: number;
  peak: number;
  level: number;
  admissions: number;
  ended: number;
  evictions: number;
  reclaims: number;
  /** stream lengths to keep exactly (users only, up to `KEPT_DURATIONS` per hour) */
  durations: number[];
  /** bucket seconds → streams */
  histogram: Map<number, number>;
}

export interface UsagePlan {
  users: Map<string, HourDelta & { userId: string; sequence: string }>;
  service: Map<number, HourDelta>;
  /** the service-wide total after the steps */
  total: number;
}

/** The key of a user-hour among the writer's reads. */
export const userHourKey = (userId: string, hour: number) => JSON.stringify([userId, hour]);

/** The steps a user-hour has not applied yet: those after the last sequence it records. */
export function pendingSteps(steps: UsageStep[], reads: Pick<UsageReads, 'users'>): UsageStep[] {
  return steps.filter((s) => {
    const applied = reads.users.get(userHourKey(s.userId, hourOf(s.at)))?.sequence;
    return applied === undefined || sequenceKey(s.sequence) > applied;
  });
}

const emptyDelta = (hour: number, startLevel: number, peak: number | undefined): HourDelta => ({
  hour,
  peak: Math.max(0, peak ?? startLevel),
  level: startLevel,
  admissions: 0,
  ended: 0,
  evictions: 0,
  reclaims: 0,
  durations: [],
  histogram: new Map(),
});

function addStep(delta: HourDelta, step: UsageStep, level: number, keep: number): void {
  delta.peak = Math.max(delta.peak, level);
  delta.level = level;
  delta.admissions += step.admissions;
  delta.ended += step.ended;
  delta.evictions += step.evictions;
  delta.reclaims += step.reclaims;
  for (const ms of step.durations) {
    if (delta.durations.length < keep) delta.durations.push(ms);
    const bucket = durationBucket(ms);
    delta.histogram.set(bucket, (delta.histogram.get(bucket) ?? 0) + 1);
  }
}

/**
 * What applying `steps` (in order, none applied yet) writes: per user-hour and per service-hour, the new peak and
 * level and what to add. The service's running total moves by each step's difference, in the steps' order.
 */
export function planUsage(steps: UsageStep[], reads: UsageReads): UsagePlan {
  const users: UsagePlan['users'] = new Map();
  const service: UsagePlan['service'] = new Map();
  let total = reads.total;
  for (const step of steps) {
    const hour = hourOf(step.at);
    const key = userHourKey(step.userId, hour);
    const read = reads.users.get(key);
    const user =
      users.get(key) ??
      users
        .set(key, { ...emptyDelta(hour, step.before, read?.peak), userId: step.userId, sequence: step.sequence })
        .get(key)!;
    user.sequence = step.sequence;
    addStep(user, step, Math.max(0, step.after), Math.max(0, KEPT_DURATIONS - (read?.kept ?? 0)));

    const before = total;
    total += step.after - step.before;
    const hourly =
      service.get(hour) ?? service.set(hour, emptyDelta(hour, before, reads.service.get(hour)?.peak)).get(hour)!;
    addStep(hourly, step, Math.max(0, total), 0);
  }
  return { users, service, total };
}

/** One stored hour, as the report reads it. */
export interface StoredHour {
  hour: number;
  /** absent on an hour that saw refusals only */
  peak?: number;
  level?: number;
  admissions: number;
  refusals: number;
  evictions: number;
  reclaims: number;
  ended: number;
  /** the exact lengths, when the item kept every one */
  durations?: number[];
  histogram: Map<number, number>;
}

export interface UsageHour {
  hour: string;
  peak: number;
  admissions: number;
  refusals: number;
  evictions: number;
  reclaims: number;
  ended: number;
  medianDurationMs: number | null;
}

/**
 * One entry per hour of [from, to), oldest first, zero-filled; an hour without a change has the level carried from
 * the last one before it (`carried`: the level of the last hour before `from` that had one) as its peak.
 */
export function usageHours(from: number, to: number, stored: StoredHour[], carried: number): UsageHour[] {
  const byHour = new Map(stored.map((h) => [h.hour, h]));
  const hours: UsageHour[] = [];
  let level = Math.max(0, carried);
  for (let hour = from; hour < to; hour += HOUR_MS) {
    const h = byHour.get(hour);
    const peak = h?.peak ?? level;
    if (h?.level !== undefined) level = h.level;
    const exact = h?.durations !== undefined && h.durations.length === h.ended;
    hours.push({
      hour: new Date(hour).toISOString(),
      peak,
      admissions: h?.admissions ?? 0,
      refusals: h?.refusals ?? 0,
      evictions: h?.evictions ?? 0,
      reclaims: h?.reclaims ?? 0,
      ended: h?.ended ?? 0,
      medianDurationMs: h === undefined ? null : exact ? median(h.durations!) : histogramMedian(h.histogram),
    });
  }
  return hours;
}

/** The stored usage, as the support API reads it. */
export interface UsageReader {
  /** a user's stored hours in [from, to) and the level of their last hour before `from` (0 when none) */
  userHours(userId: string, from: number, to: number): Promise<{ hours: StoredHour[]; carried: number }>;
  serviceHours(from: number, to: number): Promise<{ hours: StoredHour[]; carried: number }>;
  /** the service-wide count of streams now, as the processor has applied the changes */
  serviceActive(): Promise<number>;
}

/** The usage writer: both calls apply each step or refusal once, however often they are handed the same ones. */
export interface UsageWriter {
  recordSteps(steps: UsageStep[]): Promise<void>;
  recordRefusals(refusals: UsageRefusal[]): Promise<void>;
}

export interface UsageReport {
  from: string;
  to: string;
  active: number;
  hours: UsageHour[];
}

export interface UsageReportDeps {
  usage: UsageReader;
  getCounter(userId: string): Promise<{ active: number }>;
}

/** `GET /usage`: the service's hours of [from, to) (whole hours) and its streams now. */
export async function serviceUsage(deps: UsageReportDeps, from: number, to: number): Promise<UsageReport> {
  const [{ hours, carried }, active] = await Promise.all([
    deps.usage.serviceHours(from, to),
    deps.usage.serviceActive(),
  ]);
  return report(from, to, Math.max(0, active), usageHours(from, to, hours, carried));
}

/** `GET /users/{userId}/usage`: the user's hours of [from, to) (whole hours) and their count now. */
export async function userUsage(
  deps: UsageReportDeps,
  userId: string,
  from: number,
  to: number,
): Promise<UsageReport & { userId: string }> {
  const [{ hours, carried }, counter] = await Promise.all([
    deps.usage.userHours(userId, from, to),
    deps.getCounter(userId),
  ]);
  return { userId, ...report(from, to, Math.max(0, counter.active), usageHours(from, to, hours, carried)) };
}

const report = (from: number, to: number, active: number, hours: UsageHour[]): UsageReport => ({
  from: new Date(from).toISOString(),
  to: new Date(to).toISOString(),
  active,
  hours,
});

export type UsageRange = { ok: true; from: number; to: number } | { ok: false; message: string };

/**
 * The report's range from the query's `from` and `to` (already checked as times): floored to the hour; `to`
 * defaults to the end of the current hour, `from` to a day before `to`.
 */
export function usageRange(asked: { from?: number; to?: number }, now: number): UsageRange {
  const to = asked.to === undefined ? hourOf(now) + HOUR_MS : hourOf(asked.to);
  const from = asked.from === undefined ? to - 24 * HOUR_MS : hourOf(asked.from);
  if (from >= to) return { ok: false, message: 'from must be before to (both are floored to the hour)' };
  if ((to - from) / HOUR_MS > MAX_REPORT_HOURS)
    return { ok: false, message: `from and to may be at most ${MAX_REPORT_HOURS} hours (31 days) apart` };
  return { ok: true, from, to };
}
