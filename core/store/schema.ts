/**
 * The table's shape and every key format: the one source of truth shared by the store, the local stack (CreateTable)
 * and the CDK app. No SDK import, so the CDK app can load it without pulling in the DynamoDB client.
 *
 * One table, four kinds of item:
 *  - the user's counter   pk=`user#<userId>`  sk=`counter`
 *      active           number of counted (admitted, not yet released) connections
 *      limitOverride    optional per-user limit set by support staff (beats the default)
 *      policyOverride   optional per-user policy at the limit set by support staff (`block-new` | `evict-oldest`)
 *      `c:<connId>`     one attribute per counted connection (value: [connectedAt, openBy], ms; see lifecycle.ts)
 *      `s:<streamId>`   one attribute per held streamId (value: the connectionId holding it)
 *    Keeping the counted set in the counter item itself means the count and its members change in the same
 *    write, so a refused connect learns every counted connection from the failed condition (no extra read).
 *  - one item per connection  pk=`conn#<connectionId>`  sk=`conn`
 *      userId, streamId, device, sourceIp, userAgent, planLimit, connectedAt, lastSeenAt, leaseExpiresAt,
 *      openBy (ms; by when its socket is open or never will be, see lifecycle.ts), state (`open` | `closed`),
 *      closedAt, closeReason, expiresAt (TTL, seconds)
 *      leaseShard       present only while open: the partition key of the `byAge` index the sweep queries
 *      handshakeAt      only on items written by versions before `openBy` (ms; lifecycle.ts dates their window by it)
 *    `lastSeenAt` is written at connect and never again; the listings show API Gateway's `lastActiveAt` instead.
 *    Written once at connect and never moved (no write per heartbeat or per sweep): the sweep finds connections by
 *    their age and asks API Gateway (GetConnection) whether they are still there.
 *  - the sweep's cursor  pk=`sweep`  sk=`cursor`: `sweptTo` (ms), where the last sweep stopped
 *  - the events (core/events), written by their processor only, never by a player's request:
 *      a user's refusals on a day  pk=`user#<userId>`  sk=`refusals#<YYYY-MM-DD>`: `count`, `ids` (at most the
 *        threshold plus one), expiresAt
 *      a sharing signal  pk=`signals#<YYYY-MM-DD>`  sk=`<userId>#<reason>`: the signal, expiresAt
 *      the local stream reader's checkpoints  pk=`events`  sk=`checkpoint#<shardId>`: `sequence`
 *      a user's usage in one hour  pk=`user#<userId>`  sk=`usage#<ISO hour>`: peak, level (count after the hour's
 *        last change), admissions, refusals, evictions, reclaims, ended, durations (ms, the first few),
 *        `d:<seconds>` (a histogram of the stream lengths), seq (the last counter change applied), expiresAt
 *      the service's usage in one hour  pk=`usage#service`  sk=`hour#<ISO hour>`: the same but durations and seq
 *      the service's streams now  pk=`usage#service`  sk=`now`: `total`
 *      a refusal counted in the usage  pk=`usage#refused#<connectionId>`  sk=`refused`: expiresAt (short)
 *    A released connection stays as a `closed` tombstone until TTL, so a late or redelivered `$connect` for it
 *    cannot count it again.
 *  - one item per staff action on a user   pk=`user#<userId>`  sk=`audit#<ISO time>#<random>`
 *      at (ms), staff, action, detail (a map), expiresAt (TTL, seconds: AUDIT_SECONDS after the action)
 *    Under the user's own partition, so the user's history is one Query (sort key order is time order); the random
 *    tail keeps two actions in the same millisecond apart.
 */
import { createHash } from 'node:crypto';

export const PARTITION_KEY = 'pk';
export const SORT_KEY = 'sk';
export const TTL_ATTRIBUTE = 'expiresAt';

/**
 * The sweep's index: open connections by shard and age. Sparse (only open connections carry `leaseShard`), keyed by
 * `connectedAt`, which never changes, so keeping the index costs one write at connect and one at release.
 */
export const LEASE_INDEX = {
  name: 'byAge',
  partitionKey: 'leaseShard',
  sortKey: 'connectedAt',
  /** what the sweep reads from the index; the item itself only for the connections API Gateway no longer knows */
  projected: ['connectionId', 'userId'],
} as const;

