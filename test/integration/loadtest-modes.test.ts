/**
 * The load tester's modes against the real local stack (loopback, bounded): stream-id reuse with takeovers, the open
 * model (`--rate`), thresholds and exit codes, the per-second timeline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { type LoadReport, runLoad } from '../../tools/loadtest/engine.js';
import { parseLoadOptions } from '../../tools/loadtest/options.js';
import { runTsx } from '../support/cli.js';
import { eventually } from '../support/sockets.js';
import { startTestStack, storeFor } from '../support/stack.js';

/** Runs of the load tester take seconds; on a busy 2-core machine, several times that. */
const LOAD_TIMEOUT = 90_000;

let stack: LocalStack;
const runCli = (args: string[]) => runTsx('tools/loadtest/cli.ts', args);
const total = (r: LoadReport, key: 'attempts' | 'admitted' | 'refused' | 'errors') =>
  r.timeline.reduce((n, s) => n + s[key], 0);

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
});

afterAll(async () => stack?.stop());

describe('load tester modes', () => {
  it(
    'reuses stream ids on reconnect: takeovers are not extra streams, every open socket is counted',
    async () => {
      // Prepare
      const options = parseLoadOptions([
        ...['--url', stack.wsUrl, '--users', '8', '--streams-per-user', '3', '--duration', '4'],
        ...['--churn', '0.2', '--drop', '0.2', '--takeover', '0.6', '--heartbeat', '0.5', '--settle', '20'],
        ...['--user-prefix', 'reuse'],
      ]);
      const store = storeFor(stack);
      const seenByServer: Array<{ userId: string; active: number; counted: number; streams: string[] }> = [];
      let openSockets = -1;

      // Act
      const report = await runLoad(options, {
        onSteady: async () => {
          // A socket the tool closed a moment ago may still be on its way out of the gateway: allow a second or two.
          await eventually(() => stack.emulator.connectionCount === 24, 3000).catch(() => undefined);
          openSockets = stack.emulator.connectionCount;
          for (let i = 0; i < 8; i++) {
            const counter = await store.getCounter(`reuse-${i}`);
            seenByServer.push({
              userId: counter.userId,
              active: counter.active,
              counted: counter.counted.size,
              streams: [...counter.streams.keys()].sort(),
            });
          }
        },
      });

      // Assess: the tool's own view
      expect(report).toMatchObject({ violations: 0, lockedOut: 0, heldAtEnd: 24, maxHeldByOneUser: 3 });
      expect(report.takeovers.attempted).toBeGreaterThan(0);
      expect(report.takeovers.admitted).toBeGreaterThan(0);
      expect(report.takeovers).toMatchObject({ refused: {}, lingering: 0 });
      expect(report.reconnects).toBeGreaterThanOrEqual(report.takeovers.admitted);
      // Assess: the server's view at steady state (the oracle): each user counts exactly its three stream ids, and
      // every open socket is one of them.
      expect(openSockets).toBe(24);
      for (const [i, user] of seenByServer.entries()) {
        expect(user).toEqual({
          userId: `reuse-${i}`,
          active: 3,
          counted: 3,
          streams: [`reuse-${i}-s0`, `reuse-${i}-s1`, `reuse-${i}-s2`],
        });
      }
    },
    LOAD_TIMEOUT,
  );

  it(
    'open model: --rate starts rate x duration streams whatever the answers, then every user gets its share',
    async () => {
      // Prepare
      const options = parseLoadOptions([
        ...['--url', stack.wsUrl, '--users', '6', '--streams-per-user', '3', '--rate', '20', '--duration', '3'],
        ...['--hold', '1', '--settle', '20'],
      ]);

      // Act
      const report = await runLoad(options);

      // Assess
      expect(report).toMatchObject({ model: 'open', arrivals: 60, skipped: 0, violations: 0, lockedOut: 0 });
      expect(report).toMatchObject({ heldAtEnd: 18, expectedHeld: 18 });
      expect(report.admitted).toBeGreaterThanOrEqual(18);
      // Each of the 60 arrivals tries once, then the settle check's 18 streams (and their retries, if any)
      expect(report.attempts).toBeGreaterThanOrEqual(78);
      expect(report.timeline.length).toBeGreaterThanOrEqual(3);
      expect(total(report, 'attempts')).toBe(report.attempts);
      expect(total(report, 'admitted')).toBe(report.latencyMs.admitted.count);
    },
    LOAD_TIMEOUT,
  );

  it(
    'as a command: a missed threshold exits 1 and says which; a met one exits 0',
    async () => {
      // Prepare
      const base = ['--url', stack.wsUrl, '--users', '2', '--streams-per-user', '3', '--duration', '0', '--json'];

      // Act
      const missed = await runCli([...base, '--threshold', 'p99<0.001', '--threshold', 'violations==0']);
      const met = await runCli([...base, '--threshold', 'violations==0', '--threshold', 'held>=6']);

      // Assess
      expect(missed.code).toBe(1);
      const report = JSON.parse(missed.stdout) as LoadReport;
      expect(report.verdict).toMatchObject({ pass: false, exitCode: 1 });
      expect(report.verdict.reasons).toEqual([expect.stringMatching(/^threshold p99<0.001 missed: p99 was \d/)]);
      expect(report.verdict.thresholds.map((t) => [t.threshold, t.pass])).toEqual([
        ['p99<0.001', false],
        ['violations==0', true],
      ]);
      expect(missed.stderr).toMatch(/threshold p99<0.001\s+MISS/);
      expect(met.code).toBe(0);
      expect(JSON.parse(met.stdout)).toMatchObject({ verdict: { pass: true, exitCode: 0 } });
    },
    LOAD_TIMEOUT,
  );

  it(
    'as a command: a threshold it cannot read is bad usage (exit 2), before any load',
    async () => {
      const { code, stderr, stdout } = await runCli(['--url', stack.wsUrl, '--threshold', 'p99 < soon']);

      expect(code).toBe(2);
      expect(stderr).toMatch(/--threshold: expected a number after "p99<" in "p99 < soon"/);
      expect(stdout).toBe('');
    },
    LOAD_TIMEOUT,
  );
});
