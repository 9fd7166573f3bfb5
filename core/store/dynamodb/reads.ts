/** Reads of the counter and the connection items, always consistent: every decision made from them is conditional. */
import { BatchGetCommand, type BatchGetCommandOutput, GetCommand } from '@aws-sdk/lib-dynamodb';
import { type ConnectionRecord, type CounterRecord, toConnection, toCounter } from '../items.js';
import { type CountedConnections, type Health, sortCounted } from '../port.js';
import { connKey, type Table, userKey } from './table.js';

/**
 * Whether the store answers at all, within `timeoutMs`: one eventually consistent read of a key no user can have
 * (`#` is outside the id alphabet), so a health check costs half a read unit and never touches real data.
 */
export async function ping(table: Table, timeoutMs: number): Promise<Health> {
  try {
    await table.db.send(new GetCommand({ TableName: table.tableName, Key: userKey('#health') }), {
      abortSignal: AbortSignal.timeout(timeoutMs),
    });
    return { ok: true };
  } catch (error) {
    const name = (error as Error | undefined)?.name ?? 'Error';
    if (name === 'TimeoutError' || name === 'AbortError')
      return { ok: false, reason: `the store did not answer within ${timeoutMs} ms` };
    return { ok: false, reason: `the store cannot be reached (${name})` };
  }
}

export async function getConnection(table: Table, connectionId: string): Promise<ConnectionRecord | undefined> {
  const { Item } = await table.db.send(
    new GetCommand({ TableName: table.tableName, Key: connKey(connectionId), ConsistentRead: true }),
  );
  return Item ? toConnection(Item) : undefined;
}

export async function getCounter(table: Table, userId: string): Promise<CounterRecord> {
  const { Item } = await table.db.send(
    new GetCommand({ TableName: table.tableName, Key: userKey(userId), ConsistentRead: true }),
  );
  return toCounter(userId, Item);
}

/** Every connection the user's counter counts, read consistently (see CountedConnections). */
export async function countedConnections(table: Table, counter: CounterRecord): Promise<CountedConnections> {
  const ids = [...counter.counted.keys()];
  const found = new Map<string, ConnectionRecord>();
  for (let i = 0; i < ids.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map(connKey);
    while (keys && keys.length > 0) {
      const out: BatchGetCommandOutput = await table.db.send(
        new BatchGetCommand({ RequestItems: { [table.tableName]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of out.Responses?.[table.tableName] ?? []) {
        const c = toConnection(item);
        found.set(c.connectionId, c);
      }
      keys = out.UnprocessedKeys?.[table.tableName]?.Keys;
    }
  }
  return sortCounted(ids, found);
}