/** How many partitions the lease index spreads open connections over, unless the deployment says otherwise. */
export const DEFAULT_LEASE_SHARDS = 4;
export const MAX_LEASE_SHARDS = 1024;

/**
 * One index partition takes about 1,000 write units a second. Every connect writes the index once and every release
 * once (an item under 1 KB each), so `connectsPerSecond` at steady state costs twice that in index writes a second,
 * spread evenly by a hash of the connection id. Half a partition's limit per shard leaves room for bursts.
 */
export function leaseShardsFor(connectsPerSecond: number): number {
  const writesPerSecond = 2 * Math.max(0, connectsPerSecond);
  return Math.min(MAX_LEASE_SHARDS, Math.max(DEFAULT_LEASE_SHARDS, Math.ceil(writesPerSecond / 500)));
}

/** How long a released connection's tombstone outlives it, so a late `$connect` for it cannot count it again. */
export const TOMBSTONE_SECONDS = 24 * 3600;

/** How long the table keeps sharing signals and the refusal counts behind them. */
export const SIGNAL_SECONDS = 90 * 24 * 3600;

/** How long the table keeps the hourly usage (core/events/usage.ts): a month and a bit, so the last 31 days read whole. */
export const USAGE_SECONDS = 35 * 24 * 3600;

/**
 * How long the mark that a refusal was counted in the usage stays: longer than any redelivery of the refusal's log
 * line (a day at most), far shorter than the usage itself.
 */
export const USAGE_REFUSAL_MARK_SECONDS = 2 * 24 * 3600;

/** Sort keys of a user's usage hours start with this. */
export const USAGE_SORT_PREFIX = 'usage#';

/** The partition of the service-wide usage: its hours and its count of streams now. */
export const SERVICE_USAGE_PARTITION = 'usage#service';

/** Sort keys of the service's usage hours start with this. */
export const SERVICE_HOUR_PREFIX = 'hour#';

/** How long the table keeps a staff action in a user's history. */
export const AUDIT_SECONDS = 90 * 24 * 3600;

/** Sort keys of a user's history entries start with this. */
export const AUDIT_SORT_PREFIX = 'audit#';

/** The two items of the lifecycle: a user's counter and a connection's item (the change stream reads them by these). */
export const USER_PARTITION_PREFIX = 'user#';
export const COUNTER_SORT_KEY = 'counter';
export const CONNECTION_PARTITION_PREFIX = 'conn#';
export const CONNECTION_SORT_KEY = 'conn';

export const keys = {
  counter: (userId: string) => ({
    [PARTITION_KEY]: `${USER_PARTITION_PREFIX}${userId}`,
    [SORT_KEY]: COUNTER_SORT_KEY,
  }),
  connection: (connectionId: string) => ({
    [PARTITION_KEY]: `${CONNECTION_PARTITION_PREFIX}${connectionId}`,
    [SORT_KEY]: CONNECTION_SORT_KEY,
  }),
  audit: (userId: string, at: number, nonce: string) => ({
    [PARTITION_KEY]: `user#${userId}`,
    [SORT_KEY]: `${AUDIT_SORT_PREFIX}${new Date(at).toISOString()}#${nonce}`,
  }),
  leaseShard: (shard: number) => `lease#${shard}`,
  leaseShardOf: (connectionId: string, shards: number) =>
    keys.leaseShard(createHash('sha1').update(connectionId).digest().readUInt32BE(0) % shards),
  sweepCursor: () => ({ [PARTITION_KEY]: 'sweep', [SORT_KEY]: 'cursor' }),
  /** where the local stream reader stopped in one shard of the table's stream (local/events/table-stream.ts) */
  eventsCheckpoint: (shardId: string, consumer = 'events') => ({
    [PARTITION_KEY]: 'events',
    [SORT_KEY]: consumer === 'events' ? `checkpoint#${shardId}` : `checkpoint#${consumer}#${shardId}`,
  }),
  /** a user's refusals at the limit on one UTC day (core/events/signals.ts) */
  refusals: (userId: string, day: string) => ({ [PARTITION_KEY]: `user#${userId}`, [SORT_KEY]: `refusals#${day}` }),
  /** one sharing signal: a day's signals are one partition, listed by one Query */
  signal: (day: string, userId: string, reason: string) => ({
    [PARTITION_KEY]: `signals#${day}`,
    [SORT_KEY]: `${userId}#${reason}`,
  }),
  /** a user's usage in the hour starting at `hour` (ms): under the user's partition, a range is one Query */
  userUsage: (userId: string, hour: number) => ({
    [PARTITION_KEY]: `user#${userId}`,
    [SORT_KEY]: `${USAGE_SORT_PREFIX}${new Date(hour).toISOString()}`,
  }),
  /** the service's usage in the hour starting at `hour` (ms) */
  serviceUsage: (hour: number) => ({
    [PARTITION_KEY]: SERVICE_USAGE_PARTITION,
    [SORT_KEY]: `${SERVICE_HOUR_PREFIX}${new Date(hour).toISOString()}`,
  }),
  /** the service-wide count of streams now, kept by the events processor */
  serviceActive: () => ({ [PARTITION_KEY]: SERVICE_USAGE_PARTITION, [SORT_KEY]: 'now' }),
  /** the mark that a refusal is counted in the usage (a redelivered refusal finds it and is not counted again) */
  usageRefusal: (connectionId: string) => ({
    [PARTITION_KEY]: `usage#refused#${connectionId}`,
    [SORT_KEY]: 'refused',
  }),
};

