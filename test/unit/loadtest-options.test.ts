import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommand, parseLoadOptions, UsageError } from '../../tools/loadtest/options.js';

describe('parseLoadOptions', () => {
  it('reads the contract flags and applies defaults', () => {
    const o = parseLoadOptions(['--url', 'ws://127.0.0.1:3001', '--users', '200', '--streams-per-user', '5', '--json']);

    expect(o).toMatchObject({
      url: 'ws://127.0.0.1:3001/',
      users: 200,
      streamsPerUser: 5,
      durationS: 10,
      churn: 0,
      drop: 0,
      limit: 3,
      json: true,
    });
    expect(o.userPrefix).toMatch(/^lt-[0-9a-f]{6}$/);
  });

  it('asks for the help or the version without needing --url', () => {
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommand(['-h', '--url', 'nope'])).toEqual({ kind: 'help' });
    expect(parseCommand(['--version'])).toEqual({ kind: 'version' });
  });

  it('takes a file for the JSON report', () => {
    const o = parseLoadOptions(['--url', 'ws://h', '--output', 'report.json']);

    expect(o.output).toBe('report.json');
  });

  it('reuses stream ids by default; --no-reuse-streams turns it off', () => {
    expect(parseLoadOptions(['--url', 'ws://h'])).toMatchObject({ reuseStreams: true, takeover: 0, rate: undefined });
    expect(parseLoadOptions(['--url', 'ws://h', '--no-reuse-streams'])).toMatchObject({ reuseStreams: false });
  });

  it('reads the open model, thresholds and the HTML report', () => {
    const o = parseLoadOptions([
      '--url',
      'ws://h',
      '--rate',
      '50',
      '--hold',
      '2.5',
      '--threshold',
      'p99<500',
      '--threshold',
      'violations==0',
      '--html',
      'r.html',
      '--takeover',
      '0.1',
    ]);

    expect(o).toMatchObject({ rate: 50, holdS: 2.5, html: 'r.html', takeover: 0.1 });
    expect(o.thresholds.map((t) => [t.metric, t.op, t.value])).toEqual([
      ['p99', '<', 500],
      ['violations', '==', 0],
    ]);
  });

  it('reads tokens from a file, one per line', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lt-')), 'tokens');
    writeFileSync(file, 'tok-a\n\ntok-b\n');

    const { tokens } = parseLoadOptions(['--url', 'wss://x.example/prod', '--token-file', file]);

    expect(tokens).toEqual(['tok-a', 'tok-b']);
  });

  it.each([
    [[], /--url is required/],
    [['--url', 'http://127.0.0.1'], /ws:\/\/ or wss:\/\//],
    [['--url', 'ws://h', '--users', '0'], /--users/],
    [['--url', 'ws://h', '--users', '2.5'], /whole number/],
    [['--url', 'ws://h', '--drop', '1.5'], /--drop/],
    [['--url', 'ws://h', '--churn', 'lots'], /--churn/],
    [['--url', 'ws://h', '--token', 't', '--token-file', 'f'], /not both/],
    [['--url', 'ws://h', '--token', 't', '--mint-tokens'], /not both/],
    [['--url', 'ws://h', '--bogus'], /bogus/],
    [['--url', 'ws://h', '--output', ''], /--output needs a file name/],
    [['--url', 'ws://h', '--html', ''], /--html needs a file name/],
    [['--url', 'ws://h', '--rate', '0'], /--rate must be a number from 0.01/],
    [['--url', 'ws://h', '--rate', '5', '--ramp', '2'], /--ramp is for the closed model/],
    [['--url', 'ws://h', '--hold', '5'], /--hold goes with --rate/],
    [['--url', 'ws://h', '--takeover', '0.1', '--no-reuse-streams'], /--takeover needs stream-id reuse/],
    [['--url', 'ws://h', '--threshold', 'p98<5'], /--threshold: unknown metric "p98"/],
    [['--url', 'ws://h', '--threshold', 'violations=0'], /use ==/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseLoadOptions(argv)).toThrow(UsageError);
    expect(() => parseLoadOptions(argv)).toThrow(message);
  });
});
