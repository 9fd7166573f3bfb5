/** Lambda entry for the player API; the configuration is read and checked at cold start. */
import { lambdaEntry } from './lib/lambda.js';
import { runtimeFromEnv } from './lib/runtime.js';
import { createPlayerHandler, type PlayerEvent } from './routes/player.js';

const runtime = runtimeFromEnv();

/** The caller, as the JWT authorizer verified it, goes on the invocation's log lines. */
const playerKeys = (event: PlayerEvent) => {
  const sub = event.requestContext.authorizer?.jwt?.claims?.sub;
  return { userId: typeof sub === 'string' ? sub : undefined };
};

export const handler = lambdaEntry(
  { loggers: [runtime.logger], metrics: runtime.metrics },
  createPlayerHandler(runtime),
  playerKeys,
);
