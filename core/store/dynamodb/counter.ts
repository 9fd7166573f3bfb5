/**
 * The count guard's writes: a connection admitted under its user's limit, a stream taken over by a newer connection,
 * a stream evicted to make room. Each is one transaction of the counter and the connection items, so the count
 * never passes the limit; a failed condition comes back as an outcome, with the counter as it was.
 */
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { LimitPolicy } from '../../policy.js';
import { type NewConnection, toConnection, toCounter } from '../items.js';
import type {
  AdmitOptions,
  AdmitOutcome,
  EvictOptions,
  EvictOutcome,
  TakeOverOptions,
  TakeOverOutcome,
} from '../port.js';
import { getCounter } from './reads.js';
import { closeConnection, countedAttr, putConnection, streamAttr, type Table, userKey } from './table.js';
import type { Cancellation } from './transactions.js';
import { requestToken } from './transactions.js';

/**
 * Counts a new connection and writes its item in one transaction, if the user is under their limit
 * (the override when set, else `defaultLimit`) and does not already hold `streamId`.
 */
export async function admit(table: Table, conn: NewConnection, options: AdmitOptions): Promise<AdmitOutcome> {
  const { defaultLimit, maxConnectionMs, round = 0 } = options;
  const names: Record<string, string> = { '#c': countedAttr(conn.connectionId) };
  let set = 'SET userId = :u, active = if_not_exists(active, :zero) + :one, #c = :member';
  // A user never seen before has no counter yet: admitted unless the limit is 0 (a plan of no streams).
  const underDefault = defaultLimit > 0 ? '(attribute_not_exists(active) OR active < :limit)' : 'active < :limit';
  let condition =
    'attribute_not_exists(#c) AND ((attribute_exists(limitOverride) AND active < limitOverride) OR ' +
    `(attribute_not_exists(limitOverride) AND ${underDefault}))`;
  if (conn.streamId) {
    names['#s'] = streamAttr(conn.streamId);
    set += ', #s = :id';
    condition += ' AND attribute_not_exists(#s)';
  }
  const input: TransactWriteCommandInput = {
    // The send time is part of the token: a redelivered `$connect` writes anew and finds its own item (duplicate).
    ClientRequestToken: requestToken('admit', conn.connectionId, conn.openBy ?? conn.connectedAt, round),
    TransactItems: [
      {
        Update: {
          TableName: table.tableName,
          Key: userKey(conn.userId),
          UpdateExpression: set,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ':u': conn.userId,
            ':zero': 0,
            ':one': 1,
            ':member': member(conn),
            ':limit': defaultLimit,
            ...(conn.streamId ? { ':id': conn.connectionId } : {}),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      putConnection(table, conn, maxConnectionMs),
    ],
  };
  const reasons = await table.transact(input);
  if (!reasons) return { kind: 'admitted' };
  const [counterReason, connReason] = reasons;
  if (connReason?.code === 'ConditionalCheckFailed') {
    return { kind: 'duplicate', existing: toConnection(connReason.item) };
  }
  const counter = toCounter(conn.userId, counterReason?.item);
  const heldBy = conn.streamId ? counter.streams.get(conn.streamId) : undefined;
  if (heldBy) return { kind: 'streamHeld', heldBy, counter };
  return { kind: 'limitReached', counter };
}

/**
 * Hands `streamId` from `oldConnectionId` to the new connection in one transaction: the old one is closed, the
 * new one counted in its place, and `active` does not move.
 */
export async function takeOver(
  table: Table,
  conn: NewConnection & { streamId: string },
  options: TakeOverOptions,
): Promise<TakeOverOutcome> {
  const { heldBy: oldConnectionId, maxConnectionMs } = options;
  const at = conn.connectedAt;
  const input: TransactWriteCommandInput = {
    ClientRequestToken: requestToken('takeOver', conn.connectionId, conn.openBy ?? conn.connectedAt, oldConnectionId),
    TransactItems: [
      {
        Update: {
          TableName: table.tableName,
          Key: userKey(conn.userId),
          // The old one stays counted (ending) until its socket is closed: then its `$connect` uncounts it.
          UpdateExpression: 'SET #s = :new, #cNew = :member, active = active + :one',
          ConditionExpression: '#s = :old AND attribute_exists(#cOld) AND attribute_not_exists(#cNew)',
          ExpressionAttributeNames: {
            '#s': streamAttr(conn.streamId),
            '#cNew': countedAttr(conn.connectionId),
            '#cOld': countedAttr(oldConnectionId),
          },
          ExpressionAttributeValues: {
            ':new': conn.connectionId,
            ':old': oldConnectionId,
            ':member': member(conn),
            ':one': 1,
          },
        },
      },
      closeConnection(table, oldConnectionId, 'takenOver', at, { allowMissing: true }),
      putConnection(table, conn, maxConnectionMs),
    ],
  };
  const reasons = await table.transact(input);
  if (!reasons) return { kind: 'tookOver' };
  const [counterReason, oldReason, connReason] = reasons;
  if (connReason?.code === 'ConditionalCheckFailed') {
    return { kind: 'duplicate', existing: toConnection(connReason.item) };
  }
  if (isEnding(counterReason, oldReason)) return { kind: 'heldByEnding' };
  return { kind: 'changed' };
}

/**
 * `evict-oldest`: ends `victim` and counts the new connection in its place, in one transaction. The counter swaps
 * one member for the other (and the stream claims with them), so `active` does not move: the count never passes
 * the limit. On condition that the victim is still counted (two connects that chose the same victim cannot both
 * evict it), that the user holds exactly their limit (no eviction when there is room, or when staff lowered the
 * limit below the count) and that `evict-oldest` is in force for the user.
 */
export async function evict(table: Table, conn: NewConnection, options: EvictOptions): Promise<EvictOutcome> {
  const { victim, defaultLimit, defaultPolicy, maxConnectionMs } = options;
  const at = conn.connectedAt;
  const names: Record<string, string> = {
    '#cNew': countedAttr(conn.connectionId),
    '#cOld': countedAttr(victim.connectionId),
  };
  const values: Record<string, unknown> = {
    ':one': 1,
    ':member': member(conn),
    ':limit': defaultLimit,
    ':evict': 'evict-oldest' satisfies LimitPolicy,
  };
  // The victim stays counted (ending) until its socket is closed: then this connection's `$connect` uncounts it.
  const set = ['#cNew = :member', 'active = active + :one'];
  const remove: string[] = [];
  const conditions = [
    'attribute_exists(#cOld)',
    'attribute_not_exists(#cNew)',
    '((attribute_exists(limitOverride) AND active = limitOverride) OR ' +
      '(attribute_not_exists(limitOverride) AND active = :limit))',
    defaultPolicy === 'evict-oldest'
      ? '(attribute_not_exists(policyOverride) OR policyOverride = :evict)'
      : 'policyOverride = :evict',
  ];
  if (conn.streamId) {
    names['#sNew'] = streamAttr(conn.streamId);
    values[':new'] = conn.connectionId;
    set.push('#sNew = :new');
    conditions.push('attribute_not_exists(#sNew)');
  }
  if (victim.streamId) {
    names['#sOld'] = streamAttr(victim.streamId);
    values[':old'] = victim.connectionId;
    remove.push('#sOld');
    conditions.push('#sOld = :old');
  }
  const reasons = await table.transact({
    ClientRequestToken: requestToken('evict', conn.connectionId, conn.openBy ?? conn.connectedAt, victim.connectionId),
    TransactItems: [
      {
        Update: {
          TableName: table.tableName,
          Key: userKey(conn.userId),
          UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      // Missing: then the counter no longer counts it either, and the condition above fails. Closed while still
      // counted: a teller is ending it (victimEnding).
      closeConnection(table, victim.connectionId, 'evicted', at, { allowMissing: true }),
      putConnection(table, conn, maxConnectionMs),
    ],
  });
  if (!reasons) return { kind: 'evicted' };
  const [counterReason, victimReason, connReason] = reasons;
  if (connReason?.code === 'ConditionalCheckFailed') {
    return { kind: 'duplicate', existing: toConnection(connReason.item) };
  }
  if (isEnding(counterReason, victimReason)) return { kind: 'victimEnding' };
  const counter =
    counterReason?.code === 'ConditionalCheckFailed'
      ? toCounter(conn.userId, counterReason.item)
      : await getCounter(table, conn.userId);
  return { kind: 'changed', counter };
}

/** A counter member: when the connection arrived (ordering, eviction rank) and its `openBy` (lifecycle.ts). */
function member(conn: NewConnection): number | number[] {
  return conn.openBy === undefined ? conn.connectedAt : [conn.connectedAt, conn.openBy];
}

/**
 * The counter still counts the replaced connection as the write expected, but its item is closed: a teller is ending
 * it (lifecycle.ts, ending). With the counter changed too, it was ended and uncounted already: look again.
 */
function isEnding(counterReason: Cancellation | undefined, replacedReason: Cancellation | undefined): boolean {
  return (
    counterReason?.code !== 'ConditionalCheckFailed' &&
    replacedReason?.code === 'ConditionalCheckFailed' &&
    replacedReason.item?.state === 'closed'
  );
}
