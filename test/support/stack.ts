import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createDocumentClient, createDynamoStore, type DynamoStreamStore } from '../../core/store/dynamodb/store.js';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack.js';

/**
 * The opening window (lifecycle.ts) for the race tests' stacks, on a store answering in milliseconds: a connect that
 * meets a socket still opening, or one closed young without its `$disconnect`, waits until that one's window has
 * passed, so a short window keeps those tests short. What they assert does not rest on it; the chaos test under a
 * slow store and the model test run the default.
 */
export const FAST_STORE_OPENING_WINDOW_SECONDS = 2;

/** The local stack on free ports, against the run's DynamoDB Local, with a table of its own. */
export async function startTestStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tableName: `t_${randomBytes(4).toString('hex')}`,
    wsPort: 0,
    httpPort: 0,
    // TEST_LOG_LEVEL=INFO shows the stack's log lines when a test needs explaining
    logLevel: (process.env.TEST_LOG_LEVEL as LocalStackOptions['logLevel']) ?? 'SILENT',
    // Off unless a test is about the events: the processor's reads and writes would share DynamoDB Local's one writer
    // with the stack under test, and slow every race test by what the events cost (the bench measures that).
    eventsProcessor: 'off',
    ...options,
    withoutTableStream: options.eventsProcessor !== 'on',
  });
}

/**
 * A store of the test's own on the stack's table, to read and arrange state beside the stack; pass `db` to count or
 * shape the calls it makes.
 */
export function storeFor(stack: LocalStack, db = createDocumentClient(stack.dynamodbEndpoint)): DynamoStreamStore {
  return createDynamoStore(db, { tableName: stack.tableName });
}

let counter = 0;
/** A user id no other test uses. */
export function newUserId(prefix = 'u'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/**
 * A support API request to the test stack, as staff send it: the admin token unless another (or `null`, none) is
 * given; a body that is not a string is sent as JSON.
 */
export function supportRequest(
  stack: LocalStack,
  request: { method: string; path: string; body?: unknown; token?: string | null },
): Promise<Response> {
  const { method, path, body } = request;
  const token = request.token === undefined ? stack.adminToken : request.token;
  return fetch(`${stack.httpUrl}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}
