/** Lambda entry for `$disconnect`; the configuration is read and checked at cold start. */
import { lambdaEntry, webSocketKeys } from './lib/lambda.js';
import { runtimeFromEnv } from './lib/runtime.js';
import { createDisconnectHandler } from './routes/disconnect.js';

const runtime = runtimeFromEnv();

export const handler = lambdaEntry(
  { loggers: [runtime.logger], metrics: runtime.metrics },
  createDisconnectHandler(runtime),
  webSocketKeys,
);
