/**
 * `--html FILE` in a real headless Chromium: the page loads from the file alone (nothing fetched), draws its three
 * charts, logs no error; a screenshot is kept in test-output/ for people to look at.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { launchBrowser, noBrowser, outputDir } from '../support/browser.js';
import { runTsx } from '../support/cli.js';
import { startTestStack } from '../support/stack.js';

/** Runs of the load tester take seconds; on a busy 2-core machine, several times that. */
const LOAD_TIMEOUT = 90_000;

let stack: LocalStack;
let browser: Browser | undefined;

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
  if (!noBrowser) browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe.skipIf(noBrowser)('load tester HTML report', () => {
  it(
    'is one self-contained file whose three charts draw without a console error',
    async () => {
      // Prepare: a short run with churn and takeovers, so every chart has something to show
      const dir = mkdtempSync(join(tmpdir(), 'lt-html-'));
      const html = join(dir, 'report.html');
      const run = await runTsx('tools/loadtest/cli.ts', [
        ...['--url', stack.wsUrl, '--users', '10', '--streams-per-user', '4', '--duration', '3'],
        ...['--churn', '0.3', '--takeover', '0.3', '--heartbeat', '1', '--threshold', 'violations==0', '--html', html],
      ]);
      expect(run.code).toBe(0);
      const source = readFileSync(html, 'utf8');
      const page = await browser!.newPage({ viewport: { width: 1100, height: 1400 } });
      const problems: string[] = [];
      const fetched: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => fetched.push(r.url()));

      // Act
      await page.goto(pathToFileURL(html).toString());
      await page.waitForFunction(() => document.body.dataset.charts === '3', undefined, { timeout: 10_000 });
      const charts = await page.evaluate(() =>
        [...document.querySelectorAll('.uplot')].map((chart) => {
          const canvas = chart.querySelector('canvas') as HTMLCanvasElement;
          const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++;
          return { title: chart.querySelector('.u-title')?.textContent, width: canvas.width, painted };
        }),
      );
      await page.screenshot({ path: join(outputDir('loadtest'), 'report.png'), fullPage: true });
      const verdict = await page.textContent('.verdict');
      const legends = await page.locator('.u-legend').allTextContents();
      const settings = await page.evaluate(() =>
        [...document.querySelectorAll('h2 + table tr')].map((tr) => tr.querySelector('th')?.textContent ?? ''),
      );
      await page.close();

      // Assess
      expect(/<script[^>]+src=|<link[^>]+href=/.test(source)).toBe(false);
      expect(fetched).toEqual([pathToFileURL(html).toString()]);
      expect(problems).toEqual([]);
      expect(charts.map((c) => c.title)).toEqual([
        'Connect latency of admitted handshakes',
        'Handshakes per second',
        'Streams held',
      ]);
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(300);
        expect(c.painted).toBeGreaterThan(500);
      }
      expect(verdict).toBe('PASS');
      // The legends name the series; no placeholder values
      expect(legends).toHaveLength(3);
      for (const legend of legends) expect(legend).not.toContain('--');
      expect(legends[0]).toContain('p99');
      // The settings as flags, only those of this (closed-model) run
      expect(settings).toEqual(expect.arrayContaining(['--url', '--users', '--streams-per-user', '--takeover']));
      for (const absent of ['--hold', '--rate', '--json', 'streamsPerUser', 'heartbeatS'])
        expect(settings).not.toContain(absent);
    },
    LOAD_TIMEOUT,
  );
});
