/** Lambda entry for `$disconnect`; the configuration is read and checked at cold start. */
import { runtimeFromEnv } from './lib/runtime.js';
import { createDisconnectHandler } from './routes/disconnect.js';

export const handler = createDisconnectHandler(runtimeFromEnv());
