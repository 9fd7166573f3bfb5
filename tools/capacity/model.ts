/**
 * What a stream costs, on paper: DynamoDB capacity units, Lambda invocations and GB-seconds, API Gateway messages and
 * connection minutes, per lifecycle; and the write rate each partition sees at a given scale. Pure functions, shared
 * by the simulation (`npm run capacity`), docs/capacity.md and the tests that pin the design to it.
 *
 * Item sizes: a counter item (a few members) and a connection item are each under 1 KB, so on demand a plain write
 * costs 1 write unit and a transactional write 2 (DynamoDB charges transactions double); writing or deleting an
 * item's entry in the sweep's index costs 1 more. A strongly consistent read of an item under 4 KB costs 1 read unit.
 */

export const UNITS = { plainWrite: 1, transactItem: 2, indexWrite: 1, consistentRead: 1 } as const;

/** One stream's writes as the store makes them: the connect transaction, the plain writes, the index entry. */
export interface StreamWrites {
  /** items written inside transactions */
  transactItems: number;
  /** single-item writes */
  plainWrites: number;
  /** index entries written or deleted (the connect puts one, the release deletes it) */
  indexWrites?: number;
}

export function streamWriteUnits({ transactItems, plainWrites, indexWrites = 2 }: StreamWrites): number {
  return transactItems * UNITS.transactItem + plainWrites * UNITS.plainWrite + indexWrites * UNITS.indexWrite;
}

/**
 * The previous design, for comparison: connect and release were each a two-item transaction plus an index write,
 * and every half lease a heartbeat renewed the lease, rewriting the index's sort key (the item, plus an index
 * delete and put).
 */
export function streamWriteUnitsBefore({ durationS, leaseS }: { durationS: number; leaseS: number }): number {
  const renewals = Math.floor(durationS / (leaseS / 2));
  const edge = 2 * UNITS.transactItem + UNITS.indexWrite;
  return edge + renewals * (UNITS.plainWrite + 2 * UNITS.indexWrite) + edge;
}

/** The ages at which the sweep asks API Gateway about a connection (mirrors `checkAges` in core/reclaim.ts). */
export function checksWithin(durationS: number, leaseS: number, maxConnectionS = 7200): number {
  let checks = 0;
  for (let age = leaseS; age < maxConnectionS && age <= durationS; age *= 2) checks++;
  return checks;
}

export interface LifecycleInput {
  durationS: number;
  /** seconds between heartbeats */
  heartbeatS: number;
  leaseS: number;
  /** Lambda memory (the CDK app's `memoryMb`) */
  memoryMb: number;
  /** typical handler durations, ms (billed per ms); measure your own from the Lambda metrics */
  connectMs?: number;
  heartbeatMs?: number;
  disconnectMs?: number;
  /** `AUTH_MODE=jwt`: the `$connect` authorizer runs once per handshake (no caching assumed) */
  authorizer?: boolean;
}

/** One stream from connect to release: what each service counts. */
export function lifecycle(input: LifecycleInput) {
  const { durationS, heartbeatS, leaseS, memoryMb } = input;
  const connectMs = input.connectMs ?? 40;
  const heartbeatMs = input.heartbeatMs ?? 10;
  const disconnectMs = input.disconnectMs ?? 25;
  const heartbeats = Math.floor(durationS / heartbeatS);
  const checks = checksWithin(durationS, leaseS);
  const authorizerCalls = input.authorizer ? 1 : 0;
  const invocations = 1 + authorizerCalls + heartbeats + 1;
  const gbSeconds =
    (memoryMb / 1024) * ((connectMs + authorizerCalls * 20 + heartbeats * heartbeatMs + disconnectMs) / 1000);
  return {
    dynamodb: {
      calls: {
        transactWriteItems: 1,
        /** the item and the counter at release (the admitting write is the only one at connect) */
        updateItem: 2,
        /** one per heartbeat (is it still counted?), one per sweep check of the user's counter, one at release */
        getItem: heartbeats + checks + 1,
      },
      writeUnits: streamWriteUnits({ transactItems: 2, plainWrites: 2 }),
      readUnits: (heartbeats + checks + 1) * UNITS.consistentRead,
      writeUnitsBefore: streamWriteUnitsBefore({ durationS, leaseS }),
    },
    lambda: { invocations, gbSeconds: Math.round(gbSeconds * 10_000) / 10_000 },
    apiGateway: {
      /** each heartbeat in, and its answer out */
      messages: 2 * heartbeats,
      connectionMinutes: Math.ceil(durationS / 60),
      /** GetConnection calls by the sweep: not billed as messages, but counted against the account's request quota */
      getConnectionCalls: checks,
    },
  };
}
