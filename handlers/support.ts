/** Lambda entry for the support API; the configuration is read and checked at cold start. */
import { lambdaEntry } from './lib/lambda.js';
import { runtimeFromEnv } from './lib/runtime.js';
import { createSupportHandler, type SupportEvent } from './routes/support.js';

export type { SupportEvent } from './routes/support.js';

const runtime = runtimeFromEnv();

/** Support routes name a user or a connection in the path; both go on the invocation's log lines. */
const supportKeys = (event: SupportEvent) => ({
  userId: event.pathParameters?.userId,
  connectionId: event.pathParameters?.connectionId,
});

export const handler = lambdaEntry(
  { loggers: [runtime.logger, runtime.audit], metrics: runtime.metrics },
  createSupportHandler(runtime),
  supportKeys,
);
