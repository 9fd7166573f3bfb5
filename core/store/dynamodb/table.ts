/**
 * What every part of the DynamoDB store shares: the client and table, how a transaction and a conditional update are
 * run, and the item-level writes that several operations put in their transactions (a connection's item written,
 * closed; a connection uncounted). Keys and attribute names come from `../schema.ts`, shared with the CDK app.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { CoreEvents } from '../../ports.js';
import type { CloseReason, NewConnection } from '../items.js';
import { counterAttributes, DEFAULT_LEASE_SHARDS, keys, TOMBSTONE_SECONDS } from '../schema.js';
import { runTransaction } from './transactions.js';

export interface StoreOptions {
  tableName: string;
  /** told about each transaction tried again (for metrics) */
  events?: CoreEvents;
  /** how many partitions the sweep's index spreads open connections over (`leaseShardsFor` sizes it) */
  leaseShards?: number;
}

export interface Table {
  readonly db: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly leaseShards: number;
  /** undefined on success, else one cancellation per item (a condition failed) */
  transact(input: TransactWriteCommandInput): ReturnType<typeof runTransaction>;
  /** One conditional UpdateItem; false when its condition failed. */
  conditionalUpdate(update: UpdateCommandInput): Promise<boolean>;
}

export function createTable(db: DynamoDBDocumentClient, options: StoreOptions): Table {
  return {
    db,
    tableName: options.tableName,
    leaseShards: options.leaseShards ?? DEFAULT_LEASE_SHARDS,
    transact: (input) =>
      runTransaction(db, input, { onRetry: (cause) => options.events?.({ kind: 'transactionRetried', cause }) }),
    conditionalUpdate: async (update) => {
      try {
        await db.send(new UpdateCommand(update));
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },
  };
}

export const userKey = keys.counter;
export const connKey = keys.connection;
export const countedAttr = counterAttributes.counted;
export const streamAttr = counterAttributes.stream;

/** A new connection's item, on condition there is none yet (a redelivered `$connect` finds its own). */
export function putConnection(table: Table, conn: NewConnection, maxConnectionMs: number) {
  return {
    Put: {
      TableName: table.tableName,
      Item: {
        ...connKey(conn.connectionId),
        ...conn,
        lastSeenAt: conn.connectedAt,
        state: 'open',
        leaseShard: keys.leaseShardOf(conn.connectionId, table.leaseShards),
        // No socket outlives API Gateway's hard limit; a day past it, even a lost item cleans itself up.
        expiresAt: Math.ceil((conn.connectedAt + maxConnectionMs) / 1000) + TOMBSTONE_SECONDS,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    },
  };
}

/** Closes a connection's item on condition it is open (or, with `allowMissing`, that there is none). */
export function closeConnection(
  table: Table,
  connectionId: string,
  reason: CloseReason,
  at: number,
  opts: { allowMissing?: boolean } = {},
) {
  return {
    Update: {
      TableName: table.tableName,
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
      // A failed close says why: the item was closed already (an ending connection), not missing.
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    },
  };
}

/** Stops counting a connection: one fewer active, its member gone, and the stream claims it held. */
export function uncount(table: Table, userId: string, connectionId: string, streamIds: string[]) {
  const names: Record<string, string> = { '#c': countedAttr(connectionId) };
  for (const [i, streamId] of streamIds.entries()) names[`#s${i}`] = streamAttr(streamId);
  const removed = ['#c', ...streamIds.map((_, i) => `#s${i}`)].join(', ');
  return {
    Update: {
      TableName: table.tableName,
      Key: userKey(userId),
      UpdateExpression: `SET active = active - :one REMOVE ${removed}`,
      ConditionExpression: 'attribute_exists(#c)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':one': 1 },
    },
  };
}
