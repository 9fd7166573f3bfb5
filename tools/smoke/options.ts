/** The smoke test's command line (`npm run smoke -- --help`): where the deployment is, and who plays and who is staff. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface SmokeOptions {
  /** the players' WebSocket API: `wss://…/live` in AWS, `ws://127.0.0.1:3001` locally */
  ws: string;
  /** the player API and the support API, without a trailing slash */
  playerApi: string;
  supportApi: string;
  /** the player: a token (jwt mode, AWS), or a user id (a local stack in dev mode) */
  player: { token: string } | { userId: string };
  /** a staff token (jwt mode), or the local stack's ADMIN_TOKEN (dev mode) */
  staffToken: string;
  /** the limit the player must have; absent: whatever the player API says */
  limit?: number;
  /** how long one step may take */
  timeoutMs: number;
  json: boolean;
  output?: string;
}

export type Command = { kind: 'run'; options: SmokeOptions } | { kind: 'help' };

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage: npm run smoke -- --outputs cdk-outputs.json [options]
       npm run smoke -- --ws URL --player-api URL --support-api URL [options]

Checks a deployment end to end: opens the player's limit of streams and one more (refused), asks the player API
why, ends one, admits one in its place, checks the staff listing and a kick, and closes everything. Exit 0 only if
every step passed; 1 names the step that failed; 2 bad usage.

where
  --outputs FILE          what \`npx cdk deploy --outputs-file FILE\` wrote (WebSocketUrl, PlayerApiUrl, SupportApiUrl)
  --stack NAME            the stack in that file (default: the only one, else streamgate)
  --ws URL                the WebSocket API (ws:// or wss://); overrides --outputs
  --player-api URL        the player API (http:// or https://); overrides --outputs
  --support-api URL       the support API (http:// or https://); overrides --outputs

who (a token on the command line lands in your shell history: prefer the files or the environment)
  --player-token-file F   a player's token (or SMOKE_PLAYER_TOKEN, or --player-token T)
  --staff-token-file F    a staff token (or SMOKE_STAFF_TOKEN, or --staff-token T); locally in dev mode, the
                          ADMIN_TOKEN npm start printed
  --user U                a local stack in dev mode: play as user U instead of a token

and
  --limit N               the limit the player must have (default: what the player API says)
  --timeout MS            per step (default 10000)
  --json                  the report as one JSON object on stdout (the human one is on stderr)
  --output FILE           write the JSON report to FILE
  --help                  this text`;

const URL_PROTOCOLS = { ws: ['ws:', 'wss:'], http: ['http:', 'https:'] } as const;

function url(flag: string, raw: string, kind: keyof typeof URL_PROTOCOLS): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UsageError(`${flag} must be a URL, not ${JSON.stringify(raw)}`);
  }
  if (!(URL_PROTOCOLS[kind] as readonly string[]).includes(parsed.protocol)) {
    throw new UsageError(`${flag} must be ${URL_PROTOCOLS[kind].map((p) => `${p}//`).join(' or ')}`);
  }
  return raw.replace(/\/+$/, '');
}

