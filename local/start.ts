/** `npm start`: the whole service on this machine, until SIGINT or SIGTERM. */
// The SDK is pinned; its notice about future releases needing Node 22 is not for local users (Lambda runs 22).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { ConfigError } from '../core/errors.js';
import { JavaMissingError } from './dynamodb-local.js';
import { ListenError } from './http.js';
import { SettingsError, settingsFromEnv } from './settings.js';
import { SigningKeyFileError } from './signing-key.js';
import { startLocalStack } from './stack.js';

/** What a user can fix gets one line and an exit code; anything else, the whole story and 1. */
function exitCodeFor(error: unknown): { code: number; line?: string } {
  if (error instanceof SettingsError) return { code: 2, line: error.message };
  const fixable =
    error instanceof ListenError ||
    error instanceof JavaMissingError ||
    error instanceof ConfigError ||
    error instanceof SigningKeyFileError;
  return { code: 1, line: fixable ? error.message : undefined };
}

async function main() {
  const settings = settingsFromEnv(process.env);
  const stack = await startLocalStack(settings);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`streamgate: ${signal}, stopping`);
    await stack.stop();
    process.exit(0);
  };
  // A crash must not leave DynamoDB Local's java process behind.
  process.on('uncaughtException', (error) => {
    console.error(error);
    void shutdown('uncaught exception').finally(() => process.exit(1));
  });
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  const token = settings.adminToken ? '(from ADMIN_TOKEN)' : stack.adminToken;
  const key = stack.identity?.signingKey?.file;
  const auth = !stack.identity
    ? `admin token: ${token}`
    : key
      ? `jwt: tokens from npm run --silent token -- --user U [--staff], key ${key}`
      : 'jwt: tokens of JWT_ISSUER';
  console.log(`streamgate ready: ws ${stack.wsUrl} (players, @connections) support ${stack.httpUrl} (${auth})`);
}

main().catch((error) => {
  const { code, line } = exitCodeFor(error);
  console.error(line === undefined ? error : `streamgate: ${line}`);
  process.exit(code);
});
