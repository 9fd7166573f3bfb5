/**
 * What a Lambda entry adds: the Lambda context and the event's keys on every log line of the invocation (and only
 * of that invocation), and the metrics flushed at its end, whatever happens. Output is captured from stdout, where
 * Powertools writes in Lambda.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaEntry, webSocketKeys } from '../../handlers/lib/lambda.js';
import { silentMetrics } from '../../handlers/lib/metrics.js';

const context = {
  awsRequestId: 'req-1',
  functionName: 'streamgate-Connect',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:streamgate-Connect',
  memoryLimitInMB: '512',
} as Context;

let lines: Record<string, unknown>[];
beforeEach(() => {
  lines = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

const wsEvent = (connectionId: string, userId?: string) => ({
  requestContext: { connectionId, authorizer: userId ? { userId } : undefined },
});

describe('When a Lambda entry runs a handler', () => {
  it('puts the request id, connectionId and userId on every line written during the invocation', async () => {
    // Prepare
    const logger = new Logger({ serviceName: 'streamgate' });
    const handler = lambdaEntry(
      { loggers: [logger] },
      async () => {
        logger.info('inside');
        return 'ok';
      },
      webSocketKeys,
    );

    // Act
    await handler(wsEvent('c-1', 'alice'), context);
    logger.info('between invocations');

    // Assess
    expect(lines[0]).toMatchObject({
      message: 'inside',
      function_request_id: 'req-1',
      function_name: 'streamgate-Connect',
      connectionId: 'c-1',
      userId: 'alice',
    });
    expect(lines[1]!.connectionId).toBeUndefined();
    expect(lines[1]!.userId).toBeUndefined();
  });

  it('flushes the metrics even when the handler throws', async () => {
    const flush = vi.fn();
    const handler = lambdaEntry({ loggers: [], metrics: { ...silentMetrics, flush } }, async () => {
      throw new Error('boom');
    });

    await expect(handler({}, context)).rejects.toThrow('boom');

    expect(flush).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['a huge user id', { requestContext: { connectionId: 'c', authorizer: { userId: 'x'.repeat(10_000) } } }],
    ['a user id that is not a string', { requestContext: { connectionId: 'c', authorizer: { userId: { a: 1 } } } }],
    ['no request context at all', {}],
    ['a __proto__ query parameter', JSON.parse('{"queryStringParameters":{"__proto__":{"userId":"x"}}}')],
  ])('still runs the handler for %s, with bounded keys', async (_name, event) => {
    const logger = new Logger({ serviceName: 'streamgate' });
    const handler = lambdaEntry(
      { loggers: [logger] },
      async () => {
        logger.info('inside');
        return 'ok';
      },
      webSocketKeys,
    );

    await expect(handler(event as never, context)).resolves.toBe('ok');

    const userId = lines[0]!.userId;
    expect(userId === undefined || (typeof userId === 'string' && userId.length <= 128)).toBe(true);
  });
});
