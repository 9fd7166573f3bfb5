/**
 * Everything that stops counting a connection: its release (by `$disconnect`, a kick, its player, the sweep), ghosts
 * released together by a refused connect, a counted connection whose item is gone, and a count that drifted.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { type CloseReason, type ConnectionRecord, type CounterRecord, closed, toCounter } from '../items.js';
import type { ReleaseOutcome } from '../port.js';
import { getConnection } from './reads.js';
import { closeConnection, connKey, countedAttr, streamAttr, type Table, uncount, userKey } from './table.js';

/**
 * Closes a connection's item on condition it is open: 'released' to the one caller whose write succeeded (the only
 * one that may tell the socket why it ends), 'alreadyReleased' to the others. The counter still counts it: a teller
 * uncounts it once the socket is closed (lifecycle.ts, ending). `known` is the connection as the caller just read it.
 */
export async function closeItem(
  table: Table,
  connectionId: string,
  reason: CloseReason,
  at: number,
  known?: ConnectionRecord,
): Promise<ReleaseOutcome> {
  const connection = known ?? (await getConnection(table, connectionId));
  if (!connection) return { kind: 'unknown' };
  if (connection.state === 'closed') return { kind: 'alreadyReleased', connection };
  if (await table.conditionalUpdate(closeConnection(table, connectionId, reason, at).Update)) {
    return { kind: 'released', connection: closed(connection, reason, at) };
  }
  return { kind: 'alreadyReleased', connection };
}

/**
 * Stops counting a connection, on condition the counter still counts it (exactly one caller succeeds), with its claim
 * on its stream if the claim is still its own (a takeover moves the claim to the newer connection at once, and leaves
 * the replaced one counted until its socket is closed). The counter after the write, or undefined if it did not count
 * the connection.
 */
export async function uncountConnection(
  table: Table,
  connection: Pick<ConnectionRecord, 'userId' | 'connectionId' | 'streamId'>,
): Promise<CounterRecord | undefined> {
  const { userId, connectionId, streamId } = connection;
  if (streamId !== undefined) {
    const { Update } = uncount(table, userId, connectionId, [streamId]);
    const withClaim = await updateCounter(table, userId, {
      ...Update,
      ConditionExpression: 'attribute_exists(#c) AND #s0 = :id',
      ExpressionAttributeValues: { ...Update.ExpressionAttributeValues, ':id': connectionId },
    });
    if (withClaim) return withClaim;
  }
  // Its claim moved on to a newer connection, or it held none: the member alone.
  return updateCounter(table, userId, uncount(table, userId, connectionId, []).Update);
}

/** One conditional update of a user's counter: the counter after it, or undefined when its condition failed. */
async function updateCounter(
  table: Table,
  userId: string,
  update: UpdateCommandInput,
): Promise<CounterRecord | undefined> {
  try {
    const { Attributes } = await table.db.send(new UpdateCommand({ ...update, ReturnValues: 'ALL_NEW' }));
    return toCounter(userId, Attributes);
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

/**
 * For a connection whose socket is gone (`$disconnect`, the sweep, a `$connect` that withdrew): its item closed and
 * its stream given back, exactly once whoever else does the same (a redelivered `$disconnect`, a kick, the sweep).
 * Two single-item writes, not a transaction (half the write units): the item, then the counter. Between the two the
 * item is closed but still counted, as an ending connection is; a crash there leaves it to the next refused connect
 * of its user, which finds it so and forgets it (`forgetMissing`). The uncount is tried even when the item was closed
 * already: a teller may be ending it, and the socket being gone, its slot is free.
 */
export async function release(
  table: Table,
  connectionId: string,
  reason: CloseReason,
  at: number,
  known?: ConnectionRecord,
): Promise<ReleaseOutcome> {
  const closing = await closeItem(table, connectionId, reason, at, known);
  if (closing.kind === 'unknown') return closing;
  await uncountConnection(table, closing.connection);
  return closing;
}

/** lifecycle.ts, held: the item stays open (and in the sweep's index), with the end of its hold. */
export async function hold(table: Table, connectionId: string, heldUntil: number): Promise<boolean> {
  return table.conditionalUpdate({
    TableName: table.tableName,
    Key: connKey(connectionId),
    UpdateExpression: 'SET heldUntil = :until',
    ConditionExpression: '#state = :open AND attribute_not_exists(heldUntil)',
    ExpressionAttributeNames: { '#state': 'state' },
    ExpressionAttributeValues: { ':open': 'open', ':until': heldUntil },
  });
}

/**
 * Releases ghosts found by a refused connect, all in one write of the counter (their members and stream claims
 * removed, `active` down by as many), on condition it still counts every one of them; then closes their items.
 * False when the condition failed: some were released meanwhile (by their `$disconnect`, or another refused
 * connect of the same user, which then closes the items itself).
 */
export async function releaseGhosts(
  table: Table,
  counter: CounterRecord,
  connectionIds: string[],
  at: number,
): Promise<boolean> {
  const names: Record<string, string> = {};
  const conditions: string[] = [];
  const removed: string[] = [];
  connectionIds.forEach((id, i) => {
    names[`#c${i}`] = countedAttr(id);
    conditions.push(`attribute_exists(#c${i})`);
    removed.push(`#c${i}`);
  });
  let claim = 0;
  for (const [streamId, holder] of counter.streams) {
    if (!connectionIds.includes(holder)) continue;
    names[`#s${claim}`] = streamAttr(streamId);
    removed.push(`#s${claim++}`);
  }
  const uncounted = await table.conditionalUpdate({
    TableName: table.tableName,
    Key: userKey(counter.userId),
    UpdateExpression: `SET active = active - :n REMOVE ${removed.join(', ')}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ':n': connectionIds.length },
  });
  if (!uncounted) return false;
  await Promise.all(
    connectionIds.map((id) => table.conditionalUpdate(closeConnection(table, id, 'reclaimed', at).Update)),
  );
  return true;
}

/**
 * Forgets a counted connection whose item no longer exists or is already closed (deleted by TTL or by hand), with
 * any stream claim still pointing at it: a claim left behind would make every reconnect of that stream a takeover
 * of nothing.
 */
export async function forgetMissing(table: Table, counter: CounterRecord, connectionId: string): Promise<boolean> {
  const claims = [...counter.streams].filter(([, holder]) => holder === connectionId).map(([streamId]) => streamId);
  const reasons = await table.transact({
    TransactItems: [
      {
        ConditionCheck: {
          TableName: table.tableName,
          Key: connKey(connectionId),
          ConditionExpression: 'attribute_not_exists(pk) OR #state = :closed',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':closed': 'closed' },
        },
      },
      uncount(table, counter.userId, connectionId, claims),
    ],
  });
  return !reasons;
}

/**
 * Makes `active` equal the number of counted connections, if the counter still reads `observed` (a connect or
 * release in between changes it, and then the caller looks again).
 */
export async function repairCount(
  table: Table,
  userId: string,
  { observed, actual }: { observed: number; actual: number },
): Promise<boolean> {
  try {
    await table.db.send(
      new UpdateCommand({
        TableName: table.tableName,
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
