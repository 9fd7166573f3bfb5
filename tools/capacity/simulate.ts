/**
 * `npm run capacity -- [--concurrency N] [--connects R] [--heartbeat S] [--lease S] [--seconds T]`: simulates, second
 * by second, the writes each DynamoDB partition takes at a steady state of N concurrent streams and R connects a
 * second (as many releases), with the keys the store really writes (`core/store/schema.ts`), and says whether any
 * partition goes over its ~1,000 write units a second. The human report goes to stderr, one JSON object to stdout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { keys, leaseShardsFor } from '../../core/store/schema.js';
import { lifecycle, UNITS } from './model.js';

/** What one partition takes: DynamoDB's documented per-partition ceiling for writes. */
export const PARTITION_WRITE_UNITS = 1000;

export interface SimulationOptions {
  concurrency: number;
  connectsPerSecond: number;
  /** seconds simulated */
  seconds: number;
  /** index shards; by default what the CDK app would configure for this connect rate */
  leaseShards?: number;
  /** streams per user on average (each user's counter is one item) */
  streamsPerUser?: number;
  /** a deterministic stream of random numbers, for tests */
  random?: () => number;
}

/** A seeded generator (mulberry32): the same seed, the same simulation. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Poisson-distributed count with mean `mean` (normal approximation above 50). */
function poisson(mean: number, random: () => number): number {
  if (mean > 50) {
    const u = Math.max(1e-12, random());
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * z));
  }
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

/**
 * The base table's partitions, as DynamoDB splits them: by a hash of the partition key. The table needs at least
 * one partition per 1,000 write units a second it takes (and DynamoDB adds them as the load grows); the simulation
 * gives it twice that, as DynamoDB's splitting leaves headroom, and reports the busiest.
 */
function tablePartitionOf(pk: string, partitions: number): number {
  return createHash('md5').update(pk).digest().readUInt32BE(0) % partitions;
}

const connectionId = (random: () => number) =>
  Buffer.from(Array.from({ length: 11 }, () => Math.floor(random() * 256)))
    .toString('base64')
    .replace(/[+/]/g, 'A');

export function simulate(options: SimulationOptions) {
  const { concurrency, connectsPerSecond, seconds } = options;
  const random = options.random ?? (() => randomBytes(4).readUInt32BE(0) / 4294967296);
  const shards = options.leaseShards ?? leaseShardsFor(connectsPerSecond);
  const users = Math.max(1, Math.round(concurrency / (options.streamsPerUser ?? 2)));
  // Writes a second on the base table at steady state: a connect's transaction (counter and item, double), and a
  // release's two plain writes (item and counter).
  const tableUnitsPerSecond = connectsPerSecond * (2 * UNITS.transactItem + 2 * UNITS.plainWrite);
  const tablePartitions = Math.max(1, Math.ceil((2 * tableUnitsPerSecond) / PARTITION_WRITE_UNITS));
  let hottestTable = 0;
  let hottestIndex = 0;
  let hottestItem = 0;
  const indexTotals: number[] = Array.from({ length: shards }, () => 0);
  for (let s = 0; s < seconds; s++) {
    const table = new Map<number, number>();
    const index = new Map<string, number>();
    const items = new Map<string, number>();
    const write = (pk: string, units: number) => {
      const p = tablePartitionOf(pk, tablePartitions);
      table.set(p, (table.get(p) ?? 0) + units);
      items.set(pk, (items.get(pk) ?? 0) + units);
    };
    const indexWrite = (id: string) => {
      const shard = keys.leaseShardOf(id, shards);
      index.set(shard, (index.get(shard) ?? 0) + UNITS.indexWrite);
    };
    // Connects: the counter and the new item in one transaction, and the item's index entry.
    for (let i = poisson(connectsPerSecond, random); i > 0; i--) {
      const id = connectionId(random);
      write(keys.counter(`u${Math.floor(random() * users)}`).pk, UNITS.transactItem);
      write(keys.connection(id).pk, UNITS.transactItem);
      indexWrite(id);
    }
    // Releases of streams opened earlier (any of the open ones, uniformly): two plain writes, the index entry deleted.
    for (let i = poisson(connectsPerSecond, random); i > 0; i--) {
      const id = connectionId(random);
      write(keys.counter(`u${Math.floor(random() * users)}`).pk, UNITS.plainWrite);
      write(keys.connection(id).pk, UNITS.plainWrite);
      indexWrite(id);
    }
    // Heartbeats and the sweep's checks of live streams write nothing; the sweep's cursor is one write a run.
    write(keys.sweepCursor().pk, s % 60 === 0 ? UNITS.plainWrite : 0);
    hottestTable = Math.max(hottestTable, ...table.values());
    hottestIndex = Math.max(hottestIndex, ...index.values());
    hottestItem = Math.max(hottestItem, ...items.values());
    for (const [shard, units] of index) indexTotals[Number(shard.split('#')[1])]! += units;
  }
  const meanIndex = indexTotals.reduce((a, b) => a + b, 0) / shards / Math.max(1, seconds);
  return {
    concurrency,
    connectsPerSecond,
    seconds,
    averageStreamS: Math.round(concurrency / Math.max(1, connectsPerSecond)),
    table: {
      partitions: tablePartitions,
      unitsPerSecond: tableUnitsPerSecond,
      hottestPartition: hottestTable,
      hottestItem,
    },
    index: {
      shards,
      unitsPerSecond: 2 * connectsPerSecond,
      meanPerShard: Math.round(meanIndex),
      hottestShard: hottestIndex,
    },
    limit: PARTITION_WRITE_UNITS,
    withinLimits: hottestTable <= PARTITION_WRITE_UNITS && hottestIndex <= PARTITION_WRITE_UNITS,
  };
}

