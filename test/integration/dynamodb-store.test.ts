/**
 * The DynamoDB store held to the store contract, on the run's DynamoDB Local: each test on a table of its own (the
 * sweep's cursor and index are table-wide), created here rather than with a whole local stack.
 */
import { randomBytes } from 'node:crypto';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, inject } from 'vitest';
import { createDocumentClient, createDynamoStore } from '../../core/store/dynamodb/store.js';
import { keys } from '../../core/store/schema.js';
import { ensureTable } from '../../local/dynamodb-local.js';
import { describeStoreContract } from '../support/store-contract/index.js';

const endpoint = inject('dynamodbEndpoint');
const db = createDocumentClient(endpoint);

afterAll(() => db.destroy());

describeStoreContract(
  'DynamoDB',
  async () => {
    const tableName = `contract_${randomBytes(4).toString('hex')}`;
    await ensureTable(endpoint, tableName);
    return {
      store: createDynamoStore(db, { tableName }),
      dropItem: async (connectionId) => {
        await db.send(new DeleteCommand({ TableName: tableName, Key: keys.connection(connectionId) }));
      },
    };
  },
  { propertyRuns: 75 },
);