function wholeNumber(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/** The URLs `cdk deploy --outputs-file` wrote, from the named stack or the only one. */
export function fromOutputs(text: string, stack?: string): { ws?: string; playerApi?: string; supportApi?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError('--outputs is not JSON (write it with npx cdk deploy --outputs-file FILE)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError('--outputs holds no stack');
  }
  const stacks = parsed as Record<string, unknown>;
  const names = Object.keys(stacks);
  const name = stack ?? (names.length === 1 ? names[0] : 'streamgate');
  const outputs = name !== undefined && Object.hasOwn(stacks, name) ? stacks[name] : undefined;
  if (typeof outputs !== 'object' || outputs === null) {
    throw new UsageError(`--outputs has no stack ${JSON.stringify(name)} (it has ${names.join(', ') || 'none'})`);
  }
  const o = outputs as Record<string, unknown>;
  const text_ = (key: string) => (typeof o[key] === 'string' ? (o[key] as string) : undefined);
  return { ws: text_('WebSocketUrl'), playerApi: text_('PlayerApiUrl'), supportApi: text_('SupportApiUrl') };
}

/** Reads a token file: its first line, trimmed. */
const tokenFrom = (read: (file: string) => string, flag: string, file: string) => {
  let text: string;
  try {
    text = read(file);
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const token = text.split('\n')[0]?.trim() ?? '';
  if (token === '') throw new UsageError(`${flag}: ${file} is empty`);
  return token;
};

export interface Environment {
  env: Record<string, string | undefined>;
  readFile: (file: string) => string;
}

const defaultEnvironment: Environment = {
  env: process.env,
  readFile: (file) => readFileSync(file, 'utf8'),
};

export function parseSmokeArgs(argv: string[], { env, readFile }: Environment = defaultEnvironment): Command {
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse(argv));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return { kind: 'help' };

  const outputs = values.outputs === undefined ? {} : fromOutputs(readOrFail(readFile, values.outputs), values.stack);
  const ws = values.ws ?? outputs.ws;
  const playerApi = values['player-api'] ?? outputs.playerApi;
  const supportApi = values['support-api'] ?? outputs.supportApi;
  const missing = [
    ws === undefined && '--ws',
    playerApi === undefined && '--player-api',
    supportApi === undefined && '--support-api',
  ].filter(Boolean);
  if (missing.length > 0) throw new UsageError(`give --outputs FILE, or ${missing.join(', ')}`);

  const playerToken =
    values['player-token'] ??
    (values['player-token-file'] !== undefined
      ? tokenFrom(readFile, '--player-token-file', values['player-token-file'])
      : env.SMOKE_PLAYER_TOKEN || undefined);
  if (values.user !== undefined && playerToken !== undefined) {
    throw new UsageError('give either --user (dev mode) or a player token, not both');
  }
  if (values.user !== undefined && !/^[A-Za-z0-9._\-:@]{1,128}$/.test(values.user)) {
    throw new UsageError('--user must be 1 to 128 of A-Z a-z 0-9 . _ - : @');
  }
  if (values.user === undefined && playerToken === undefined) {
    throw new UsageError('who plays? give --player-token-file F (or SMOKE_PLAYER_TOKEN), or --user U in dev mode');
  }
  const staffToken =
    values['staff-token'] ??
    (values['staff-token-file'] !== undefined
      ? tokenFrom(readFile, '--staff-token-file', values['staff-token-file'])
      : env.SMOKE_STAFF_TOKEN || undefined);
  if (staffToken === undefined) {
    throw new UsageError('give a staff token: --staff-token-file F (or SMOKE_STAFF_TOKEN; dev mode: the ADMIN_TOKEN)');
  }

  return {
    kind: 'run',
    options: {
      ws: url('--ws', ws as string, 'ws'),
      playerApi: url('--player-api', playerApi as string, 'http'),
      supportApi: url('--support-api', supportApi as string, 'http'),
      player: values.user !== undefined ? { userId: values.user } : { token: playerToken as string },
      staffToken,
      ...(values.limit === undefined ? {} : { limit: wholeNumber('--limit', values.limit, 1, 100) }),
      timeoutMs: values.timeout === undefined ? 10_000 : wholeNumber('--timeout', values.timeout, 100, 600_000),
      json: values.json,
      ...(values.output === undefined ? {} : { output: values.output }),
    },
  };
}

function readOrFail(readFile: (file: string) => string, file: string): string {
  try {
    return readFile(file);
  } catch (error) {
    throw new UsageError(`--outputs: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      outputs: { type: 'string' },
      stack: { type: 'string' },
      ws: { type: 'string' },
      'player-api': { type: 'string' },
      'support-api': { type: 'string' },
      'player-token': { type: 'string' },
      'player-token-file': { type: 'string' },
      'staff-token': { type: 'string' },
      'staff-token-file': { type: 'string' },
      user: { type: 'string' },
      limit: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      output: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
}
