/** Lambda entry for `$default` (every message frame); the configuration is read and checked at cold start. */
import { runtimeFromEnv } from './lib/runtime.js';
import { createMessageHandler } from './routes/message.js';

export const handler = createMessageHandler(runtimeFromEnv());
