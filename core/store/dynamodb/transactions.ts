/**
 * Running a transaction: conflicts and throttling are retried with backoff under one idempotency token; a failed
 * condition is an answer, returned with the items as they were (unmarshalled here, where they arrive raw).
 */
import { createHash } from 'node:crypto';
import { type CancellationReason, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { StoreContentionError } from '../../errors.js';
import { RetryableError, retryWithBackoff } from '../../retry.js';
import type { Item } from '../items.js';

/** Why one item of a cancelled transaction did not go through, with the item as it was when its condition failed. */
export interface Cancellation {
  /** `ConditionalCheckFailed`, `None` (this item was fine), ... */
  code?: string;
  item?: Item;
}

/**
 * Idempotency token for a transaction, derived from what the event says and when this write was first sent: the
 * SDK's and our own retries of it reuse the token, a redelivered event writes anew.
 */
export function requestToken(...parts: Array<string | number>): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 36);
}

/**
 * Runs a transaction, retrying conflicts with jittered backoff. Returns undefined on success, or one cancellation
 * per item when a condition failed; throws StoreContentionError when the conflicts never stop.
 */
export type RetryCause = 'conflict' | 'throttling';

export interface TransactionOptions {
  /** told before each retry, with why (for metrics) */
  onRetry?: (cause: RetryCause) => void;
}

export async function runTransaction(
  db: DynamoDBDocumentClient,
  input: TransactWriteCommandInput,
  options: TransactionOptions = {},
): Promise<Cancellation[] | undefined> {
  try {
    return await retryWithBackoff(
      async () => {
        try {
          await db.send(new TransactWriteCommand(input));
          return undefined;
        } catch (error) {
          const reasons = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
          if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) return reasons.map(toCancellation);
          const cause = retryCause(error, reasons);
          if (cause) throw new RetryableError(error, cause);
          throw error;
        }
      },
      { onRetry: (error) => options.onRetry?.(error.reason as RetryCause) },
    );
  } catch (error) {
    if (error instanceof RetryableError) {
      throw new StoreContentionError('the store kept reporting conflicts', { cause: error.cause });
    }
    throw error;
  }
}

function retryCause(error: unknown, reasons: CancellationReason[]): RetryCause | undefined {
  if (reasons.some((r) => r.Code === 'TransactionConflict')) return 'conflict';
  if (reasons.some((r) => r.Code === 'ThrottlingError')) return 'throttling';
  const name = (error as { name?: string } | undefined)?.name;
  if (name === 'TransactionConflictException' || name === 'TransactionInProgressException') return 'conflict';
  return undefined;
}

/** Cancellation reasons bypass the document client's translation: their items are raw attribute values. */
function toCancellation(reason: CancellationReason): Cancellation {
  return { code: reason.Code, item: reason.Item ? unmarshall(reason.Item) : undefined };
}
