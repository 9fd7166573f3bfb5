/**
 * The hourly usage's pure part (core/events/usage.ts): hours, sequences, medians and the histogram, what a batch
 * writes, and the report of stored hours. No I/O.
 */
import { describe, expect, it } from 'vitest';
import { counterChanges } from '../../core/events/changes.js';
import {
  durationBucket,
  HOUR_MS,
  histogramMedian,
  hourOf,
  median,
  pendingSteps,
  planUsage,
  type StoredHour,
  sequenceKey,
  type UsageStep,
  usageHours,
  usageRange,
  usageSteps,
  userHourKey,
} from '../../core/events/usage.js';
import type { ConnectionRecord } from '../../core/store/items.js';

const H = Date.parse('2026-12-07T10:00:00Z');

const step = (over: Partial<UsageStep>): UsageStep => ({
  userId: 'u',
  sequence: '100',
  at: H,
  before: 0,
  after: 1,
  admissions: 1,
  ended: 0,
  evictions: 0,
  reclaims: 0,
  durations: [],
  ...over,
});

describe('When a time is put in its hour', () => {
  it('floors it to the start of its UTC hour', () => {
    // Act + Assess
    expect(hourOf(H)).toBe(H);
    expect(hourOf(H + HOUR_MS - 1)).toBe(H);
    expect(hourOf(H + HOUR_MS)).toBe(H + HOUR_MS);
  });
});

describe('When sequences of different lengths are compared', () => {
  it('orders them as numbers, and refuses what is not one', () => {
    // Act + Assess
    expect(sequenceKey('99999999999999999999') < sequenceKey('100000000000000000000')).toBe(true);
    expect(sequenceKey('0042')).toBe(sequenceKey('42'));
    expect(() => sequenceKey('12a')).toThrow(RangeError);
    expect(() => sequenceKey('')).toThrow(RangeError);
  });
});

describe('When stream lengths are put in the histogram', () => {
  it('keeps seconds to two significant digits, rounded down, in at most about 90 buckets a decade', () => {
    // Act
    const buckets = new Set<number>();
    for (let s = 0; s < 100_000; s += 7) buckets.add(durationBucket(s * 1000));

    // Assess
    expect([999, 59_999, 99_999, 100_000, 1_234_567, 11_400_000].map(durationBucket)).toEqual([
      0, 59, 99, 100, 1200, 11_000,
    ]);
    expect(buckets.size).toBeLessThanOrEqual(100 + 3 * 90);
  });

  it('takes the median from exact values or from the buckets, null when nothing ended', () => {
    // Act + Assess
    expect(median([])).toBeNull();
    expect(median([30, 10, 20])).toBe(20);
    expect(median([10, 20, 30, 41])).toBe(25);
    expect(histogramMedian(new Map())).toBeNull();
    expect(
      histogramMedian(
        new Map([
          [60, 2],
          [1800, 1],
        ]),
      ),
    ).toBe(60_000);
    expect(
      histogramMedian(
        new Map([
          [60, 1],
          [120, 1],
        ]),
      ),
    ).toBe(90_000);
  });
});

describe('When counter changes become usage steps', () => {
  it('counts admissions, ends by reason (evicted; reclaimed and swept as reclaims) and lengths; not limit changes', () => {
    // Prepare: one change ends x (evicted), y (reclaimed), z (swept) and admits w; one only sets a limit
    const closedAs = (id: string, reason: ConnectionRecord['closeReason']): ConnectionRecord => ({
      connectionId: id,
      userId: 'u',
      connectedAt: H,
      lastSeenAt: H,
      leaseExpiresAt: H,
      state: 'closed',
      closedAt: H + 90_000,
      closeReason: reason,
    });
    const connections = new Map([
      ['x', closedAs('x', 'evicted')],
      ['y', closedAs('y', 'reclaimed')],
      ['z', closedAs('z', 'swept')],
    ]);
    const counter = (members: string[], extra = {}) => ({
      pk: 'user#u',
      sk: 'counter',
      active: members.length,
      ...Object.fromEntries(members.map((m) => [`c:${m}`, [H, H]])),
      ...extra,
    });
    const changes = counterChanges([
      {
        sequence: '5',
        keys: { pk: 'user#u', sk: 'counter' },
        old: counter(['x', 'y', 'z']),
        new: counter(['w']),
        at: H + 90_000,
      },
      {
        sequence: '6',
        keys: { pk: 'user#u', sk: 'counter' },
        old: counter(['w']),
        new: counter(['w'], { limitOverride: 5 }),
        at: H + 95_000,
      },
      { sequence: '', keys: { pk: 'user#u', sk: 'counter' }, old: counter(['w']), new: counter([]), at: H + 99_000 },
    ]);

    // Act
    const steps = usageSteps(changes, connections);

    // Assess
    expect(steps).toEqual([
      {
        userId: 'u',
        sequence: '5',
        at: H + 90_000,
        before: 3,
        after: 1,
        admissions: 1,
        ended: 3,
        evictions: 1,
        reclaims: 2,
        durations: [90_000, 90_000, 90_000],
      },
    ]);
  });
});

