/** `npm start` as a process: what a user can fix (a bad setting, a busy port) gets one line, not a stack trace. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runTsx } from '../support/cli.js';

let busy: Server;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => new Promise((resolve) => busy.close(resolve)));

/** `npm start`'s own entry point, as the stack runs it, with extra settings. */
const runStart = (env: Record<string, string>) => runTsx('local/start.ts', [], { ...process.env, ...env });

describe('npm start', () => {
  it('exits 2 with one line on a bad setting', async () => {
    const { code, stderr, stdout } = await runStart({ WS_PORT: '99999', LIMIT_POLICY: 'evict-newest' });

    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([
      'streamgate: WS_PORT must be a port number from 0 to 65535 (0 picks a free one) (got "99999"); ' +
        'LIMIT_POLICY must be one of block-new, evict-oldest (got "evict-newest")',
    ]);
    expect(stdout).toBe('');
  });

  it.each(['IDLE_TIMEOUT_SECONDS', 'HARD_TIMEOUT_SECONDS'])(
    'exits 2 with one line on %s=2200000 (past what setTimeout can wait)',
    async (name) => {
      const { code, stderr, stdout } = await runStart({ [name]: '2200000' });

      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toEqual([
        expect.stringMatching(new RegExp(`^streamgate: ${name} must .*2200000`)),
      ]);
      expect(stdout).toBe('');
    },
  );

  it('exits 1 with one line when a port is busy', async () => {
    const port = (busy.address() as { port: number }).port;

    const { code, stderr } = await runStart({
      WS_PORT: String(port),
      HTTP_PORT: '0',
      DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
    });

    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([`streamgate: WS_PORT 127.0.0.1:${port} is already in use`]);
  }, 30_000);
});
