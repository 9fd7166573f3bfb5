/** Lambda entry for the scheduled sweep; the configuration is read and checked at cold start. */
import { runtimeFromEnv } from './lib/runtime.js';
import { createSweepHandler } from './routes/sweep.js';

export const handler = createSweepHandler(runtimeFromEnv());
