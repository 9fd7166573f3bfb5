/**
 * The support console in a real headless Chromium against the local stack: real `ws` players, the real support API.
 * Screenshots of each step go to test-output/console/.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { failedLoad, launchBrowser, noBrowser, outputDir, pageErrorsOf } from '../support/browser.js';
import { Players } from '../support/players.js';
import { closed } from '../support/sockets.js';
import { newUserId, startTestStack } from '../support/stack.js';

let stack: LocalStack;
let browser: Browser;
const players = new Players(() => stack);
const shots = noBrowser ? '' : outputDir('console');

/** Waits for what the page shows; generous, as the machine may be busy (these are not timing assertions). */
const until = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

describe.skipIf(noBrowser)('support console in a browser', () => {
  beforeAll(async () => {
    stack = await startTestStack({ streamLimit: 3, adminToken: 'console-test-token' });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    players.endAll();
    await stack?.stop();
  });

  it('signs in, ends one of three streams, raises the limit to 5 and shows both in the history', async () => {
    // Prepare: a viewer holding three streams from real sockets
    const userId = newUserId('viewer');
    const held = [];
    for (const [streamId, device] of [
      ['movie-1', 'Living room TV'],
      ['movie-2', 'Phone'],
      ['movie-3', 'Laptop'],
    ] as const) {
      held.push(await players.openWithId({ userId, streamId, device }));
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    // Refused requests show in the browser's console as failed loads: expected here, not page errors.
    const pageErrors = pageErrorsOf(page, failedLoad);
    await page.goto(`${stack.httpUrl}/console/`);
    await shot(page, '01-sign-in');

    // Act + Assess: a wrong token is refused with a clear message
    await page.getByLabel('Staff token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(() => page.getByRole('alert').textContent()).toContain('not accepted');
    await shot(page, '02-wrong-token');

    // Sign in with the keyboard only: the token field has focus, Enter submits
    await page.getByLabel('Staff token').fill(stack.adminToken);
    await page.keyboard.press('Enter');
    await page.getByLabel('User id').waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('user-id');

    // Look the user up: three streams
    await page.keyboard.type(userId);
    await page.keyboard.press('Enter');
    const rows = page.locator('#streams tbody tr');
    await until(() => rows.count()).toBe(3);
    expect(await page.locator('#fact-active').textContent()).toBe('3');
    expect(await page.locator('#fact-limit').textContent()).toBe('3');
    expect(await rows.first().textContent()).toContain('movie-3'); // newest first
    expect(await rows.first().textContent()).toContain('127.0.0.1');
    await shot(page, '03-user-three-streams');

    // End movie-2, after confirming
    const victim = held[1]!;
    const victimClosed = closed(victim.socket);
    await page.getByRole('button', { name: 'End stream movie-2 on Phone' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('movie-2');
    await shot(page, '04-confirm-end');
    await dialog.getByRole('button', { name: 'End stream' }).click();
    expect((await victimClosed).code).toBe(1000);
    await until(() => rows.count()).toBe(2);
    expect(await page.locator('#streams tbody').textContent()).not.toContain('movie-2');
    await shot(page, '05-stream-ended');

    // Raise the limit to 5: two more connects are admitted
    await page.getByLabel('Override (0 to 100 streams)').fill('5');
    await page.getByRole('button', { name: 'Set limit' }).click();
    await until(() => page.locator('#fact-limit').textContent()).toBe('5');
    expect(await page.locator('#fact-override').textContent()).toBe('5');
    const more = [
      await players.open({ userId, streamId: 'movie-4', device: 'Tablet' }),
      await players.open({ userId, streamId: 'movie-5', device: 'Bedroom TV' }),
    ];
    expect(more.map((m) => m.status)).toEqual([101, 101]);
    await until(() => rows.count()).toBe(4); // the table refreshes on its own

    // Both actions in the history, newest first
    const history = page.locator('#history tbody tr');
    await until(() => history.count()).toBe(2);
    expect(await history.nth(0).textContent()).toContain('Set the limit');
    expect(await history.nth(0).textContent()).toContain('limit: 5');
    expect(await history.nth(1).textContent()).toContain('Ended a stream');
    expect(await history.nth(1).textContent()).toContain('movie-2');
    expect(await history.nth(1).textContent()).toContain('local:admin-token');
    await shot(page, '06-limit-5-and-history');

    // The policy at the limit: shown, and set to evict-oldest for this user
    expect(await page.locator('#fact-policy').textContent()).toBe("block-new (the service's)");
    expect(await page.getByRole('button', { name: "Back to the service's" }).isDisabled()).toBe(true);
    await page.getByLabel('When a new stream would pass the limit').selectOption('evict-oldest');
    await page.getByRole('button', { name: 'Set policy' }).click();
    await until(() => page.locator('#fact-policy').textContent()).toBe('evict-oldest (staff override)');
    await until(() => history.count()).toBe(3);
    expect(await history.nth(0).textContent()).toContain('Set the policy');
    expect(await history.nth(0).textContent()).toContain('policy: evict-oldest');
    await shot(page, '06b-policy-evict-oldest');

    // The override cleared: back to the service's policy, on record
    await page.getByRole('button', { name: "Back to the service's" }).click();
    await until(() => page.locator('#fact-policy').textContent()).toBe("block-new (the service's)");
    await until(() => history.count()).toBe(4);
    expect(await history.nth(0).textContent()).toContain("Back to the service's policy");
    expect((await stack.runtime.store.getCounter(userId)).policyOverride).toBeUndefined();
    await shot(page, '06c-policy-cleared');

    // A narrow screen: the same page, tables as cards
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, '07-narrow');
    await page.screenshot({ path: join(shots, '390-user-streams-history.png'), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);

    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('says so when a user has no streams, and sends the person back to sign in when the token stops working', async () => {
    // Prepare
    const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    await page.goto(`${stack.httpUrl}/console/`);
    await page.getByLabel('Staff token').fill(stack.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Act: a user nobody has seen
    await page.getByLabel('User id').fill(newUserId('nobody'));
    await page.getByRole('button', { name: 'Look up' }).click();

    // Assess
    await until(() => page.locator('#streams-empty').textContent()).toContain('No live streams');
    await until(() => page.locator('#history-empty').isVisible()).toBe(true);
    await shot(page, '08-no-streams');

    // Act: a bad user id is refused before any request
    await page.getByLabel('User id').fill('not a user id');
    await page.getByRole('button', { name: 'Look up' }).click();
    await until(() => page.getByRole('alert').textContent()).toContain('1 to 128');

    // Act: the token in the tab goes stale (as an expired one would)
    await page.evaluate(() => sessionStorage.setItem('streamgate.console.token', 'expired'));
    await page.getByLabel('User id').fill('alice');
    await page.getByRole('button', { name: 'Look up' }).click();

    // Assess
    await until(() => page.getByRole('alert').textContent()).toContain('Sign in again');
    expect(await page.getByLabel('Staff token').isVisible()).toBe(true);
    await shot(page, '09-token-refused');
    await page.close();
  });
});
