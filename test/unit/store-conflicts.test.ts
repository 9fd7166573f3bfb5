/**
 * TransactionConflict cannot be produced on demand by DynamoDB Local, so these use a mocked client. Everything
 * else about the store is tested against the real DynamoDB Local.
 */
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreContentionError } from '../../core/errors.js';
import { createDynamoStore } from '../../core/store/dynamodb/store.js';

const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'local' }));
const mock = mockClient(db);
const store = createDynamoStore(db, { tableName: 't' });
const conn = { connectionId: 'c1', userId: 'u1', connectedAt: 1, leaseExpiresAt: 2 };
const policy = { defaultLimit: 3, maxConnectionMs: 7_200_000 };

const conflict = () =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
  });

afterEach(() => mock.reset());

describe('transaction conflicts on a user counter', () => {
  it('are retried until the transaction goes through', async () => {
    // Prepare
    mock.on(TransactWriteCommand).rejectsOnce(conflict()).rejectsOnce(conflict()).resolves({});

    // Act
    const outcome = await store.admit(conn, policy);

    // Assess
    expect(outcome).toEqual({ kind: 'admitted' });
    const calls = mock.commandCalls(TransactWriteCommand);
    expect(calls).toHaveLength(3);
    // Every retry is the same request: same token, so DynamoDB applies it at most once.
    const tokens = new Set(calls.map((c) => c.args[0].input.ClientRequestToken));
    expect(tokens.size).toBe(1);
  });

  it('end in StoreContentionError when they never stop', async () => {
    // Prepare
    mock.on(TransactWriteCommand).rejects(conflict());

    // Act
    const admitting = store.admit(conn, policy);

    // Assess
    await expect(admitting).rejects.toBeInstanceOf(StoreContentionError);
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(10);
  });

  it('are told apart from a refused condition, which is not retried', async () => {
    // Prepare: the counter item comes back raw (attribute values), as DynamoDB sends cancellation reasons
    mock.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [
          {
            Code: 'ConditionalCheckFailed',
            Item: { active: { N: '3' }, 'c:a': { N: '1' }, 'c:b': { N: '1' }, 'c:c': { N: '1' } },
          },
          { Code: 'None' },
        ],
      }),
    );

    // Act
    const outcome = await store.admit(conn, policy);

    // Assess
    expect(outcome).toMatchObject({ kind: 'limitReached', counter: { active: 3 } });
    expect(outcome.kind === 'limitReached' && [...outcome.counter.counted.keys()]).toEqual(['a', 'b', 'c']);
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });
});
