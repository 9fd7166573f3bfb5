/** The DynamoDB client the store runs on: AWS's, or DynamoDB Local's when an endpoint is given. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { localClientConfig } from '../../aws-local.js';

/**
 * A Lambda container handles one event at a time, so the SDK's 50 sockets are plenty there; the local stack runs
 * every handler of every connection in one process and needs more.
 */
const MAX_SOCKETS = 256;

export function createDocumentClient(endpoint?: string): DynamoDBDocumentClient {
  const requestHandler = { httpAgent: { maxSockets: MAX_SOCKETS }, httpsAgent: { maxSockets: MAX_SOCKETS } };
  const client = new DynamoDBClient(endpoint ? { ...localClientConfig(endpoint), requestHandler } : { requestHandler });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
