/** The only module that speaks DynamoDB; the table shape and key formats live in `./schema.ts`. */
import { createHash } from 'node:crypto';
import {
  type CancellationReason,
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandOutput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { StoreContentionError } from '../errors.js';
import { RetryableError, retryWithBackoff } from '../retry.js';
import { counterAttributes, keys, LEASE_INDEX, LEASE_SHARDS, TOMBSTONE_SECONDS } from './schema.js';

export type CloseReason = 'disconnected' | 'kicked' | 'takenOver' | 'reclaimed' | 'swept';

export interface ConnectionRecord {
  connectionId: string;
  userId: string;
  streamId?: string;
  device?: string;
  sourceIp?: string;
  userAgent?: string;
  connectedAt: number;
  lastSeenAt: number;
  leaseExpiresAt: number;
  state: 'open' | 'closed';
  closedAt?: number;
  closeReason?: CloseReason;
}

export interface CounterRecord {
  userId: string;
  active: number;
  limitOverride?: number;
  /** connectionId -> connectedAt, every connection the counter counts */
  counted: Map<string, number>;
  /** streamId -> connectionId */
  streams: Map<string, string>;
}

export type NewConnection = Omit<ConnectionRecord, 'state' | 'closedAt' | 'closeReason' | 'lastSeenAt'>;

export type AdmitOutcome =
  | { kind: 'admitted' }
  /** this connectionId was already written: a redelivered `$connect` */
  | { kind: 'duplicate'; existing: ConnectionRecord }
  | { kind: 'limitReached'; counter: CounterRecord }
  | { kind: 'streamHeld'; heldBy: string; counter: CounterRecord };

export type TakeOverOutcome =
  | { kind: 'tookOver' }
  | { kind: 'duplicate'; existing: ConnectionRecord }
  /** the stream is no longer held by that connection: start over */
  | { kind: 'changed' };

export type ReleaseOutcome =
  | { kind: 'released'; connection: ConnectionRecord }
  | { kind: 'alreadyReleased'; connection: ConnectionRecord }
  | { kind: 'unknown' };

export interface StoreOptions {
  tableName: string;
}

const userKey = keys.counter;
const connKey = keys.connection;
const countedAttr = counterAttributes.counted;
const streamAttr = counterAttributes.stream;

/** Idempotency token for a transaction, derived from what the event says, never from the clock. */
function requestToken(...parts: Array<string | number>): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 36);
}

/**
 * A Lambda container handles one event at a time, so the SDK's 50 sockets are plenty there; the local stack runs
 * every handler of every connection in one process and needs more.
 */
const MAX_SOCKETS = 256;

