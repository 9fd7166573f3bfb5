/** The smoke test's command line: what it takes, from where, and what it refuses (property tests with fast-check). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Environment, parseSmokeArgs, type SmokeOptions, UsageError } from '../../tools/smoke/options.js';

const noFiles: Environment = {
  env: {},
  readFile: (file) => {
    throw Object.assign(new Error(`no ${file}`), { code: 'ENOENT' });
  },
};
const files = (contents: Record<string, string>, env: Record<string, string> = {}): Environment => ({
  env,
  readFile: (file) => {
    if (!Object.hasOwn(contents, file)) throw Object.assign(new Error(`no ${file}`), { code: 'ENOENT' });
    return contents[file]!;
  },
});

const options = (argv: string[], environment: Environment = noFiles): SmokeOptions => {
  const command = parseSmokeArgs(argv, environment);
  if (command.kind !== 'run') throw new Error('not a run');
  return command.options;
};

const host = fc.domain();
const wsUrl = fc
  .tuple(fc.constantFrom('ws', 'wss'), host, fc.constantFrom('', '/live', '/live/'))
  .map(([p, h, path]) => `${p}://${h}${path}`);
const httpUrl = fc
  .tuple(fc.constantFrom('http', 'https'), host, fc.constantFrom('', '/'))
  .map(([p, h, path]) => `${p}://${h}${path}`);
// A JWS starts with a base64url JSON header (`eyJ`), never with a dash an option parser would take for a flag.
const token = fc.stringMatching(/^eyJ[A-Za-z0-9_-]{10,40}\.[A-Za-z0-9_-]{10,40}\.[A-Za-z0-9_-]{10,40}$/);
const base = ['--ws', 'ws://127.0.0.1:3001', '--player-api', 'http://127.0.0.1:3000', '--support-api', 'http://x:1'];

describe('When the smoke test reads its command line', () => {
  it('takes any ws and http URLs and tokens, without trailing slashes', () => {
    fc.assert(
      fc.property(wsUrl, httpUrl, httpUrl, token, token, (ws, player, support, playerToken, staffToken) => {
        // Act
        const o = options([
          '--ws',
          ws,
          '--player-api',
          player,
          '--support-api',
          support,
          '--player-token',
          playerToken,
          '--staff-token',
          staffToken,
        ]);
        // Assess
        expect(o).toMatchObject({
          ws: ws.replace(/\/+$/, ''),
          playerApi: player.replace(/\/+$/, ''),
          supportApi: support.replace(/\/+$/, ''),
          player: { token: playerToken },
          staffToken,
          timeoutMs: 10_000,
          json: false,
        });
        expect(o.limit).toBeUndefined();
      }),
    );
  });

  it('takes the URLs from the cdk outputs file, the named stack or the only one, and explicit URLs over them', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/), wsUrl, httpUrl, (stack, ws, api) => {
        // Prepare
        const outputs = JSON.stringify({ [stack]: { WebSocketUrl: ws, PlayerApiUrl: api, SupportApiUrl: api } });
        const env = files({ 'out.json': outputs }, { SMOKE_PLAYER_TOKEN: 'p.t.k', SMOKE_STAFF_TOKEN: 's.t.k' });
        // Act
        const only = options(['--outputs', 'out.json'], env);
        const named = options(['--outputs', 'out.json', '--stack', stack, '--ws', 'wss://other.test/live'], env);
        // Assess
        expect(only).toMatchObject({ ws: ws.replace(/\/+$/, ''), playerApi: api.replace(/\/+$/, '') });
        expect(only).toMatchObject({ player: { token: 'p.t.k' }, staffToken: 's.t.k' });
        expect(named.ws).toBe('wss://other.test/live');
      }),
    );
  });

  it('reads tokens from the first line of a file, before the environment', () => {
    const env = files({ p: 'player.token.x\n', s: '  staff.token.y  \nsecond line' }, { SMOKE_PLAYER_TOKEN: 'env' });
    expect(options([...base, '--player-token-file', 'p', '--staff-token-file', 's'], env)).toMatchObject({
      player: { token: 'player.token.x' },
      staffToken: 'staff.token.y',
    });
  });

  it('takes --limit and --timeout as whole numbers in range only', () => {
    const run = (flag: string, value: string) =>
      options([...base, '--user', 'alice', '--staff-token', 'a', flag, value]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), (n) => {
        expect(run('--limit', String(n)).limit).toBe(n);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -1000, max: 0 }).map(String), fc.integer({ min: 101 }).map(String), fc.string()),
        (raw) => {
          fc.pre(!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 100);
          expect(() => run('--limit', raw)).toThrow(UsageError);
        },
      ),
    );
    expect(run('--timeout', '2500').timeoutMs).toBe(2500);
    expect(() => run('--timeout', '5')).toThrow(/--timeout must be a whole number from 100/);
  });

  it.each([
    [
      'no address at all',
      ['--user', 'a', '--staff-token', 's'],
      /give --outputs FILE, or --ws, --player-api, --support-api/,
    ],
    [
      'an http URL for the socket',
      [
        '--ws',
        'http://x',
        '--player-api',
        'http://x',
        '--support-api',
        'http://x',
        '--user',
        'a',
        '--staff-token',
        's',
      ],
      /--ws must be ws:\/\/ or wss:\/\//,
    ],
    ['no player', [...base, '--staff-token', 's'], /who plays\?/],
    ['both a user and a token', [...base, '--user', 'a', '--player-token', 't', '--staff-token', 's'], /either --user/],
    ['a user id outside the alphabet', [...base, '--user', 'a b', '--staff-token', 's'], /--user must be/],
    ['no staff token', [...base, '--user', 'a'], /give a staff token/],
    [
      'a token file that cannot be read',
      [...base, '--user', 'a', '--staff-token-file', 'gone'],
      /cannot read gone: ENOENT/,
    ],
    ['an outputs file that is not JSON', ['--outputs', 'x', '--user', 'a', '--staff-token', 's'], /cannot read x/],
    ['an unknown flag', [...base, '--user', 'a', '--staff-token', 's', '--color'], /Unknown option '--color'/],
  ])('refuses %s with a message saying what to give', (_name, argv, message) => {
    expect(() => parseSmokeArgs(argv, noFiles)).toThrow(UsageError);
    expect(() => parseSmokeArgs(argv, noFiles)).toThrow(message);
  });

  it('refuses an outputs file without the stack it is asked for, naming the stacks it has', () => {
    const env = files({ 'o.json': '{"streamgate-dev":{"WebSocketUrl":"wss://a/live"}}' });
    expect(() =>
      parseSmokeArgs(['--outputs', 'o.json', '--stack', 'prod', '--user', 'a', '--staff-token', 's'], env),
    ).toThrow(/no stack "prod" \(it has streamgate-dev\)/);
  });

  it('prints its usage for --help, whatever else is given', () => {
    expect(parseSmokeArgs(['--help'], noFiles)).toEqual({ kind: 'help' });
  });
});
