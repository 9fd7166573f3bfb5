/**
 * What a Lambda entry adds around a handler: the Lambda context (request id, function, cold start) and the event's
 * keys (`connectionId`, `userId`) on every log line written during the invocation, and the invocation's metrics
 * flushed at its end. The local stack calls the handlers directly, without this.
 *
 * The loggers are shared by the container: Lambda runs one invocation at a time per container, and Powertools keeps
 * per-invocation state apart where a runtime runs several at once.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { ServiceMetrics } from './metrics.js';

export type LogKeys = Record<string, string | undefined>;

export interface Observed {
  /** every logger the handler writes to (the service's, the audit log) */
  loggers: Logger[];
  metrics?: ServiceMetrics;
}

/** Long enough for any valid id; a hostile value cannot flood a log line. */
const MAX_KEY_LENGTH = 128;

export function lambdaEntry<E, R>(
  observed: Observed,
  handler: (event: E) => Promise<R>,
  keysOf: (event: E) => LogKeys = () => ({}),
): (event: E, context?: Context) => Promise<R> {
  return async (event, context) => {
    const keys = Object.fromEntries(
      Object.entries(safeKeys(keysOf, event))
        .filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '')
        .map(([k, v]) => [k, v.slice(0, MAX_KEY_LENGTH)]),
    );
    for (const logger of observed.loggers) {
      if (context) logger.addContext(context);
      logger.appendKeys(keys);
    }
    try {
      return await handler(event);
    } finally {
      for (const logger of observed.loggers) logger.resetKeys();
      observed.metrics?.flush();
    }
  };
}

/** A malformed event must reach the handler (which answers it), not fail here. */
function safeKeys<E>(keysOf: (event: E) => LogKeys, event: E): LogKeys {
  try {
    return keysOf(event) ?? {};
  } catch {
    return {};
  }
}

/** The keys of a WebSocket event: its connection, and the user where the event names one. */
export function webSocketKeys(event: {
  requestContext?: { connectionId?: string; authorizer?: unknown };
  queryStringParameters?: Record<string, string | undefined> | null;
}): LogKeys {
  const authorizer = event.requestContext?.authorizer as { userId?: unknown } | undefined;
  const userId = typeof authorizer?.userId === 'string' ? authorizer.userId : event.queryStringParameters?.userId;
  return { connectionId: event.requestContext?.connectionId, userId };
}
