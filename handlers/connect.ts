/** Lambda entry for `$connect`; the configuration is read and checked at cold start. */
import { lambdaEntry, webSocketKeys } from './lib/lambda.js';
import { runtimeFromEnv } from './lib/runtime.js';
import { createConnectHandler } from './routes/connect.js';

const runtime = runtimeFromEnv();

export const handler = lambdaEntry(
  { loggers: [runtime.logger], metrics: runtime.metrics },
  createConnectHandler(runtime),
  webSocketKeys,
);
