/** The load tester's command line (`npm run loadtest -- --help`). */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseThreshold, type Threshold, ThresholdError } from './thresholds.js';

export interface LoadOptions {
  url: string;
  users: number;
  streamsPerUser: number;
  /** seconds of churn before the settle phase */
  durationS: number;
  /** users start spread over this many seconds */
  rampS: number;
  /** per held stream and second: chance to close it gracefully and reopen */
  churn: number;
  /** per held stream and second: chance to drop it abruptly (no close frame) and reopen */
  drop: number;
  heartbeatS: number;
  /** the per-user limit the server enforces; more held streams than this is a violation */
  limit: number;
  /** handshakes in flight at once */
  concurrency: number;
  timeoutMs: number;
  /** pause before a refused or failed slot tries again */
  retryS: number;
  /** after the run, how long users may take to hold their share again */
  settleS: number;
  userPrefix: string;
  /** per-user credential: `{user}` and `{i}` are replaced; sent as `?token=` */
  tokenTemplate?: string;
  /** per-user credentials, one per line; user i gets line i (mod count) */
  tokens?: string[];
  /** mint one token per user with the local stack's signing key (AUTH_MODE=jwt npm start) */
  mintTokens: boolean;
  json: boolean;
  /** write the JSON report to this file */
  output?: string;
  /** write a self-contained HTML report with charts to this file */
  html?: string;
  /** reconnects reuse the stream's id, as players do, so the server takes the old connection over */
  reuseStreams: boolean;
  /** per held stream and second: chance to reconnect it in place (a new socket for the same stream id) */
  takeover: number;
  /** open model: new streams per second during the run; absent: the closed model (every user holds its share) */
  rate?: number;
  /** open model: mean seconds a new stream is watched before it closes */
  holdS: number;
  thresholds: Threshold[];
}

/** What the command line asks for: a run, or just the usage or the version. */
export type Command = { kind: 'run'; options: LoadOptions } | { kind: 'help' } | { kind: 'version' };

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage: npm run loadtest -- --url URL [options]

  --url URL               ws:// or wss:// address of the WebSocket API (required)
  --users N               virtual users (10)
  --streams-per-user M    streams each user tries to hold (3)
  --duration S            seconds of load, with churn and drops (10)
  --ramp S                start users spread over S seconds (0)
  --rate N                open model: N new streams per second for --duration, each on a random user, whatever
                          the answers (default: the closed model, every user keeps trying to hold its streams)
  --hold S                open model: mean seconds a new stream is watched before it closes (10)
  --churn R               per held stream and second, chance to close it and reopen (0)
  --drop R                per held stream and second, chance to drop it without a close frame and reopen (0)
  --takeover R            per held stream and second, chance to reconnect it in place: a new socket for the same
                          stream id while the old one is still open; the server must close the old one (0)
  --no-reuse-streams      reconnect with a new stream id each time (default: reuse it, as players do)
  --heartbeat S           heartbeat interval of held streams (30)
  --limit L               the server's per-user limit, to count violations (3)
  --concurrency C         handshakes in flight at once (200)
  --timeout MS            handshake timeout (10000)
  --retry S               pause before a refused slot tries again (1)
  --settle S              after the load, seconds allowed for every user to hold its share again (15)
  --user-prefix P         dev-mode user ids are P-0, P-1, ... (random per run)
  --token TEMPLATE        AUTH_MODE=jwt: ?token= per user, {user} and {i} replaced
  --token-file FILE       AUTH_MODE=jwt: one token per line, user i gets line i
  --mint-tokens           AUTH_MODE=jwt npm start on this machine: sign one token per user (sub P-i) with the
                          local stack's key (SIGNING_KEY_FILE, else DATA_DIR/signing-key.json, else .data/)
  --json                  print one JSON object on stdout (the human report always goes to stderr)
  --output FILE           write the JSON report to FILE
  --html FILE             write a self-contained HTML report with charts to FILE
  --threshold EXPR        pass/fail rule, repeatable: METRIC OP NUMBER, e.g. 'p99<500', 'violations==0',
                          'errors<10', 'error_rate<=1%'; metrics: p50 p95 p99 max mean (admitted connect ms),
                          refused_p50 refused_p99, violations locked_out errors timeouts attempts admitted refused
                          held admitted_per_s takeovers lingering skipped error_rate (% of attempts)
  --version               print the version and exit
  -h, --help              print this help and exit

