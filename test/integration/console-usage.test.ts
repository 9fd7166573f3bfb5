/**
 * The console's usage charts in a real headless Chromium against the local stack, its events processor writing the
 * usage: a viewer holds two streams and is refused a third at the limit, then the user's "Last 7 days" chart and the
 * service overview show what happened, and the signals list still lists them (refused more than the service allows).
 * Screenshots go to test-output/console-usage/.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { failedLoad, launchBrowser, noBrowser, outputDir, pageErrorsOf } from '../support/browser.js';
import { Players } from '../support/players.js';
import { eventually } from '../support/sockets.js';
import { newUserId, startTestStack, supportRequest } from '../support/stack.js';

const TOKEN = 'console-usage-token';
let stack: LocalStack;
let browser: Browser;
const players = new Players(() => stack);
const shots = noBrowser ? '' : outputDir('console-usage');

/** Waits for what the page shows; generous, as the machine may be busy (these are not timing assertions). */
const until = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

/** How far the page scrolls sideways (0: it fits). */
const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

/** Whether the chart's canvas fits inside its box (the box clips, so an unresized chart would be cut, not scroll). */
const chartFits = (page: Page, id: string) =>
  page.locator(`#${id} canvas`).evaluate((canvas) => {
    const box = canvas.closest('.chart')!.getBoundingClientRect();
    return canvas.getBoundingClientRect().right <= box.right;
  });

const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

interface Usage {
  active: number;
  hours: Array<{ hour: string; peak: number; refusals: number; admissions: number }>;
}

async function usage(path: string): Promise<Usage> {
  const res = await supportRequest(stack, { method: 'GET', path });
  expect(res.status, path).toBe(200);
  return (await res.json()) as Usage;
}

const sum = (u: Usage, key: 'refusals' | 'admissions') => u.hours.reduce((n, h) => n + h[key], 0);
const peak = (u: Usage) => Math.max(0, ...u.hours.map((h) => h.peak));

/** A signed-in console page that records the page's errors (a refused load is the browser's, not the page's). */
async function signedIn(): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = pageErrorsOf(page, failedLoad);
  await page.goto(`${stack.httpUrl}/console/`);
  await page.getByLabel('Staff token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await until(() => page.locator('#lookup').isVisible()).toBe(true);
  return { page, pageErrors };
}

async function lookUp(page: Page, userId: string) {
  await page.getByLabel('User id').fill(userId);
  await page.getByRole('button', { name: 'Look up' }).click();
  await until(() => page.locator('#user-name').textContent()).toBe(userId);
}

