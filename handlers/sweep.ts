/** Lambda entry for the scheduled sweep; the configuration is read and checked at cold start. */
import { lambdaEntry } from './lib/lambda.js';
import { runtimeFromEnv } from './lib/runtime.js';
import { createSweepHandler } from './routes/sweep.js';

const runtime = runtimeFromEnv();

export const handler = lambdaEntry(
  { loggers: [runtime.logger], metrics: runtime.metrics },
  createSweepHandler(runtime),
);
