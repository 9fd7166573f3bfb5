/** Fail closed: when DynamoDB cannot be reached, no stream is admitted uncounted. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../local/process.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { openSocket } from '../support/sockets.js';

let stack: LocalStack;

beforeAll(async () => {
  // A port nothing listens on; the table is never created, so the stack is started by hand around it.
  const deadEndpoint = `http://127.0.0.1:${await freePort()}`;
  stack = await startLocalStack({
    dynamodbEndpoint: deadEndpoint,
    wsPort: 0,
    httpPort: 0,
    logLevel: 'SILENT',
    skipTableSetup: true,
  });
});

afterAll(async () => stack?.stop());

it('answers 503 when the store cannot be reached', async () => {
  const result = await openSocket(stack.wsUrl, { userId: 'anyone' });

  expect(result.status).toBe(503);
  expect(JSON.parse(result.body!)).toEqual({ error: { code: 'UNAVAILABLE', message: expect.any(String) } });
});

it('answers /health with 503 and the reason when the store cannot be reached', async () => {
  const res = await fetch(`${stack.httpUrl}/health`);

  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ status: 'unavailable', reason: expect.stringMatching(/store/) });
});
