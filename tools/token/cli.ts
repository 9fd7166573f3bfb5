/**
 * `npm run --silent token -- --user U [--limit N] [--staff] [--ttl SECONDS]`: prints a token that
 * `AUTH_MODE=jwt npm start` accepts, signed with the local stack's key (see `local/signing-key.ts` for where it lives;
 * run this with the same `DATA_DIR` or `SIGNING_KEY_FILE` as the stack). The token goes to stdout, notes to stderr.
 */
import { parseArgs } from 'node:util';
import { check, LimitSchema, UserIdSchema } from '../../core/params.js';
import {
  loadOrCreateSigningKey,
  mintToken,
  SigningKeyFileError,
  signingAlgorithmOf,
  signingKeyPath,
} from '../../local/signing-key.js';

const USAGE = `usage: npm run --silent token -- --user U [--limit N] [--staff] [--ttl SECONDS] [--key-file F]

  --user U        the token's subject, the user id (1 to 128 of A-Z a-z 0-9 . _ - : @)
  --limit N       the plan's stream limit claim (\`streams\`, 0 to 100); absent: the stack's default
  --staff         add the staff scope (streamgate:staff): the support API accepts the token
  --ttl SECONDS   lifetime (default 3600, at most 604800)
  --key-file F    signing key file (default: SIGNING_KEY_FILE, else DATA_DIR/signing-key.json, else .data/)

A key made here is ES256, or RS256 with SIGNING_KEY_ALGORITHM=RS256 (as the deployed APIs verify); an existing key
keeps its algorithm.`;

const MAX_TTL_SECONDS = 7 * 24 * 3600;

function usage(message: string): never {
  console.error(`token: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function wholeNumber(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) usage(`${name} must be a whole number, not ${JSON.stringify(raw)}`);
  return Number(raw);
}

async function main() {
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse());
  } catch (error) {
    usage((error as Error).message);
  }
  // Asked-for help is the answer, so it goes to stdout as every tool's here does; usage errors go to stderr.
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values.user === undefined) usage('--user is required');
  const user = check(UserIdSchema, values.user);
  if (!user.ok) usage(user.message);
  const limit = wholeNumber('--limit', values.limit);
  if (limit !== undefined && !check(LimitSchema, limit).ok) usage('--limit must be from 0 to 100');
  const ttl = wholeNumber('--ttl', values.ttl) ?? 3600;
  if (ttl < 1 || ttl > MAX_TTL_SECONDS) usage(`--ttl must be from 1 to ${MAX_TTL_SECONDS}`);

  const file = values['key-file'] ?? signingKeyPath(process.env);
  const { key, created } = await loadOrCreateSigningKey(file, signingAlgorithmOf(process.env));
  if (created)
    console.error(`token: made a new signing key in ${file}; a jwt stack started before with another key refuses it`);
  const token = await mintToken(key, { userId: user.value, limit, staff: values.staff, ttlSeconds: ttl });
  process.stdout.write(`${token}\n`);
}

function parse() {
  return parseArgs({
    options: {
      user: { type: 'string' },
      limit: { type: 'string' },
      staff: { type: 'boolean', default: false },
      ttl: { type: 'string' },
      'key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
}

main().catch((error) => {
  console.error(`token: ${error instanceof SigningKeyFileError ? error.message : (error as Error).stack}`);
  process.exit(1);
});
