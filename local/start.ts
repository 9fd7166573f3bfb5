/** `npm start`: the whole service on this machine, until SIGINT or SIGTERM. */
// The SDK is pinned; its notice about future releases needing Node 22 is not for local users (Lambda runs 22).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { ConfigError } from '../core/errors.js';
import { JavaMissingError } from './dynamodb-local.js';
import { startLocalStack } from './stack.js';

function rateFromEnv(name: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!(value >= 0 && value <= 1)) {
    console.error(`${name} must be a number from 0 to 1, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a whole number, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

async function main() {
  const stack = await startLocalStack({
    wsPort: intFromEnv('WS_PORT', 3001),
    httpPort: intFromEnv('HTTP_PORT', 3000),
    adminToken: process.env.ADMIN_TOKEN || undefined,
    authMode: process.env.AUTH_MODE || undefined,
    streamLimit: intFromEnv('STREAM_LIMIT', 3),
    dataDir: process.env.DATA_DIR || undefined,
    dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT || undefined,
    leaseSeconds: intFromEnv('LEASE_SECONDS', 300),
    handshakeGraceSeconds: intFromEnv('HANDSHAKE_GRACE_SECONDS', 30),
    sweepIntervalSeconds: intFromEnv('SWEEP_INTERVAL_SECONDS', 60),
    idleTimeoutMs: intFromEnv('IDLE_TIMEOUT_SECONDS', 600) * 1000,
    hardTimeoutMs: intFromEnv('HARD_TIMEOUT_SECONDS', 7200) * 1000,
    faults: {
      dropDisconnectRate: rateFromEnv('FAULT_DROP_DISCONNECT'),
      failHandshakeRate: rateFromEnv('FAULT_FAIL_HANDSHAKE'),
    },
  });
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
  const token = process.env.ADMIN_TOKEN ? '(from ADMIN_TOKEN)' : stack.adminToken;
  console.log(
    `streamgate ready: ws ${stack.wsUrl} (players, @connections) support ${stack.httpUrl} (admin token: ${token})`,
  );
}

main().catch((error) => {
  // What a user can fix gets one line; anything else, the whole story.
  const known = error instanceof JavaMissingError || error instanceof ConfigError;
  console.error(known ? `streamgate: ${error.message}` : error);
  process.exit(1);
});
