/** The table's shape, shared by the local stack (CreateTable) and the AWS stack (CDK). */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { LEASE_INDEX } from './store.js';

export const TTL_ATTRIBUTE = 'expiresAt';

export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'leaseShard', AttributeType: 'S' },
      { AttributeName: 'leaseExpiresAt', AttributeType: 'N' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        // Sparse: only open connections carry leaseShard, so the sweep reads expired leases and nothing else.
        IndexName: LEASE_INDEX,
        KeySchema: [
          { AttributeName: 'leaseShard', KeyType: 'HASH' },
          { AttributeName: 'leaseExpiresAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['connectionId', 'userId'] },
      },
    ],
  };
}
