/**
 * The console's list of accounts that look shared, in a real headless Chromium against the local stack: a viewer
 * playing from three networks at once (sockets from three loopback /24s) is listed, and a click looks them up.
 * Screenshots go to test-output/console-signals/.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LocalStack } from '../../local/stack.js';
import { launchBrowser, noBrowser, outputDir } from '../support/browser.js';
import { eventually } from '../support/sockets.js';
import { newUserId, startTestStack, supportRequest } from '../support/stack.js';

let stack: LocalStack;
let browser: Browser;
const sockets: WebSocket[] = [];
const shots = noBrowser ? '' : outputDir('console-signals');
const until = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });

function openFrom(localAddress: string, userId: string, streamId: string, device: string): Promise<WebSocket> {
  const url = new URL(stack.wsUrl);
  for (const [k, v] of Object.entries({ userId, streamId, device })) url.searchParams.set(k, v);
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { localAddress });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe.skipIf(noBrowser)('the console lists accounts that look shared', () => {
  beforeAll(async () => {
    stack = await startTestStack({
      eventsProcessor: 'on',
      streamLimit: 3,
      sharingNetworks: 2,
      adminToken: 'console-signals-token',
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    for (const s of sockets) s.terminate();
    await stack?.stop();
  });

  it('shows a viewer playing from three networks at once, and a click on them looks them up', async () => {
    // Prepare: three streams from three networks, and the signal recorded
    const userId = newUserId('shared');
    for (const [address, device] of [
      ['127.0.0.1', 'Home TV'],
      ['127.0.1.1', 'Cousin laptop'],
      ['127.0.2.1', 'Friend phone'],
    ] as const) {
      sockets.push(await openFrom(address, userId, device.toLowerCase().replace(' ', '-'), device));
    }
    await eventually(async () => {
      const res = await supportRequest(stack, { method: 'GET', path: '/signals' });
      const { signals } = (await res.json()) as { signals: Array<{ userId: string }> };
      return signals.some((s) => s.userId === userId);
    }, 15_000);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // Act
    await page.goto(`${stack.httpUrl}/console/`);
    await page.getByLabel('Staff token').fill('console-signals-token');
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Assess: listed with why and the networks
    const row = page.locator('#signals-table tbody tr', { hasText: userId });
    await until(() => row.count()).toBe(1);
    await expect(row.textContent()).resolves.toContain('streams from several networks at once');
    await expect(row.textContent()).resolves.toContain('127.0.0.0/24, 127.0.1.0/24, 127.0.2.0/24');
    await page.screenshot({ path: join(shots, '01-signals.png'), fullPage: true });

    // Act + Assess: a click on the user looks them up, with their three streams
    await row.getByRole('button', { name: userId }).click();
    await until(() => page.locator('#streams tbody tr').count()).toBe(3);
    await expect(page.locator('#user-name').textContent()).resolves.toBe(userId);
    await page.screenshot({ path: join(shots, '02-looked-up.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