/**
 * Whether an item is the events processor's own (its checkpoints, signals, refusal counts and usage): never written by
 * a player's or staff member's request, and never an event (its changes are not read as any). Tests that hold the
 * table to what requests wrote leave these aside.
 */
export function isEventsItem(item: { [PARTITION_KEY]?: unknown; [SORT_KEY]?: unknown }): boolean {
  const pk = String(item[PARTITION_KEY] ?? '');
  const sk = String(item[SORT_KEY] ?? '');
  return (
    pk === 'events' ||
    pk.startsWith('signals#') ||
    pk.startsWith('usage#') ||
    sk.startsWith('refusals#') ||
    sk.startsWith(USAGE_SORT_PREFIX)
  );
}

/** Attribute names on the counter item: one per counted connection, one per held stream id. */
export const counterAttributes = {
  countedPrefix: 'c:',
  streamPrefix: 's:',
  counted: (connectionId: string) => `c:${connectionId}`,
  stream: (streamId: string) => `s:${streamId}`,
};

type KeyType = 'S' | 'N';

/** The table as data, in CreateTable's vocabulary (the CDK app maps it to its own). */
export interface TableShape {
  stream: 'NEW_AND_OLD_IMAGES';
  partitionKey: { name: string; type: KeyType };
  sortKey: { name: string; type: KeyType };
  ttlAttribute: string;
  leaseIndex: {
    name: string;
    partitionKey: { name: string; type: KeyType };
    sortKey: { name: string; type: KeyType };
    nonKeyAttributes: string[];
  };
}

export const TABLE_SHAPE: TableShape = {
  // The events (core/events) are read from the table's changes: old and new images, to see what a write changed.
  stream: 'NEW_AND_OLD_IMAGES',
  partitionKey: { name: PARTITION_KEY, type: 'S' },
  sortKey: { name: SORT_KEY, type: 'S' },
  ttlAttribute: TTL_ATTRIBUTE,
  leaseIndex: {
    name: LEASE_INDEX.name,
    partitionKey: { name: LEASE_INDEX.partitionKey, type: 'S' },
    sortKey: { name: LEASE_INDEX.sortKey, type: 'N' },
    nonKeyAttributes: [...LEASE_INDEX.projected],
  },
};

/** CreateTable's input for the local stack (structurally the SDK's CreateTableCommandInput). */
export function createTableInput(tableName: string) {
  const { partitionKey, sortKey, leaseIndex, stream } = TABLE_SHAPE;
  return {
    TableName: tableName,
    StreamSpecification: { StreamEnabled: true, StreamViewType: stream },
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [partitionKey, sortKey, leaseIndex.partitionKey, leaseIndex.sortKey].map((a) => ({
      AttributeName: a.name,
      AttributeType: a.type,
    })),
    KeySchema: [
      { AttributeName: partitionKey.name, KeyType: 'HASH' as const },
      { AttributeName: sortKey.name, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: [
      {
        // Sparse: only open connections carry leaseShard, so the sweep reads expired leases and nothing else.
        IndexName: leaseIndex.name,
        KeySchema: [
          { AttributeName: leaseIndex.partitionKey.name, KeyType: 'HASH' as const },
          { AttributeName: leaseIndex.sortKey.name, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: leaseIndex.nonKeyAttributes },
      },
    ],
  };
}
