/** The sweep's reads: open connections by age from the sparse index (no Scan), and the cursor of the last run. */
import { GetCommand, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { AgeWindow } from '../port.js';
import { keys, LEASE_INDEX } from '../schema.js';
import type { Table } from './table.js';

/** Open connections that connected within `window`, across all users and shards, from the sparse index. */
export async function* connectionsAged(
  table: Table,
  window: AgeWindow,
): AsyncGenerator<{ connectionId: string; userId: string; connectedAt: number }> {
  if (window.to <= window.from) return;
  for (let shard = 0; shard < table.leaseShards; shard++) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const out: QueryCommandOutput = await table.db.send(
        new QueryCommand({
          TableName: table.tableName,
          IndexName: LEASE_INDEX.name,
          KeyConditionExpression: '#shard = :shard AND #age BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#shard': LEASE_INDEX.partitionKey, '#age': LEASE_INDEX.sortKey },
          ExpressionAttributeValues: { ':shard': keys.leaseShard(shard), ':from': window.from, ':to': window.to - 1 },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        yield {
          connectionId: String(item.connectionId),
          userId: String(item.userId),
          connectedAt: Number(item[LEASE_INDEX.sortKey]),
        };
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }
}

/** Where the last sweep stopped (ms), if one ever ran. */
export async function sweptTo(table: Table): Promise<number | undefined> {
  const { Item } = await table.db.send(
    new GetCommand({ TableName: table.tableName, Key: keys.sweepCursor(), ConsistentRead: true }),
  );
  return Item?.sweptTo === undefined ? undefined : Number(Item.sweptTo);
}

/** Moves the sweep's cursor forward to `at` (never back: a slow sweep finishing late does not undo a later one). */
export async function setSweptTo(table: Table, at: number): Promise<void> {
  await table.conditionalUpdate({
    TableName: table.tableName,
    Key: keys.sweepCursor(),
    UpdateExpression: 'SET sweptTo = :at',
    ConditionExpression: 'attribute_not_exists(sweptTo) OR sweptTo < :at',
    ExpressionAttributeValues: { ':at': at },
  });
}
