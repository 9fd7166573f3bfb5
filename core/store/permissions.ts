/**
 * The DynamoDB actions the store's operations need, next to the store so that a new kind of call and its
 * permission are changed together. The CDK app grants exactly these (and nothing like `dynamodb:*`); a unit test
 * checks that every command the store sends is covered.
 *
 * `TransactWriteItems` has no IAM action of its own: each item in it is authorized as the matching single-item
 * action (Put, Update, ConditionCheck).
 */

/** On the table itself: the counter and connection items. */
export const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:ConditionCheckItem',
] as const;

/**
 * On the table, for the support API only: a user's audit history is one partition, read newest first; the hourly usage
 * of a user or of the service is a range of one partition.
 */
export const HISTORY_QUERY_ACTIONS = ['dynamodb:Query'] as const;

/** On the lease index only, and only for the sweep: it is the one reader of expired leases. */
export const LEASE_INDEX_ACTIONS = ['dynamodb:Query'] as const;

/** Which action each document-client command needs (the unit test maps the store's commands through this). */
export const COMMAND_ACTIONS: Record<string, readonly string[]> = {
  GetCommand: ['dynamodb:GetItem'],
  BatchGetCommand: ['dynamodb:BatchGetItem'],
  PutCommand: ['dynamodb:PutItem'],
  UpdateCommand: ['dynamodb:UpdateItem'],
  QueryCommand: ['dynamodb:Query'],
  TransactWriteCommand: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
};