export function createDocumentClient(endpoint?: string): DynamoDBDocumentClient {
  const requestHandler = { httpAgent: { maxSockets: MAX_SOCKETS }, httpsAgent: { maxSockets: MAX_SOCKETS } };
  const client = new DynamoDBClient(
    endpoint
      ? {
          endpoint,
          requestHandler,
          region: process.env.AWS_REGION ?? 'local',
          // DynamoDB Local accepts any credentials; these are placeholders, not secrets.
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }
      : { requestHandler },
  );
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export class StreamStore {
  readonly tableName: string;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    options: StoreOptions,
  ) {
    this.tableName = options.tableName;
  }

  /**
   * Counts a new connection and writes its item in one transaction, if the user is under their limit
   * (the override when set, else `defaultLimit`) and does not already hold `streamId`.
   */
  async admit(
    conn: NewConnection,
    defaultLimit: number,
    maxConnectionMs: number,
    /** which try this is for the event; part of the idempotency token so a later try is not the earlier one */
    round = 0,
  ): Promise<AdmitOutcome> {
    const names: Record<string, string> = { '#c': countedAttr(conn.connectionId) };
    let set = 'SET userId = :u, active = if_not_exists(active, :zero) + :one, #c = :at';
    let condition =
      'attribute_not_exists(#c) AND ((attribute_exists(limitOverride) AND active < limitOverride) OR ' +
      '(attribute_not_exists(limitOverride) AND (attribute_not_exists(active) OR active < :limit)))';
    if (conn.streamId) {
      names['#s'] = streamAttr(conn.streamId);
      set += ', #s = :id';
      condition += ' AND attribute_not_exists(#s)';
    }
    const input: TransactWriteCommandInput = {
      ClientRequestToken: requestToken('admit', conn.connectionId, conn.connectedAt, round),
      TransactItems: [
        {
          Update: {
            TableName: this.tableName,
            Key: userKey(conn.userId),
            UpdateExpression: set,
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: {
              ':u': conn.userId,
              ':zero': 0,
              ':one': 1,
              ':at': conn.connectedAt,
              ':limit': defaultLimit,
              ...(conn.streamId ? { ':id': conn.connectionId } : {}),
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        this.putConnection(conn, maxConnectionMs),
      ],
    };
    const reasons = await this.transact(input);
    if (!reasons) return { kind: 'admitted' };
    const [counterReason, connReason] = reasons;
    if (connReason?.Code === 'ConditionalCheckFailed') {
      return { kind: 'duplicate', existing: toConnection(connReason.Item) };
    }
    const counter = toCounter(conn.userId, counterReason?.Item);
    const heldBy = conn.streamId ? counter.streams.get(conn.streamId) : undefined;
    if (heldBy) return { kind: 'streamHeld', heldBy, counter };
    return { kind: 'limitReached', counter };
  }

  /**
   * Hands `streamId` from `oldConnectionId` to the new connection in one transaction: the old one is closed, the
   * new one counted in its place, and `active` does not move.
   */
  async takeOver(conn: NewConnection & { streamId: string }, oldConnectionId: string, maxConnectionMs: number) {
    const at = conn.connectedAt;
    const input: TransactWriteCommandInput = {
      ClientRequestToken: requestToken('takeOver', conn.connectionId, conn.connectedAt, oldConnectionId),
      TransactItems: [
        {
          Update: {
            TableName: this.tableName,
            Key: userKey(conn.userId),
            UpdateExpression: 'SET #s = :new, #cNew = :at REMOVE #cOld',
            ConditionExpression: '#s = :old AND attribute_exists(#cOld) AND attribute_not_exists(#cNew)',
            ExpressionAttributeNames: {
              '#s': streamAttr(conn.streamId),
              '#cNew': countedAttr(conn.connectionId),
              '#cOld': countedAttr(oldConnectionId),
            },
            ExpressionAttributeValues: { ':new': conn.connectionId, ':old': oldConnectionId, ':at': at },
          },
        },
        this.closeConnection(oldConnectionId, 'takenOver', at, { allowMissing: true }),
        this.putConnection(conn, maxConnectionMs),
      ],
    };
    const reasons = await this.transact(input);
    if (!reasons) return { kind: 'tookOver' } satisfies TakeOverOutcome;
    const connReason = reasons[2];
    if (connReason?.Code === 'ConditionalCheckFailed') {
      return { kind: 'duplicate', existing: toConnection(connReason.Item) } satisfies TakeOverOutcome;
    }
    return { kind: 'changed' } satisfies TakeOverOutcome;
  }

  /**
   * Closes a connection and gives its stream back, exactly once: whoever calls second (a redelivered
   * `$disconnect`, a kick racing a disconnect, the sweep) finds it already released.
   */
  async release(connectionId: string, reason: CloseReason, at: number): Promise<ReleaseOutcome> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const connection = await this.getConnection(connectionId);
      if (!connection) return { kind: 'unknown' };
      if (connection.state === 'closed') return { kind: 'alreadyReleased', connection };
      // The claim can only belong to this connection while it is open: a takeover closes it in the same write.
      const claims = connection.streamId ? [connection.streamId] : [];
      const reasons = await this.transact({
        TransactItems: [
          this.closeConnection(connectionId, reason, at),
          this.uncount(connection.userId, connectionId, claims),
        ],
      });
      if (!reasons) return { kind: 'released', connection: closed(connection, reason, at) };
      if (reasons[0]?.Code === 'ConditionalCheckFailed') continue; // someone else closed it: read again
      // The counter no longer counts this connection (drift): close the item alone, the count is already right.
      await this.closeUncounted(connectionId, reason, at);
      return { kind: 'released', connection: closed(connection, reason, at) };
    }
    throw new StoreContentionError(`release of ${connectionId} kept racing`);
  }

  /**
   * Forgets a counted connection whose item no longer exists or is already closed (deleted by TTL or by hand), with
   * any stream claim still pointing at it: a claim left behind would make every reconnect of that stream a takeover
   * of nothing.
   */
  async forgetMissing(counter: CounterRecord, connectionId: string): Promise<boolean> {
    const claims = [...counter.streams].filter(([, holder]) => holder === connectionId).map(([streamId]) => streamId);
    const reasons = await this.transact({
      TransactItems: [
        {
          ConditionCheck: {
            TableName: this.tableName,
            Key: connKey(connectionId),
            ConditionExpression: 'attribute_not_exists(pk) OR #state = :closed',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':closed': 'closed' },
          },
        },
        this.uncount(counter.userId, connectionId, claims),
      ],
    });
    return !reasons;
  }

  async getConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: connKey(connectionId), ConsistentRead: true }),
    );
    return Item ? toConnection(Item) : undefined;
  }

  async getCounter(userId: string): Promise<CounterRecord> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: userKey(userId), ConsistentRead: true }),
    );
    return toCounter(userId, Item);
  }

  /** Every connection the user's counter counts, read consistently; a counted id with no item is `missing`. */
  async countedConnections(counter: CounterRecord): Promise<{ open: ConnectionRecord[]; missing: string[] }> {
    const ids = [...counter.counted.keys()];
    const found = new Map<string, ConnectionRecord>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map(connKey);
      while (keys && keys.length > 0) {
        const out: BatchGetCommandOutput = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const c = toConnection(item);
          found.set(c.connectionId, c);
        }
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    const open: ConnectionRecord[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const c = found.get(id);
      if (c && c.state === 'open') open.push(c);
      else missing.push(id);
    }
    return { open, missing };
  }

  /**
   * Renews a lease to `leaseExpiresAt`, unless the stored lease already runs past `renewIfBefore` (heartbeats are
   * coalesced: one write per half lease at most). Returns the lease in force, or undefined if not open.
   */
  async renewLease(
    connectionId: string,
    at: number,
    leaseExpiresAt: number,
    renewIfBefore: number,
  ): Promise<ConnectionRecord | undefined> {
    const current = await this.getConnection(connectionId);
    if (current?.state !== 'open') return undefined;
    if (current.leaseExpiresAt >= renewIfBefore) return current;
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: connKey(connectionId),
          UpdateExpression: 'SET leaseExpiresAt = :lease, lastSeenAt = :at',
          ConditionExpression: '#state = :open AND leaseExpiresAt < :lease',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':lease': leaseExpiresAt, ':at': at, ':open': 'open' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? toConnection(Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return this.getConnection(connectionId);
      throw error;
    }
  }

  /** Sets (a number) or clears (undefined) the user's limit override; returns the counter after the change. */
  async setLimitOverride(userId: string, limit: number | undefined): Promise<CounterRecord> {
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: userKey(userId),
        UpdateExpression:
          limit === undefined
            ? 'SET userId = :u, active = if_not_exists(active, :zero) REMOVE limitOverride'
            : 'SET userId = :u, active = if_not_exists(active, :zero), limitOverride = :limit',
        ExpressionAttributeValues: { ':u': userId, ':zero': 0, ...(limit === undefined ? {} : { ':limit': limit }) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toCounter(userId, Attributes);
  }

  /** Open connections whose lease ran out before `before`, across all users, from the sparse lease index. */
  async *expiredLeases(before: number): AsyncGenerator<{ connectionId: string; userId: string }> {
    for (let shard = 0; shard < LEASE_SHARDS; shard++) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const out: QueryCommandOutput = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: LEASE_INDEX.name,
            KeyConditionExpression: 'leaseShard = :shard AND leaseExpiresAt < :before',
            ExpressionAttributeValues: { ':shard': keys.leaseShard(shard), ':before': before },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of out.Items ?? []) {
          yield { connectionId: String(item.connectionId), userId: String(item.userId) };
        }
        startKey = out.LastEvaluatedKey;
      } while (startKey);
    }
  }

  /**
   * Makes `active` equal the number of counted connections, if the counter still reads `observed` (a connect or
   * release in between changes it, and then the caller looks again).
   */
  async repairCount(userId: string, observed: number, actual: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(userId),
          UpdateExpression: 'SET active = :actual',
          ConditionExpression: 'active = :observed',
          ExpressionAttributeValues: { ':actual': actual, ':observed': observed },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Stops counting a connection: one fewer active, its member gone, and the stream claims it held. */
  private uncount(userId: string, connectionId: string, streamIds: string[]) {
    const names: Record<string, string> = { '#c': countedAttr(connectionId) };
    for (const [i, streamId] of streamIds.entries()) names[`#s${i}`] = streamAttr(streamId);
    const removed = ['#c', ...streamIds.map((_, i) => `#s${i}`)].join(', ');
    return {
      Update: {
        TableName: this.tableName,
        Key: userKey(userId),
        UpdateExpression: `SET active = active - :one REMOVE ${removed}`,
        ConditionExpression: 'attribute_exists(#c)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ':one': 1 },
      },
    };
  }

  private putConnection(conn: NewConnection, maxConnectionMs: number) {
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          ...connKey(conn.connectionId),
          ...conn,
          lastSeenAt: conn.connectedAt,
          state: 'open',
          leaseShard: keys.leaseShardOf(conn.connectionId),
          // No socket outlives API Gateway's hard limit; a day past it, even a lost item cleans itself up.
          expiresAt: Math.ceil((conn.connectedAt + maxConnectionMs) / 1000) + TOMBSTONE_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  private closeConnection(
    connectionId: string,
    reason: CloseReason,
    at: number,
    opts: { allowMissing?: boolean } = {},
  ) {
    return {
      Update: {
        TableName: this.tableName,
        Key: connKey(connectionId),
        UpdateExpression:
          'SET #state = :closed, closedAt = :at, closeReason = :reason, expiresAt = :ttl, connectionId = :id ' +
          'REMOVE leaseShard',
        ConditionExpression: opts.allowMissing ? 'attribute_not_exists(pk) OR #state = :open' : '#state = :open',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':closed': 'closed',
          ':open': 'open',
          ':at': at,
          ':reason': reason,
          ':id': connectionId,
          ':ttl': Math.ceil(at / 1000) + TOMBSTONE_SECONDS,
        },
      },
    };
  }

  private async closeUncounted(connectionId: string, reason: CloseReason, at: number) {
    await this.transact({ TransactItems: [this.closeConnection(connectionId, reason, at)] });
  }

  /**
   * Runs a transaction, retrying conflicts with jittered backoff. Returns undefined on success, or the
   * cancellation reasons (one per item, with the item as it was) when a condition failed.
   */
  private async transact(input: TransactWriteCommandInput): Promise<CancellationReason[] | undefined> {
    try {
      return await retryWithBackoff(async () => {
        try {
          await this.db.send(new TransactWriteCommand(input));
          return undefined;
        } catch (error) {
          if (error instanceof TransactionCanceledException) {
            const reasons = error.CancellationReasons ?? [];
            if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) return reasons;
            if (reasons.some((r) => r.Code === 'TransactionConflict' || r.Code === 'ThrottlingError')) {
              throw new RetryableError(error);
            }
          }
          if (isRetryableName(error)) throw new RetryableError(error);
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof RetryableError) {
        throw new StoreContentionError('the store kept reporting conflicts', { cause: error.cause });
      }
      throw error;
    }
  }
}

function isRetryableName(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name === 'TransactionConflictException' || name === 'TransactionInProgressException';
}

function closed(c: ConnectionRecord, reason: CloseReason, at: number): ConnectionRecord {
  return { ...c, state: 'closed', closedAt: at, closeReason: reason };
}

type RawItem = Record<string, unknown> | Record<string, import('@aws-sdk/client-dynamodb').AttributeValue>;

/** Cancellation reasons carry raw attribute values; document-client reads carry plain ones. */
function plain(item: RawItem | undefined): Record<string, unknown> | undefined {
  if (!item) return undefined;
  const first = Object.values(item)[0];
  const isRaw = first !== null && typeof first === 'object' && !Array.isArray(first) && isAttributeValue(first);
  return isRaw ? unmarshall(item as Record<string, import('@aws-sdk/client-dynamodb').AttributeValue>) : item;
}

function isAttributeValue(v: object): boolean {
  const keys = Object.keys(v);
  return keys.length === 1 && ['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL'].includes(keys[0]!);
}

function toConnection(raw: RawItem | undefined): ConnectionRecord {
  const item = plain(raw) ?? {};
  return {
    connectionId: String(item.connectionId),
    userId: String(item.userId),
    streamId: item.streamId as string | undefined,
    device: item.device as string | undefined,
    sourceIp: item.sourceIp as string | undefined,
    userAgent: item.userAgent as string | undefined,
    connectedAt: Number(item.connectedAt),
    lastSeenAt: Number(item.lastSeenAt ?? item.connectedAt),
    leaseExpiresAt: Number(item.leaseExpiresAt),
    state: item.state === 'closed' ? 'closed' : 'open',
    closedAt: item.closedAt === undefined ? undefined : Number(item.closedAt),
    closeReason: item.closeReason as CloseReason | undefined,
  };
}

function toCounter(userId: string, raw: RawItem | undefined): CounterRecord {
  const item = plain(raw) ?? {};
  const counted = new Map<string, number>();
  const streams = new Map<string, string>();
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith(counterAttributes.countedPrefix)) counted.set(name.slice(2), Number(value));
    else if (name.startsWith(counterAttributes.streamPrefix)) streams.set(name.slice(2), String(value));
  }
  return {
    userId,
    active: Number(item.active ?? 0),
    limitOverride: item.limitOverride === undefined ? undefined : Number(item.limitOverride),
    counted,
    streams,
  };
}
