/**
 * The capacity model and its simulation, at small scale: no partition over its write limit, the index's shard count
 * following the connect rate, and a stream's write units within the budget.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEASE_SHARDS, leaseShardsFor, MAX_LEASE_SHARDS } from '../../core/store/schema.js';
import { checksWithin, lifecycle, streamWriteUnits, streamWriteUnitsBefore } from '../../tools/capacity/model.js';
import { indexUnitsBefore, PARTITION_WRITE_UNITS, seeded, simulate } from '../../tools/capacity/simulate.js';

describe('capacity simulation', () => {
  it('keeps every table partition and index shard within its write limit at 100,000 streams', () => {
    // Act
    const result = simulate({ concurrency: 100_000, connectsPerSecond: 200, seconds: 10, random: seeded(7) });

    // Assess
    expect(result.index.shards).toBe(leaseShardsFor(200));
    expect(result.table.hottestPartition).toBeLessThanOrEqual(PARTITION_WRITE_UNITS);
    expect(result.index.hottestShard).toBeLessThanOrEqual(PARTITION_WRITE_UNITS);
    expect(result.withinLimits).toBe(true);
  });

  it('shows a single index shard going over its limit when the connect rate outgrows it', () => {
    const result = simulate({
      concurrency: 1_000_000,
      connectsPerSecond: 1_000,
      seconds: 3,
      leaseShards: 1,
      random: seeded(3),
    });

    expect(result.index.hottestShard).toBeGreaterThan(PARTITION_WRITE_UNITS);
    expect(result.withinLimits).toBe(false);
  });

  it('sizes the index for 10 million streams at 2,000 connects a second, where lease renewals could not fit', () => {
    const shards = leaseShardsFor(2000);

    expect((2 * 2000) / shards).toBeLessThanOrEqual(PARTITION_WRITE_UNITS / 2);
    expect(indexUnitsBefore(10_000_000, 2000).perShard).toBeGreaterThan(PARTITION_WRITE_UNITS);
  });

  it('grows the shard count with the connect rate, within its bounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 1_000_000 }), (a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        expect(leaseShardsFor(low)).toBeLessThanOrEqual(leaseShardsFor(high));
        expect(leaseShardsFor(low)).toBeGreaterThanOrEqual(DEFAULT_LEASE_SHARDS);
        expect(leaseShardsFor(high)).toBeLessThanOrEqual(MAX_LEASE_SHARDS);
      }),
    );
  });
});

describe('cost per stream', () => {
  it('a one-hour stream costs at most 12 write units, against about 80 with lease renewals', () => {
    const stream = lifecycle({ durationS: 3600, heartbeatS: 300, leaseS: 300, memoryMb: 512 });

    expect(stream.dynamodb.writeUnits).toBe(streamWriteUnits({ transactItems: 2, plainWrites: 2 }));
    expect(stream.dynamodb.writeUnits).toBeLessThanOrEqual(12);
    expect(stream.dynamodb.writeUnitsBefore).toBe(streamWriteUnitsBefore({ durationS: 3600, leaseS: 300 }));
    expect(stream.dynamodb.writeUnitsBefore).toBeGreaterThanOrEqual(80);
    expect(stream.apiGateway).toEqual({ messages: 24, connectionMinutes: 60, getConnectionCalls: 4 });
  });

  it('asks API Gateway about a stream at one lease and each time its age doubles', () => {
    expect([60, 300, 600, 3600, 7200].map((d) => checksWithin(d, 300))).toEqual([0, 1, 2, 4, 5]);
  });
});