describe.skipIf(noBrowser)("the console's usage charts", () => {
  const viewer = newUserId('usage');

  beforeAll(async () => {
    stack = await startTestStack({
      eventsProcessor: 'on',
      streamLimit: 2,
      // Two refusals a day are more than the service allows: the viewer shows in the signals list too.
      sharingRefusalsPerDay: 1,
      adminToken: TOKEN,
    });
    browser = await launchBrowser();
    // Two streams admitted, two more refused at the limit; then the processor's usage written for all four.
    await players.openWithId({ userId: viewer, streamId: 'film-1', device: 'Living room TV' });
    await players.openWithId({ userId: viewer, streamId: 'film-2', device: 'Phone' });
    for (const streamId of ['film-3', 'film-4']) {
      expect((await players.open({ userId: viewer, streamId, device: 'Laptop' })).status).toBe(429);
    }
    await eventually(async () => {
      const u = await usage(`/users/${viewer}/usage?${lastWeek()}`);
      return peak(u) === 2 && sum(u, 'refusals') === 2;
    }, 20_000);
  });

  afterAll(async () => {
    await browser?.close();
    players.endAll();
    await stack?.stop();
  });

  it("draws a user's last 7 days: a chart, and a sentence with the peak and the refusals", async () => {
    // Prepare
    const { page, pageErrors } = await signedIn();

    // Act
    await lookUp(page, viewer);

    // Assess: uPlot drew into the chart, and the sentence says the peak and refusals the sockets produced
    const summary = page.locator('#usage-summary');
    await until(() => summary.isVisible()).toBe(true);
    await expect(summary.textContent()).resolves.toMatch(/peak 2 streams at once\b.*, 2 refusals, 2 streams started/);
    await expect(page.locator('#usage-chart canvas').count()).resolves.toBe(1);
    await expect(page.locator('#usage-chart .u-legend').textContent()).resolves.toContain('refusals');
    await expect(page.locator('#usage-empty').isVisible()).resolves.toBe(false);
    await page.locator('#usage-chart').scrollIntoViewIfNeeded();
    await shot(page, '01-user-last-7-days');

    // Act + Assess: on a phone the chart narrows with the page, which does not scroll sideways
    await page.setViewportSize({ width: 390, height: 844 });
    await until(() => chartFits(page, 'usage-chart')).toBe(true);
    await expect(overflow(page)).resolves.toBeLessThanOrEqual(0);
    await page.locator('#usage-chart').scrollIntoViewIfNeeded();
    await shot(page, '01b-user-last-7-days-390');
    expect(pageErrors).toEqual([]);
  });

  it('says so, instead of an empty chart, for a user with nothing in 7 days', async () => {
    // Prepare
    const { page, pageErrors } = await signedIn();
    const nobody = newUserId('quiet');

    // Act
    await lookUp(page, nobody);

    // Assess
    const empty = page.locator('#usage-empty');
    await until(() => empty.textContent()).toBe(`No streams and no refusals for ${nobody} in the last 7 days.`);
    await expect(page.locator('#usage-chart').isVisible()).resolves.toBe(false);
    await shot(page, '02-user-quiet');
    expect(pageErrors).toEqual([]);
  });

  it('shows the service overview from the header: streams now, the refusals of this hour, a chart and a table', async () => {
    // Prepare: the viewer looked up; what the API says of the service's last 24 hours (the hour may have turned
    // since the refusals)
    const { page, pageErrors } = await signedIn();
    await lookUp(page, viewer);
    await until(() => page.locator('#usage-chart canvas').count()).toBe(1);
    const service = await usage(`/usage?${lastHours(24)}`);
    const thisHour = service.hours.at(-1)!;

    // Act
    await page.getByRole('link', { name: 'Service overview' }).click();

    // Assess
    await until(() => page.locator('#overview-active').textContent()).toBe('2');
    await expect(page.locator('#overview-refusals-hour').textContent()).resolves.toBe(String(thisHour.refusals));
    await expect(page.locator('#overview-refusals').textContent()).resolves.toBe('2');
    await expect(page.locator('#overview-peak').textContent()).resolves.toMatch(/^2 \(/);
    await expect(page.locator('#overview-chart canvas').count()).resolves.toBe(1);
    const rows = page.locator('#overview-table tbody tr');
    await expect(rows.count()).resolves.toBe(24);
    await expect(rows.first().locator('td[data-label="Refused"]').textContent()).resolves.toBe(
      String(thisHour.refusals),
    );
    await expect(page.locator('#lookup').isVisible()).resolves.toBe(false);
    await expect(page.getByRole('link', { name: 'Service overview' }).getAttribute('aria-current')).resolves.toBe(
      'page',
    );
    await shot(page, '03-overview');
    await page.setViewportSize({ width: 390, height: 844 });
    await until(() => chartFits(page, 'overview-chart')).toBe(true);
    await expect(overflow(page)).resolves.toBeLessThanOrEqual(0);
    await shot(page, '03b-overview-390');

    // Act + Assess: Refresh reads the service's usage again
    const [again] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/usage'),
      page.locator('#refresh-overview').click(),
    ]);
    expect(again.status()).toBe(200);
    await until(() => page.locator('#refresh-overview').isEnabled()).toBe(true);
    await expect(page.locator('#overview-active').textContent()).resolves.toBe('2');

    // Act + Assess: back to the users view, the lookup and the user's chart are there, fitted to the width the
    // window took while they were hidden
    await page.getByRole('link', { name: 'Users' }).click();
    await until(() => page.locator('#lookup').isVisible()).toBe(true);
    await expect(page.locator('#overview').isVisible()).resolves.toBe(false);
    await expect(page.locator('#user-name').textContent()).resolves.toBe(viewer);
    await until(() => chartFits(page, 'usage-chart')).toBe(true);
    await expect(overflow(page)).resolves.toBeLessThanOrEqual(0);
    expect(pageErrors).toEqual([]);
  });

  it('still lists the signals: the viewer refused more often than the service allows', async () => {
    // Prepare
    await eventually(async () => {
      const res = await supportRequest(stack, { method: 'GET', path: '/signals' });
      const { signals } = (await res.json()) as { signals: Array<{ userId: string }> };
      return signals.some((s) => s.userId === viewer);
    }, 15_000);

    // Act
    const { page, pageErrors } = await signedIn();

    // Assess
    const row = page.locator('#signals-table tbody tr', { hasText: viewer });
    await until(() => row.count()).toBe(1);
    await expect(row.textContent()).resolves.toContain('refused at the limit again and again');
    await shot(page, '04-signals');
    expect(pageErrors).toEqual([]);
  });
});

const HOUR_MS = 3_600_000;

/** `from` and `to` of the last `hours` whole hours, this one included, as the console asks. */
function lastHours(hours: number): string {
  const to = Math.floor(Date.now() / HOUR_MS) * HOUR_MS + HOUR_MS;
  return `from=${new Date(to - hours * HOUR_MS).toISOString()}&to=${new Date(to).toISOString()}`;
}

const lastWeek = () => lastHours(7 * 24);
