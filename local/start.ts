/** `npm start`: the whole service on this machine, until SIGINT, SIGTERM or SIGHUP, or until whoever started it goes. */
// The SDK is pinned; its notice about future releases needing Node 22 is not for local users (Lambda runs 22).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { ConfigError } from '../core/errors.js';
import { JavaMissingError } from './dynamodb-local.js';
import { ListenError } from './http.js';
import { watchAncestors } from './process.js';
import { SettingsError, settingsFromEnv } from './settings.js';
import { SigningKeyFileError } from './signing-key.js';
import { type LocalStack, startLocalStack } from './stack.js';

/** How long stopping may take before the process exits anyway (the java watchdog still ends DynamoDB Local). */
const STOP_DEADLINE_MS = 10_000;

// Whoever read our output may be gone (a supervisor stopped, `npm start | tee` ended, a terminal closed): writes then
// fail with EPIPE. Output is best effort; an unhandled write error would otherwise be an uncaught exception whose
// report fails the same way, in a loop that never exits.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

function say(line: string, to: NodeJS.WriteStream = process.stderr) {
  try {
    to.write(`${line}\n`);
  } catch {
    // nobody reads us any more
  }
}

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

let stack: LocalStack | undefined;
let stopping = false;

/** Stops everything this process started, once, then exits with `code`. */
function shutdown(why: string, code: number) {
  if (stopping) return;
  stopping = true;
  say(`streamgate: ${why}, stopping`);
  setTimeout(() => process.exit(code), STOP_DEADLINE_MS).unref();
  void (stack?.stop() ?? Promise.resolve()).finally(() => process.exit(code));
}

// A crash must not leave DynamoDB Local's java process behind, and must not loop on its own report.
const crashed = (error: unknown) => {
  if (stopping) return;
  say(String((error as Error)?.stack ?? error));
  shutdown('internal error', 1);
};
process.on('uncaughtException', crashed);
process.on('unhandledRejection', crashed);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal, 0));
// A signal to npm alone ends npm (and the shell it ran us in) without reaching us: notice and stop.
watchAncestors(() => shutdown('the process that started it is gone', 0));

async function main() {
  const settings = settingsFromEnv(process.env);
  stack = await startLocalStack({
    ...settings,
    onStoreExit: (line) => {
      say(`streamgate: ${line}; the service cannot count streams without it`);
      shutdown('store gone', 1);
    },
  });
  if (stopping) return void (await stack.stop());
  const token = settings.adminToken ? '(from ADMIN_TOKEN)' : stack.adminToken;
  const key = stack.identity?.signingKey?.file;
  const auth = !stack.identity
    ? `admin token: ${token}`
    : key
      ? `jwt: tokens from npm run --silent token -- --user U [--staff], key ${key}`
      : 'jwt: tokens of JWT_ISSUER';
  say(`streamgate ready: ws ${stack.wsUrl} (players, @connections) support ${stack.httpUrl} (${auth})`, process.stdout);
}

main().catch((error) => {
  const { code, line } = exitCodeFor(error);
  say(line === undefined ? String((error as Error)?.stack ?? error) : `streamgate: ${line}`);
  process.exit(code);
});