describe('When a batch is planned', () => {
  it("raises each hour's peak from the count it began with, and moves the service's total in order", () => {
    // Prepare: u goes 2 → 3 → 1 in hour H; v 0 → 1 in hour H+1; the service holds 5 before
    const steps = [
      step({ sequence: '1', before: 2, after: 3 }),
      step({ sequence: '2', before: 3, after: 1, admissions: 0, ended: 2, evictions: 1, durations: [1000, 3000] }),
      step({ userId: 'v', sequence: '7', at: H + HOUR_MS, before: 0, after: 1 }),
    ];

    // Act
    const plan = planUsage(steps, { users: new Map(), total: 5, service: new Map() });

    // Assess
    const u = plan.users.get(userHourKey('u', H))!;
    expect(u).toMatchObject({ peak: 3, level: 1, admissions: 1, ended: 2, evictions: 1, sequence: '2' });
    expect(u.durations).toEqual([1000, 3000]);
    expect(plan.service.get(H)).toMatchObject({ peak: 6, level: 4, admissions: 1, ended: 2 });
    expect(plan.service.get(H + HOUR_MS)).toMatchObject({ peak: 5, level: 5, admissions: 1 });
    expect(plan.total).toBe(5);
  });

  it('keeps a peak already higher, and drops the steps a user-hour has applied', () => {
    // Prepare
    const reads = {
      users: new Map([[userHourKey('u', H), { peak: 4, sequence: sequenceKey('2'), kept: 0 }]]),
      total: 1,
      service: new Map([[H, { peak: 9 }]]),
    };
    const steps = [step({ sequence: '1' }), step({ sequence: '2' }), step({ sequence: '3', before: 1, after: 2 })];

    // Act
    const pending = pendingSteps(steps, reads);
    const plan = planUsage(pending, reads);

    // Assess
    expect(pending.map((s) => s.sequence)).toEqual(['3']);
    expect(plan.users.get(userHourKey('u', H))).toMatchObject({ peak: 4, level: 2, sequence: '3' });
    expect(plan.service.get(H)).toMatchObject({ peak: 9, level: 2 });
  });
});

describe('When stored hours are reported', () => {
  const stored = (over: Partial<StoredHour>): StoredHour => ({
    hour: H,
    admissions: 0,
    refusals: 0,
    evictions: 0,
    reclaims: 0,
    ended: 0,
    histogram: new Map(),
    ...over,
  });

  it('zero-fills every hour and carries the level through hours without a change', () => {
    // Prepare: level 2 carried in; hour +1 drops to 1 (peak 2); hour +2 has refusals only; hour +3 nothing
    const hours = [
      stored({ hour: H + HOUR_MS, peak: 2, level: 1, ended: 1, durations: [5000], histogram: new Map([[5, 1]]) }),
      stored({ hour: H + 2 * HOUR_MS, refusals: 3 }),
    ];

    // Act
    const report = usageHours(H, H + 4 * HOUR_MS, hours, 2);

    // Assess
    expect(report.map((h) => [h.peak, h.refusals, h.ended, h.medianDurationMs])).toEqual([
      [2, 0, 0, null],
      [2, 0, 1, 5000],
      [1, 3, 0, null],
      [1, 0, 0, null],
    ]);
    expect(report[0]!.hour).toBe('2026-12-07T10:00:00.000Z');
  });

  it('takes the median from the histogram when the hour kept fewer lengths than streams ended', () => {
    // Act
    const [hour] = usageHours(
      H,
      H + HOUR_MS,
      [stored({ peak: 1, level: 0, ended: 3, durations: [1000], histogram: new Map([[120, 3]]) })],
      0,
    );

    // Assess
    expect(hour!.medianDurationMs).toBe(120_000);
  });
});

describe('When a range is asked for', () => {
  it('floors to hours, defaults to the 24 hours up to the end of this hour, and refuses empty or long ones', () => {
    // Prepare
    const now = H + 25 * 60_000;

    // Act + Assess
    expect(usageRange({}, now)).toEqual({ ok: true, from: H + HOUR_MS - 24 * HOUR_MS, to: H + HOUR_MS });
    expect(usageRange({ from: H + 1, to: H + 3 * HOUR_MS - 1 }, now)).toEqual({
      ok: true,
      from: H,
      to: H + 2 * HOUR_MS,
    });
    expect(usageRange({ from: H + 10, to: H + 20 }, now)).toMatchObject({ ok: false });
    expect(usageRange({ from: H, to: H + 744 * HOUR_MS }, now)).toMatchObject({ ok: true });
    expect(usageRange({ from: H, to: H + 745 * HOUR_MS }, now)).toMatchObject({ ok: false });
  });
});
