/** Lambda entry for the support API; the configuration is read and checked at cold start. */
import { runtimeFromEnv } from './lib/runtime.js';
import { createSupportHandler } from './routes/support.js';

export type { SupportEvent } from './routes/support.js';

export const handler = createSupportHandler(runtimeFromEnv());
