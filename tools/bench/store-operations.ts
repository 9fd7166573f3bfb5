/**
 * What each kind of store call costs on this DynamoDB Local, each alone: its rate at concurrency 50 and the CPU
 * DynamoDB Local spends on it. DynamoDB Local applies one write at a time (the guard transaction runs at the same rate
 * from 8 to 256 in flight, on about one core), so a scenario's ceiling is set by the writes it needs per admission.
 */

import { timesLimited } from '../../core/limiter.js';
import type { StreamStore } from '../../core/store/port.js';

export interface OperationCost {
  perSecond: number;
  /** DynamoDB Local's CPU per call, ms */
  dynamoCpuMs: number;
}

export type StoreOperations = Record<
  | 'guardTransaction'
  | 'refusedTransaction'
  | 'getItem'
  | 'batchGetOfThree'
  | 'guardTransactionAt8'
  | 'guardTransactionAt256',
  OperationCost
>;

const ADMIT = { defaultLimit: 3, maxConnectionMs: 7_200_000 };

/** `count` calls by `workers` in parallel; `cpuMs` reads DynamoDB Local's CPU time so far. */
async function measure(
  count: number,
  workers: number,
  call: (i: number) => Promise<unknown>,
  cpuMs: () => number,
): Promise<OperationCost> {
  const cpuBefore = cpuMs();
  const started = performance.now();
  await timesLimited(count, workers, call);
  const seconds = (performance.now() - started) / 1000;
  return {
    perSecond: Math.round(count / seconds),
    dynamoCpuMs: Math.round(((cpuMs() - cpuBefore) / count) * 100) / 100,
  };
}

export async function storeOperations(
  store: StreamStore,
  tag: string,
  { cpuMs, users = 500 }: { cpuMs: () => number; users?: number },
): Promise<StoreOperations> {
  const connection = (prefix: string, i: number) => ({
    connectionId: `${tag}-${prefix}${i}`,
    userId: `${tag}-${prefix}u${i % users}`,
    connectedAt: Date.now(),
    leaseExpiresAt: Date.now() + 300_000,
  });
  const admitted = (prefix: string) => async (i: number) => {
    const outcome = await store.admit(connection(prefix, i), ADMIT);
    if (outcome.kind !== 'admitted') throw new Error(`store operations: admit ${i} was ${outcome.kind}`);
  };
  const guardTransaction = await measure(3 * users, 50, admitted('a'), cpuMs);
  // The same users, each at the limit now: every one is refused.
  const refusedTransaction = await measure(
    users,
    50,
    async (i) => {
      const outcome = await store.admit(connection('a', 3 * users + i), ADMIT);
      if (outcome.kind !== 'limitReached') throw new Error(`store operations: refusal ${i} was ${outcome.kind}`);
    },
    cpuMs,
  );
  const getItem = await measure(3 * users, 50, (i) => store.getConnection(`${tag}-a${i}`), cpuMs);
  const counters = await Promise.all(Array.from({ length: users }, (_, i) => store.getCounter(`${tag}-au${i}`)));
  const batchGetOfThree = await measure(users, 50, (i) => store.countedConnections(counters[i]!), cpuMs);
  const guardTransactionAt8 = await measure(3 * users, 8, admitted('b'), cpuMs);
  const guardTransactionAt256 = await measure(3 * users, 256, admitted('c'), cpuMs);
  return {
    guardTransaction,
    refusedTransaction,
    getItem,
    batchGetOfThree,
    guardTransactionAt8,
    guardTransactionAt256,
  };
}
