/**
 * The store reports every transaction it tries again, and why, so the handlers can count conflicts. Conflicts and
 * throttling cannot be produced on demand by DynamoDB Local, so the client is mocked here.
 */
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { CoreEvent } from '../../core/ports.js';
import { createDynamoStore } from '../../core/store/dynamodb/store.js';

const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'local' }));
const mock = mockClient(db);
const conn = { connectionId: 'c1', userId: 'u1', connectedAt: 1, leaseExpiresAt: 2 };
const policy = { defaultLimit: 3, maxConnectionMs: 7_200_000 };

const cancelled = (code: string) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: [{ Code: code }, { Code: 'None' }],
  });

afterEach(() => mock.reset());

describe('When a transaction has to be tried again', () => {
  it('reports each retry with its cause, and nothing once it goes through', async () => {
    // Prepare
    const events: CoreEvent[] = [];
    const store = createDynamoStore(db, { tableName: 't', events: (e) => events.push(e) });
    mock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled('TransactionConflict'))
      .rejectsOnce(cancelled('ThrottlingError'))
      .resolves({});

    // Act
    const outcome = await store.admit(conn, policy);

    // Assess
    expect(outcome).toEqual({ kind: 'admitted' });
    expect(events).toEqual([
      { kind: 'transactionRetried', cause: 'conflict' },
      { kind: 'transactionRetried', cause: 'throttling' },
    ]);
  });

  it('reports nothing for a refused condition, which is an answer and not retried', async () => {
    const events: CoreEvent[] = [];
    const store = createDynamoStore(db, { tableName: 't', events: (e) => events.push(e) });
    mock.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed'));

    await store.admit(conn, policy);

    expect(events).toEqual([]);
  });
});
