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
import { requestToken } from './transactions.js';

/**
 * Counts a new connection and writes its item in one transaction, if the user is under their limit
 * (the override when set, else `defaultLimit`) and does not already hold `streamId`.
 */
export async function admit(table: Table, conn: NewConnection, options: AdmitOptions): Promise<AdmitOutcome> {
  const { defaultLimit, maxConnectionMs, round = 0 } = options;
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
    // The send time is part of the token: a redelivered `$connect` writes anew and finds its own item (duplicate).
    ClientRequestToken: requestToken('admit', conn.connectionId, conn.handshakeAt ?? conn.connectedAt, round),
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
            ':at': conn.connectedAt,
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
    ClientRequestToken: requestToken(
      'takeOver',
      conn.connectionId,
      conn.handshakeAt ?? conn.connectedAt,
      oldConnectionId,
    ),
    TransactItems: [
      {
        Update: {
          TableName: table.tableName,
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
      closeConnection(table, oldConnectionId, 'takenOver', at, { allowMissing: true }),
      putConnection(table, conn, maxConnectionMs),
    ],
  };
  const reasons = await table.transact(input);
  if (!reasons) return { kind: 'tookOver' };
  const connReason = reasons[2];
  if (connReason?.code === 'ConditionalCheckFailed') {
    return { kind: 'duplicate', existing: toConnection(connReason.item) };
  }
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
    ':at': at,
    ':limit': defaultLimit,
    ':evict': 'evict-oldest' satisfies LimitPolicy,
  };
  const set = ['#cNew = :at'];
  const remove = ['#cOld'];
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
    ClientRequestToken: requestToken(
      'evict',
      conn.connectionId,
      conn.handshakeAt ?? conn.connectedAt,
      victim.connectionId,
    ),
    TransactItems: [
      {
        Update: {
          TableName: table.tableName,
          Key: userKey(conn.userId),
          UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      // Missing or closed already: then the counter no longer counts it either, and the condition above fails.
      closeConnection(table, victim.connectionId, 'evicted', at, { allowMissing: true }),
      putConnection(table, conn, maxConnectionMs),
    ],
  });
  if (!reasons) return { kind: 'evicted' };
  const [counterReason, , connReason] = reasons;
  if (connReason?.code === 'ConditionalCheckFailed') {
    return { kind: 'duplicate', existing: toConnection(connReason.item) };
  }
  const counter =
    counterReason?.code === 'ConditionalCheckFailed'
      ? toCounter(conn.userId, counterReason.item)
      : await getCounter(table, conn.userId);
  return { kind: 'changed', counter };
}