exit code: 0 pass, 1 limit violations, a replaced socket left open or a threshold missed, 2 bad usage or
           nothing answers at --url (checked before any load),
           3 some user could not hold its share again`;

function num(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  integer = false,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(
      `--${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

const FLAGS = {
  url: { type: 'string' },
  users: { type: 'string' },
  'streams-per-user': { type: 'string' },
  duration: { type: 'string' },
  ramp: { type: 'string' },
  churn: { type: 'string' },
  drop: { type: 'string' },
  heartbeat: { type: 'string' },
  limit: { type: 'string' },
  concurrency: { type: 'string' },
  timeout: { type: 'string' },
  retry: { type: 'string' },
  settle: { type: 'string' },
  'user-prefix': { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'mint-tokens': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  output: { type: 'string' },
  html: { type: 'string' },
  rate: { type: 'string' },
  hold: { type: 'string' },
  takeover: { type: 'string' },
  'no-reuse-streams': { type: 'boolean', default: false },
  threshold: { type: 'string', multiple: true },
  version: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** The flag behind each option, so that reports show a run's settings as its user typed them. */
export const FLAG_OF: Readonly<Record<keyof LoadOptions, string>> = {
  url: '--url',
  users: '--users',
  streamsPerUser: '--streams-per-user',
  durationS: '--duration',
  rampS: '--ramp',
  churn: '--churn',
  drop: '--drop',
  heartbeatS: '--heartbeat',
  limit: '--limit',
  concurrency: '--concurrency',
  timeoutMs: '--timeout',
  retryS: '--retry',
  settleS: '--settle',
  userPrefix: '--user-prefix',
  tokenTemplate: '--token',
  tokens: '--token-file',
  mintTokens: '--mint-tokens',
  json: '--json',
  output: '--output',
  html: '--html',
  reuseStreams: '--no-reuse-streams',
  takeover: '--takeover',
  rate: '--rate',
  holdS: '--hold',
  thresholds: '--threshold',
};

/** Every flag the command line takes (the docs check reads it). */
export const LOADTEST_FLAGS: readonly string[] = Object.keys(FLAGS).map((name) => `--${name}`);

/** The options of a run (as the bench and tests use it); asking for help or the version is a UsageError here. */
export function parseLoadOptions(argv: string[]): LoadOptions {
  const command = parseCommand(argv);
  if (command.kind !== 'run') throw new UsageError(`--${command.kind} does not run a load test`);
  return command.options;
}

export function parseCommand(argv: string[]): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof FLAGS; strict: true }>>;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: FLAGS,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };
  if (!v.url) throw new UsageError('--url is required');
  let url: URL;
  try {
    url = new URL(v.url);
  } catch {
    throw new UsageError(`--url is not a URL: ${v.url}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new UsageError('--url must start with ws:// or wss://');
  if ([v.token, v['token-file'], v['mint-tokens']].filter(Boolean).length > 1)
    throw new UsageError('give one of --token, --token-file and --mint-tokens, not both');
  let tokens: string[] | undefined;
  if (v['token-file']) {
    try {
      tokens = readFileSync(v['token-file'], 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
    } catch (error) {
      throw new UsageError(`cannot read --token-file: ${(error as Error).message}`);
    }
    if (tokens.length === 0) throw new UsageError('--token-file has no tokens');
  }
  const prefix = v['user-prefix'] ?? `lt-${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._\-:@]{1,100}$/.test(prefix))
    throw new UsageError('--user-prefix must be 1 to 100 of A-Z a-z 0-9 . _ - : @');
  if (v.output === '') throw new UsageError('--output needs a file name');
  if (v.html === '') throw new UsageError('--html needs a file name');
  if (v.rate !== undefined && v.ramp !== undefined) throw new UsageError('--ramp is for the closed model, not --rate');
  if (v.rate === undefined && v.hold !== undefined) throw new UsageError('--hold goes with --rate');
  const reuseStreams = !v['no-reuse-streams'];
  const takeover = num('takeover', v.takeover, 0, 0, 1);
  if (takeover > 0 && !reuseStreams) throw new UsageError('--takeover needs stream-id reuse (drop --no-reuse-streams)');
  const thresholds = (v.threshold ?? []).map((text) => {
    try {
      return parseThreshold(text);
    } catch (error) {
      if (error instanceof ThresholdError) throw new UsageError(`--threshold: ${error.message}`);
      throw error;
    }
  });
  const options: LoadOptions = {
    url: url.toString(),
    users: num('users', v.users, 10, 1, 1_000_000, true),
    streamsPerUser: num('streams-per-user', v['streams-per-user'], 3, 1, 1000, true),
    durationS: num('duration', v.duration, 10, 0, 86_400),
    rampS: num('ramp', v.ramp, 0, 0, 86_400),
    churn: num('churn', v.churn, 0, 0, 1),
    drop: num('drop', v.drop, 0, 0, 1),
    heartbeatS: num('heartbeat', v.heartbeat, 30, 0.1, 3600),
    limit: num('limit', v.limit, 3, 0, 1000, true),
    concurrency: num('concurrency', v.concurrency, 200, 1, 100_000, true),
    timeoutMs: num('timeout', v.timeout, 10_000, 1, 600_000, true),
    retryS: num('retry', v.retry, 1, 0, 3600),
    settleS: num('settle', v.settle, 15, 0, 3600),
    userPrefix: prefix,
    tokenTemplate: v.token,
    tokens,
    mintTokens: v['mint-tokens'] ?? false,
    json: v.json ?? false,
    output: v.output,
    html: v.html,
    reuseStreams,
    takeover,
    rate: v.rate === undefined ? undefined : num('rate', v.rate, 0, 0.01, 100_000),
    holdS: num('hold', v.hold, 10, 0.01, 86_400),
    thresholds,
  };
  return { kind: 'run', options };
}
