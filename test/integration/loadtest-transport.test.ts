/**
 * The load tester against servers other than the local stack: over TLS (`wss://`, with a certificate made for the
 * test) and with per-user tokens instead of dev-mode user ids. Loopback only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { runLoad } from '../../tools/loadtest/engine.js';
import { parseLoadOptions } from '../../tools/loadtest/options.js';
import { runTsx } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'lt-tls-'));
const seen: URL[] = [];
let plain: WebSocketServer;
let tls: Server;
let tlsWss: WebSocketServer;

function listen(wss: WebSocketServer) {
  wss.on('connection', (socket, req) => {
    seen.push(new URL(req.url ?? '/', 'ws://x'));
    socket.on('error', () => {});
  });
}

beforeAll(async () => {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  tls = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
  tlsWss = new WebSocketServer({ server: tls });
  listen(tlsWss);
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()));
  plain = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  listen(plain);
  await new Promise<void>((r) => plain.once('listening', () => r()));
});

afterAll(async () => {
  for (const c of [...tlsWss.clients, ...plain.clients]) c.terminate();
  await new Promise((r) => tlsWss.close(() => tls.close(r)));
  await new Promise((r) => plain.close(r));
});

const port = (s: { address(): unknown }) => (s.address() as { port: number }).port;

describe('load tester transport and identity', () => {
  it('drives wss:// (the certificate trusted through NODE_EXTRA_CA_CERTS)', async () => {
    const url = `wss://127.0.0.1:${port(tls)}`;
    const result = await runTsx(
      'tools/loadtest/cli.ts',
      ['--url', url, '--users', '4', '--streams-per-user', '1', '--limit', '1', '--duration', '0', '--json'],
      { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') },
    );

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ heldAtEnd: 4, errors: {}, violations: 0 });
  });

  it('sends ?token= from a template instead of a userId', async () => {
    seen.length = 0;
    const options = parseLoadOptions([
      '--url',
      `ws://127.0.0.1:${port(plain)}/prod`,
      '--users',
      '3',
      '--streams-per-user',
      '1',
      '--limit',
      '1',
      '--duration',
      '0',
      '--user-prefix',
      'p',
      '--token',
      'tok-{user}-{i}',
    ]);

    await runLoad(options);

    const tokens = seen.map((u) => u.searchParams.get('token')).sort();
    expect(tokens).toEqual(['tok-p-0-0', 'tok-p-1-1', 'tok-p-2-2']);
    expect(seen.every((u) => u.pathname === '/prod' && !u.searchParams.has('userId'))).toBe(true);
  });

  it('hands out tokens from a file, one per user, round robin', async () => {
    seen.length = 0;
    const file = join(dir, 'tokens.txt');
    writeFileSync(file, 'token-A\ntoken-B\n');
    const options = parseLoadOptions([
      '--url',
      `ws://127.0.0.1:${port(plain)}`,
      '--users',
      '3',
      '--streams-per-user',
      '1',
      '--limit',
      '1',
      '--duration',
      '0',
      '--token-file',
      file,
    ]);

    await runLoad(options);

    expect(seen.map((u) => u.searchParams.get('token')).sort()).toEqual(['token-A', 'token-A', 'token-B']);
  });
});
