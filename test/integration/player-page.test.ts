/**
 * The demo player page (/player/) in a real headless Chromium with the browser's own WebSocket, against the local
 * stack: a refusal explained by the player API, a stream ended from the page, room made for a new one. Screenshots
 * of each step go to test-output/player/.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSigningKey } from '../../local/signing-key.js';
import type { LocalStack } from '../../local/stack.js';
import { launchBrowser, noBrowser, outputDir, pageErrorsOf } from '../support/browser.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

let stack: LocalStack;
let browser: Browser;
const shots = noBrowser ? '' : outputDir('player');

/** Waits for what the page shows; generous, as the machine may be busy (these are not timing assertions). */
const until = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

/** Fills the form and presses Open stream, as a viewer would. */
async function openOnPage(page: Page, streamId: string, device: string) {
  await page.getByLabel('Device', { exact: true }).fill(device);
  await page.getByLabel('Stream id (optional)', { exact: true }).fill(streamId);
  await page.getByRole('button', { name: 'Open stream' }).click();
}

/** The state cell of a stream this page opened. */
const stateOf = (page: Page, streamId: string) =>
  page.locator(`#sockets tbody tr[data-stream-id="${streamId}"] td`).nth(2).textContent();

describe.skipIf(noBrowser)('demo player page in a browser', () => {
  beforeAll(async () => {
    stack = await startTestStack({ streamLimit: 3 });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('opens four streams, shows the fourth refused with the three devices named, ends one and opens again', async () => {
    // Prepare
    const userId = newUserId('viewer');
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    // The refused handshake shows in the browser's console as a failed WebSocket: expected here, not a page error.
    const pageErrors = pageErrorsOf(page, (text) => text.includes('WebSocket connection'));
    await page.goto(`${stack.httpUrl}/player/`);
    await page.getByLabel('User id', { exact: true }).fill(userId);
    await shot(page, '01-empty');

    // Act: three streams are admitted
    const devices = [
      ['movie-1', 'Living room TV'],
      ['movie-2', 'Phone'],
      ['movie-3', 'Laptop'],
    ] as const;
    for (const [streamId, device] of devices) {
      await openOnPage(page, streamId, device);
      await until(() => stateOf(page, streamId)).toBe('playing');
    }
    await until(() => page.locator('#streams tbody tr').count()).toBe(3);
    await shot(page, '02-three-playing');

    // Act: the fourth is refused, and the page says which devices hold the slots
    await openOnPage(page, 'movie-4', 'Tablet');
    await until(() => stateOf(page, 'movie-4')).toContain('Refused');

    // Assess
    const notice = (await page.getByRole('status').textContent()) ?? '';
    expect(notice).toContain('3 of 3 screens');
    for (const [, device] of devices) expect(notice).toContain(device);
    expect(await page.locator('#summary').textContent()).toBe(
      `${userId}: 3 of 3 streams in use; at your limit, a new stream is refused.`,
    );
    await shot(page, '03-fourth-refused');

    // Act: end the phone's stream from the list of the user's streams
    await page.getByRole('button', { name: 'End stream movie-2 on Phone' }).click();

    // Assess: the phone's socket was told why before it closed, and the slot is free
    await until(() => stateOf(page, 'movie-2')).toBe('ended from your list of streams');
    await until(() => page.locator('#streams tbody tr').count()).toBe(2);
    expect(await page.locator('#log').textContent()).toContain('movie-2: ended: ended from your list of streams');
    expect((await storeFor(stack).getCounter(userId)).active).toBe(2);
    await shot(page, '04-phone-ended');

    // Act: the tablet tries again, from its refused row
    await page.getByRole('button', { name: 'Open movie-4 again on Tablet' }).click();

    // Assess: the same row, now playing (the refusal does not stay behind)
    await until(() => stateOf(page, 'movie-4')).toBe('playing');
    expect(await page.locator('#sockets tbody tr[data-stream-id="movie-4"]').count()).toBe(1);
    await until(() => page.locator('#streams tbody tr').count()).toBe(3);
    expect(await page.locator('#streams tbody').textContent()).toContain('Tablet');
    await shot(page, '05-tablet-admitted');

    // Act + Assess: a heartbeat is answered with the renewed lease
    await page.getByRole('button', { name: 'Send a heartbeat on movie-4' }).click();
    await until(() => page.locator('#log').textContent()).toContain('movie-4: heartbeat answered: lease until');
    // The frames list holds frames only: an admission is a 101, not a frame
    expect(await page.locator('#log').textContent()).not.toContain('admitted');

    // Act + Assess: closing from the page frees the slot too
    await page.getByRole('button', { name: 'Close movie-1' }).click();
    await until(() => page.locator('#streams tbody tr').count()).toBe(2);
    await shot(page, '06-closed-one');

    expect(pageErrors).toEqual([]);
    await page.close();
  });
});

/** Whether the page scrolls sideways: its content wider than the window. */
const scrollsSideways = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);

describe.skipIf(noBrowser)('demo player page on a phone (390 px wide)', () => {
  beforeAll(async () => {
    stack = await startTestStack({ streamLimit: 2 });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('shows streams, a refusal and the frames without scrolling sideways', async () => {
    // Prepare
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${stack.httpUrl}/player/`);
    await page.getByLabel('User id', { exact: true }).fill(newUserId('phone-viewer-with-a-long-name'));

    // Act: two streams with long names, and a third refused
    await openOnPage(page, 'a-stream-id-long-enough-to-wrap-1', 'Living room TV by the window');
    await until(() => stateOf(page, 'a-stream-id-long-enough-to-wrap-1')).toBe('playing');
    await openOnPage(page, 'a-stream-id-long-enough-to-wrap-2', 'Phone');
    await until(() => stateOf(page, 'a-stream-id-long-enough-to-wrap-2')).toBe('playing');
    await openOnPage(page, 'a-stream-id-long-enough-to-wrap-3', 'Tablet');
    await until(() => stateOf(page, 'a-stream-id-long-enough-to-wrap-3')).toContain('Refused');
    await page
      .getByRole('button', { name: /Send a heartbeat on/ })
      .first()
      .click();
    await until(() => page.locator('#log li').count()).toBeGreaterThan(0);
    await until(() => page.locator('#streams tbody tr').count()).toBe(2);

    // Assess
    await page.screenshot({ path: join(shots, '390-streams-and-refusal.png'), fullPage: true });
    expect(await scrollsSideways(page)).toBe(false);
    await page.close();
  });
});

describe.skipIf(noBrowser)('demo player page in jwt mode', () => {
  beforeAll(async () => {
    stack = await startTestStack({ authMode: 'jwt', streamLimit: 3, signingKey: await newSigningKey() });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('says a bad token is why a stream was refused, without a page error', async () => {
    // Prepare
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${stack.httpUrl}/player/`);
    await page.getByLabel('Token', { exact: true }).fill('not-a-token');

    // Act
    await openOnPage(page, 'movie', 'Laptop');

    // Assess
    await until(() => stateOf(page, 'movie')).toContain('you are not signed in');
    await until(() => page.locator('#summary').textContent()).toBe('Not signed in.');
    expect(await page.locator('#streams').isHidden()).toBe(true);
    await shot(page, 'jwt-bad-token');
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
