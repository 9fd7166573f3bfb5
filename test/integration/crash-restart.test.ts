/**
 * `npm start` as a process: killed with `kill -9` while sockets are open (data kept in DATA_DIR), then started again,
 * it leaves no user locked out and no java process behind.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { freePort, spawnUntilReady } from '../../local/process.js';
import { closed, eventually, mustOpen, openSocket } from '../support/sockets.js';
import { newUserId } from '../support/stack.js';

const dataDir = mkdtempSync(join(tmpdir(), 'streamgate-crash-'));
const started: ChildProcess[] = [];

function javaRunningFor(dir: string): boolean {
  return spawnSync('pgrep', ['-f', `dbPath ${dir}`]).status === 0;
}

async function startService(env: Record<string, string>): Promise<ChildProcess> {
  const { child } = await spawnUntilReady({ args: ['local/start.ts'], env, ready: /ready/, timeoutMs: 30_000 });
  started.push(child);
  return child;
}

afterAll(() => {
  for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('recovers from kill -9 with sockets open: nobody is locked out, no java is left', async () => {
    // Prepare
    const wsPort = await freePort();
    const env = {
      WS_PORT: String(wsPort),
      HTTP_PORT: String(await freePort()),
      DATA_DIR: dataDir,
      STREAM_LIMIT: '3',
      ADMIN_TOKEN: 'crash-test',
    };
    const wsUrl = `ws://127.0.0.1:${wsPort}`;
    const first = await startService(env);
    const users = Array.from({ length: 5 }, () => newUserId('crash'));
    const sockets: WebSocket[] = [];
    for (const userId of users) for (let i = 0; i < 3; i++) sockets.push(await mustOpen(wsUrl, { userId }));

    // Act: no `$disconnect` runs for any of the 15 sockets
    first.kill('SIGKILL');
    await Promise.all(sockets.map(closed));
    await eventually(() => !javaRunningFor(dataDir), 5000, 100);
    const second = await startService(env);
    const results = await Promise.all(users.flatMap((userId) => [0, 1, 2].map(() => openSocket(wsUrl, { userId }))));

    // Assess
    expect(results.map((r) => r.status)).toEqual(Array(15).fill(101));
    const listing = await fetch(`http://127.0.0.1:${env.HTTP_PORT}/users/${users[0]}/connections`, {
      headers: { authorization: 'Bearer crash-test' },
    }).then((r) => r.json());
    expect(listing).toMatchObject({ active: 3 });
    expect(listing.connections).toHaveLength(3);
    expect(listing.drift).toBeUndefined();

    for (const r of results) r.socket?.terminate();
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));
    expect(second.exitCode).toBe(0);
    expect(javaRunningFor(dataDir)).toBe(false);
  }, 90_000);
});
