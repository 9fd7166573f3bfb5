/** Staff changes to a user (limit and policy overrides), each written with its entry in the user's history. */
import { randomBytes } from 'node:crypto';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { LimitPolicy } from '../../policy.js';
import { type AuditRecord, type CounterRecord, toAudit } from '../items.js';
import { AUDIT_SECONDS, AUDIT_SORT_PREFIX, keys, PARTITION_KEY, SORT_KEY } from '../schema.js';
import { getCounter } from './reads.js';
import { type Table, userKey } from './table.js';

/**
 * Sets (a number) or clears (undefined) the user's limit override, and writes `audit` to the user's history in the
 * same transaction: the change and its record are one write. Returns the counter after the change.
 */
export function setLimitOverride(
  table: Table,
  userId: string,
  limit: number | undefined,
  options: { audit: AuditRecord },
): Promise<CounterRecord> {
  return setOverride(table, userId, 'limitOverride', limit, options.audit);
}

/**
 * Sets (a policy) or clears (undefined) the user's policy at the limit, and writes `audit` to the user's history in
 * the same transaction. Returns the counter after the change, with the policy this write set.
 */
export function setPolicyOverride(
  table: Table,
  userId: string,
  policy: LimitPolicy | undefined,
  options: { audit: AuditRecord },
): Promise<CounterRecord> {
  return setOverride(table, userId, 'policyOverride', policy, options.audit);
}

/** Writes one entry of a user's history on its own (for actions that are not a single write of the store's). */
export async function recordAudit(table: Table, entry: AuditRecord): Promise<void> {
  await table.db.send(new PutCommand(putAudit(table, entry).Put));
}

/** The user's history, newest first, at most `limit` entries (expired entries may linger until TTL removes them). */
export async function auditTrail(table: Table, userId: string, { limit }: { limit: number }): Promise<AuditRecord[]> {
  const { Items } = await table.db.send(
    new QueryCommand({
      TableName: table.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
      ExpressionAttributeValues: { ':pk': userKey(userId)[PARTITION_KEY], ':prefix': AUDIT_SORT_PREFIX },
      ScanIndexForward: false,
      Limit: limit,
      ConsistentRead: true,
    }),
  );
  return (Items ?? []).map(toAudit);
}

function putAudit(table: Table, entry: AuditRecord) {
  return {
    Put: {
      TableName: table.tableName,
      Item: {
        ...keys.audit(entry.userId, entry.at, randomBytes(6).toString('base64url')),
        ...entry,
        expiresAt: Math.ceil(entry.at / 1000) + AUDIT_SECONDS,
      },
    },
  };
}

async function setOverride<K extends 'limitOverride' | 'policyOverride'>(
  table: Table,
  userId: string,
  attribute: K,
  value: CounterRecord[K] | undefined,
  audit: AuditRecord,
): Promise<CounterRecord> {
  const base = 'SET userId = :u, active = if_not_exists(active, :zero)';
  await table.transact({
    TransactItems: [
      {
        Update: {
          TableName: table.tableName,
          Key: userKey(userId),
          UpdateExpression: value === undefined ? `${base} REMOVE #o` : `${base}, #o = :value`,
          ExpressionAttributeNames: { '#o': attribute },
          ExpressionAttributeValues: {
            ':u': userId,
            ':zero': 0,
            ...(value === undefined ? {} : { ':value': value }),
          },
        },
      },
      putAudit(table, audit),
    ],
  });
  // The answer says what this write did: a change racing in between would otherwise show up as this one's result
  // (a PUT of 0 answered `limitOverride: null`, found by the support API fuzz target).
  return { ...(await getCounter(table, userId)), [attribute]: value };
}
