/**
 * `npm start` stops everything it started (DynamoDB Local's java included) on SIGTERM or SIGINT, whether the signal
 * reaches the whole process group or npm alone, and whether or not anyone still reads its output; and it ends, with
 * one line and a non-zero exit, when its DynamoDB Local dies (issue 9, defects 5 and 6).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/process.js';
import { eventually } from '../support/sockets.js';

const started: ChildProcess[] = [];

afterAll(() => {
  for (const c of started) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  httpPort: number;
}

/** `npm start` in a process group of its own, its output piped to this test, until it prints `ready`. */
async function npmStart(): Promise<Running> {
  const httpPort = await freePort();
  const child = spawn('npm', ['start', '--silent'], {
    env: { ...process.env, WS_PORT: String(await freePort()), HTTP_PORT: String(httpPort), ADMIN_TOKEN: 'stop-test' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await eventually(() => /ready/.test(output) || child.exitCode !== null, 60_000, 100);
  if (!/ready/.test(output)) throw new Error(`npm start did not get ready:\n${output}`);
  return { child, output: () => output, exited, httpPort };
}

/** Every process of the group (npm, node, java), by pid; empty once all are gone. */
function groupMembers(pgid: number): string[] {
  const out = spawnSync('pgrep', ['-g', String(pgid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean);
}

const javaOf = (pgid: number) =>
  spawnSync('pgrep', ['-g', String(pgid), 'java'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);

describe('npm start stops', () => {
  it.each([
    ['SIGTERM to the process group, with nobody reading its output any more', 'SIGTERM', 'group', true],
    ['SIGTERM to npm alone', 'SIGTERM', 'npm', false],
    ['SIGINT to npm alone, with nobody reading its output any more', 'SIGINT', 'npm', true],
  ] as const)(
    'on %s: every process it started is gone',
    async (_label, signal, target, closePipes) => {
      // Prepare
      const { child } = await npmStart();
      const pgid = child.pid!;
      expect(javaOf(pgid)).toHaveLength(1);

      // Act
      process.kill(target === 'group' ? -pgid : pgid, signal);
      if (closePipes) {
        child.stdout!.destroy();
        child.stderr!.destroy();
      }

      // Assess
      await eventually(() => groupMembers(pgid).length === 0, 15_000, 100);
    },
    90_000,
  );
});

describe('npm start and its DynamoDB Local', () => {
  it('ends with one line and a non-zero exit when the embedded DynamoDB Local dies', async () => {
    // Prepare
    const { child, output, exited } = await npmStart();
    const [java] = javaOf(child.pid!);

    // Act
    process.kill(Number(java), 'SIGKILL');
    const code = await exited;

    // Assess
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const lines = output().trim().split('\n');
    expect(lines.filter((l) => /DynamoDB Local/.test(l))).toEqual([
      expect.stringMatching(/^streamgate: the embedded DynamoDB Local \(java, pid \d+\) was killed by SIGKILL/),
    ]);
    await eventually(() => groupMembers(child.pid!).length === 0, 15_000, 100);
  }, 90_000);
});