/** The previous design at the same scale, on paper: every heartbeating stream renewed its lease every half lease. */
export function indexUnitsBefore(concurrency: number, connectsPerSecond: number, leaseS = 300, shards = 4) {
  const renewalsPerSecond = concurrency / (leaseS / 2);
  const unitsPerSecond = 2 * connectsPerSecond + 2 * renewalsPerSecond;
  return { shards, unitsPerSecond: Math.round(unitsPerSecond), perShard: Math.round(unitsPerSecond / shards) };
}

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`capacity: ${name} needs a positive number\n`);
    process.exit(2);
  }
  return value;
}

function main(args: string[]) {
  if (args.includes('--help')) {
    process.stdout.write(
      'npm run capacity -- [--concurrency N (10000000)] [--connects R (2000)] [--heartbeat S (300)] [--lease S (300)] [--seconds T (60)] [--shards K]\n',
    );
    return;
  }
  const concurrency = flag(args, '--concurrency', 10_000_000);
  const connectsPerSecond = flag(args, '--connects', 2000);
  const heartbeatS = flag(args, '--heartbeat', 300);
  const leaseS = flag(args, '--lease', 300);
  const seconds = flag(args, '--seconds', 60);
  const shards = args.includes('--shards') ? flag(args, '--shards', 4) : undefined;
  const result = simulate({ concurrency, connectsPerSecond, seconds, leaseShards: shards });
  const stream = lifecycle({ durationS: result.averageStreamS, heartbeatS, leaseS, memoryMb: 512, authorizer: true });
  const before = indexUnitsBefore(concurrency, connectsPerSecond, leaseS);
  const heartbeatsPerSecond = Math.round(concurrency / heartbeatS);
  const getConnectionPerSecond = Math.round(connectsPerSecond * stream.apiGateway.getConnectionCalls);
  const r = (line: string) => process.stderr.write(`${line}\n`);
  r(
    `streamgate capacity: ${concurrency.toLocaleString('en')} streams, ${connectsPerSecond} connects/s (and as many releases), heartbeat every ${heartbeatS} s, ${seconds} s simulated`,
  );
  r(`  average stream           ${result.averageStreamS} s`);
  r(
    `  table                    ${result.table.unitsPerSecond} write units/s over ${result.table.partitions} partitions; hottest partition ${result.table.hottestPartition}/s, hottest item ${result.table.hottestItem}/s`,
  );
  r(
    `  sweep index              ${result.index.unitsPerSecond} write units/s over ${result.index.shards} shards; mean ${result.index.meanPerShard}/s, hottest ${result.index.hottestShard}/s`,
  );
  r(
    `  limit per partition      ${result.limit}/s: ${result.withinLimits ? 'every partition within it' : 'OVER THE LIMIT'}`,
  );
  r(
    `  before (lease renewals)  index ${before.unitsPerSecond} write units/s over ${before.shards} shards = ${before.perShard}/s each`,
  );
  r(
    `  per stream               ${stream.dynamodb.writeUnits} write units (before: ${stream.dynamodb.writeUnitsBefore}), ${stream.dynamodb.readUnits} read units, ${stream.lambda.invocations} Lambda invocations (${stream.lambda.gbSeconds} GB-s), ${stream.apiGateway.messages} messages, ${stream.apiGateway.connectionMinutes} connection minutes`,
  );
  r(
    `  API Gateway              ${connectsPerSecond} new connections/s, ${heartbeatsPerSecond} heartbeats/s, ${getConnectionPerSecond} GetConnection/s`,
  );
  process.stdout.write(
    `${JSON.stringify({ ...result, heartbeatS, leaseS, before, stream, heartbeatsPerSecond, getConnectionPerSecond })}\n`,
  );
  if (!result.withinLimits) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main(process.argv.slice(2));
