/**
 * What the load tester says, against the local stack on loopback: it stops at once at an address where nothing
 * listens, counts only a heartbeat's answer as one, and accounts for every socket a takeover replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/process.js';
import type { LocalStack } from '../../local/stack.js';
import { runLoad } from '../../tools/loadtest/engine.js';
import { parseLoadOptions } from '../../tools/loadtest/options.js';
import { humanReport } from '../../tools/loadtest/report.js';
import { runTsx } from '../support/cli.js';
import { startTestStack } from '../support/stack.js';

/** Runs of the load tester take seconds; on a busy 2-core machine, several times that. */
const LOAD_TIMEOUT = 90_000;

let stack: LocalStack;

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
});

afterAll(async () => stack?.stop());

describe('When the load tester is pointed at a port where nothing listens', () => {
  it('exits 2 within 5 s, naming the address, before any load', async () => {
    // Prepare
    const url = `ws://127.0.0.1:${await freePort()}`;
    const started = performance.now();

    // Act
    const { code, stdout, stderr } = await runTsx('tools/loadtest/cli.ts', ['--url', url, '--users', '2']);

    // Assess
    expect(code).toBe(2);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^loadtest: cannot connect to ${url}/? .*connection refused`)),
    ]);
    expect(stdout).toBe('');
  }, 10_000);
});

describe('When streams are taken over in place during a run', () => {
  it(
    "counts only heartbeats' answers as answers, and says where every replaced socket went",
    async () => {
      // Prepare: takeovers send `ended` frames to the replaced sockets; heartbeats are rare (one a minute)
      const options = parseLoadOptions([
        ...['--url', stack.wsUrl, '--users', '6', '--streams-per-user', '3', '--duration', '3'],
        ...['--takeover', '0.5', '--heartbeat', '60', '--settle', '20'],
      ]);

      // Act
      const report = await runLoad(options);
      const human = humanReport(report);

      // Assess: the `ended` frames are not heartbeat answers
      expect(report.takeovers.admitted).toBeGreaterThan(0);
      expect(report.heartbeats.answered).toBeLessThanOrEqual(report.heartbeats.sent);
      expect(human).toMatch(/heartbeats\s+(\d+) sent, \1 answered|heartbeats\s+0 sent, 0 answered/);
      // Assess: every replaced socket is accounted for: closed by the server before the new one opened (its close
      // frame can also arrive a moment after the new socket's 101), or after, or lingering
      const { closedBeforeOpen, closedByServer, lingering, admitted } = report.takeovers;
      expect(closedBeforeOpen + closedByServer).toBeGreaterThan(0);
      expect(lingering).toBe(0);
      expect(closedBeforeOpen + closedByServer).toBeLessThanOrEqual(admitted);
      expect(human).toContain(
        `replaced socket closed by the server before the new one opened ${closedBeforeOpen}, after it ${closedByServer}`,
      );
      expect(report.violations).toBe(0);
    },
    LOAD_TIMEOUT,
  );
});
