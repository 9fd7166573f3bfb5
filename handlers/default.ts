/** Lambda entry for `$default` (every message frame); the configuration is read and checked at cold start. */
import { lambdaEntry, webSocketKeys } from './lib/lambda.js';
import { runtimeFromEnv } from './lib/runtime.js';
import { createMessageHandler } from './routes/message.js';

const runtime = runtimeFromEnv();

export const handler = lambdaEntry(
  { loggers: [runtime.logger], metrics: runtime.metrics },
  createMessageHandler(runtime),
  webSocketKeys,
);
