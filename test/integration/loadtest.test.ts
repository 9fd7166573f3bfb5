/** A small, bounded run of the load tester against the local stack, on loopback only. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { type LoadReport, runLoad } from '../../tools/loadtest/engine.js';
import { parseLoadOptions } from '../../tools/loadtest/options.js';
import { runTsx } from '../support/cli.js';
import { startTestStack } from '../support/stack.js';

/** Runs of the load tester take seconds; on a busy 2-core machine, several times that. */
const LOAD_TIMEOUT = 90_000;

let stack: LocalStack;
const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const runCli = (args: string[]) => runTsx('tools/loadtest/cli.ts', args);

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
});

afterAll(async () => stack?.stop());

describe('load tester', () => {
  it(
    'holds exactly users x limit at steady state, with no violation',
    async () => {
      // Prepare
      const options = parseLoadOptions([
        '--url',
        stack.wsUrl,
        '--users',
        '20',
        '--streams-per-user',
        '5',
        '--duration',
        '1',
        '--settle',
        // Ends as soon as everyone holds its share; the margin is for a busy machine, where a handshake can time out.
        '20',
      ]);

      // Act
      const report = await runLoad(options);

      // Assess
      expect(report).toMatchObject({
        heldAtEnd: 60,
        expectedHeld: 60,
        admitted: 60,
        violations: 0,
        lockedOut: 0,
        maxHeldByOneUser: 3,
      });
      expect(report.rejected['429']).toBeGreaterThan(0);
      expect(report.latencyMs.admitted.count).toBe(60);
    },
    LOAD_TIMEOUT,
  );

  it(
    'survives churn and abrupt drops: still no violation, and every user back at the limit',
    async () => {
      // Prepare
      const options = parseLoadOptions([
        '--url',
        stack.wsUrl,
        '--users',
        '15',
        '--streams-per-user',
        '4',
        '--duration',
        '3',
        '--churn',
        '0.3',
        '--drop',
        '0.3',
        '--heartbeat',
        '0.5',
        '--settle',
        '15',
      ]);

      // Act
      const report = await runLoad(options);

      // Assess
      expect(report).toMatchObject({ heldAtEnd: 45, violations: 0, lockedOut: 0 });
      expect(report.admitted).toBeGreaterThan(45);
      expect(report.heartbeats.sent).toBeGreaterThan(0);
      expect(report.heartbeats.answered).toBeGreaterThan(0);
    },
    LOAD_TIMEOUT,
  );

  it(
    'as a command: the human report on stderr, one JSON object on stdout, exit 0',
    async () => {
      const { code, stdout, stderr } = await runCli([
        '--url',
        stack.wsUrl,
        '--users',
        '5',
        '--streams-per-user',
        '4',
        '--duration',
        '1',
        '--json',
      ]);

      expect(code).toBe(0);
      const report = JSON.parse(stdout) as LoadReport;
      expect(report).toMatchObject({ users: 5, heldAtEnd: 15, violations: 0 });
      expect(stderr).toMatch(/limit violations\s+0/);
      expect(stdout.trim().split('\n')).toHaveLength(1);
    },
    LOAD_TIMEOUT,
  );

  it(
    'as a command: exits 1 when clients see more streams than --limit allows',
    async () => {
      // The server allows 3; telling the tool the limit is 2 makes every full user a violation.
      const { code, stdout } = await runCli([
        '--url',
        stack.wsUrl,
        '--users',
        '2',
        '--streams-per-user',
        '3',
        '--duration',
        '1',
        '--limit',
        '2',
        '--json',
      ]);

      expect(code).toBe(1);
      expect(JSON.parse(stdout)).toMatchObject({ violations: 2, maxHeldByOneUser: 3 });
    },
    LOAD_TIMEOUT,
  );

  it(
    'as a command: --output writes the report to a file, stdout stays empty without --json',
    async () => {
      // Prepare
      const file = join(mkdtempSync(join(tmpdir(), 'lt-out-')), 'report.json');

      // Act
      const { code, stdout, stderr } = await runCli([
        '--url',
        stack.wsUrl,
        '--users',
        '2',
        '--streams-per-user',
        '3',
        '--duration',
        '0',
        '--output',
        file,
      ]);

      // Assess
      expect(code).toBe(0);
      expect(stdout).toBe('');
      expect(stderr).toContain(`report written to ${file}`);
      const report = JSON.parse(readFileSync(file, 'utf8')) as LoadReport;
      expect(report).toMatchObject({
        tool: { name: 'streamgate-loadtest', version: packageVersion },
        settings: { users: 2, streamsPerUser: 3, output: file },
        verdict: { pass: true, exitCode: 0, reasons: [] },
        heldAtEnd: 6,
      });
      expect(Date.parse(report.startedAt)).toBeGreaterThan(Date.now() - 60_000);
    },
    LOAD_TIMEOUT,
  );

  it(
    'as a command: exits 2 before any load when --output cannot be written',
    async () => {
      const { code, stderr } = await runCli(['--url', stack.wsUrl, '--output', '/nonexistent-dir/report.json']);

      expect(code).toBe(2);
      expect(stderr).toMatch(/--output: cannot write/);
    },
    LOAD_TIMEOUT,
  );

  it(
    'as a command: --help and --version on stdout, exit 0',
    async () => {
      const help = await runCli(['--help']);
      const version = await runCli(['--version']);

      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toMatch(/^usage: npm run loadtest/);
      expect(version).toMatchObject({ code: 0, stdout: `streamgate-loadtest ${packageVersion}\n`, stderr: '' });
    },
    LOAD_TIMEOUT,
  );

  it(
    'as a command: exits 2 with the usage on a bad flag',
    async () => {
      const { code, stderr, stdout } = await runCli(['--url', 'http://nope']);

      expect(code).toBe(2);
      expect(stderr).toMatch(/usage: npm run loadtest/);
      expect(stdout).toBe('');
    },
    LOAD_TIMEOUT,
  );
});
