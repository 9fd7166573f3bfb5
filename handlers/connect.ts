/** Lambda entry for `$connect`; the configuration is read and checked at cold start. */
import { runtimeFromEnv } from './lib/runtime.js';
import { createConnectHandler } from './routes/connect.js';

export const handler = createConnectHandler(runtimeFromEnv());
