/**
 * The video.js adapter (client/videojs.ts) on the video.js page (/watch/) in headless Chromium, with a real `<video>`
 * playing the committed test clip served by the local stack: it plays once admitted, is refused with the holders
 * listed, ends one of them from the page and plays, and pauses with the reason when support kicks it. Screenshots go
 * to test-output/videojs/.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openStream } from '../../client/index.js';
import type { Stream, StreamEvents } from '../../client/types.js';
import type { LocalStack } from '../../local/stack.js';
import { launchBrowser, noBrowser, outputDir } from '../support/browser.js';
import { invariantViolations } from '../support/oracle.js';
import { newUserId, startTestStack, storeFor, supportRequest } from '../support/stack.js';

let stack: LocalStack;
let browser: Browser;
const shots = noBrowser ? '' : outputDir('videojs');
const LIMIT = 2;

const until = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });
const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

/** The page's `<video>`: where it is, and whether it is playing. */
const video = (page: Page) =>
  page.evaluate(() => {
    const v = document.querySelector('video')!;
    return { time: v.currentTime, paused: v.paused };
  });

/** Playing for real: not paused, and the clip's time moves on. */
async function expectPlaying(page: Page) {
  await until(async () => (await video(page)).time).toBeGreaterThan(0.3);
  const before = (await video(page)).time;
  await until(async () => (await video(page)).time).toBeGreaterThan(before + 0.3);
  expect((await video(page)).paused).toBe(false);
}

const overlay = (page: Page) => page.locator('.streamgate-overlay');

async function openPage(userId: string, device: string, streamId: string, errors: string[]) {
  const page = await browser.newPage({ viewport: { width: 760, height: 640 } });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // A refused handshake shows as a failed WebSocket in the console: expected here.
    if (m.type() === 'error' && !m.text().includes('WebSocket connection')) errors.push(m.text());
  });
  const query = new URLSearchParams({ userId, device, streamId });
  await page.goto(`${stack.httpUrl}/watch/?${query}`);
  return page;
}

describe.skipIf(noBrowser)('the video.js adapter in a browser', () => {
  const streams: Stream[] = [];

  beforeAll(async () => {
    // A hold far longer than the test: a tab's close must free its slot by itself, not by the hold running out.
    stack = await startTestStack({ streamLimit: LIMIT, resumeHoldSeconds: 60 });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const s of streams) s.close();
    await browser?.close();
    await stack?.stop();
  });

  it('plays once admitted, lists the holders when refused, ends one from the page and plays, pauses when kicked', async () => {
    // Prepare: the living room TV holds one of the two slots (the SDK in Node)
    const userId = newUserId('film-fan');
    const errors: string[] = [];
    const tvEvents: Array<keyof StreamEvents> = [];
    const tv = openStream({
      url: stack.wsUrl,
      playerApi: stack.httpUrl,
      userId,
      streamId: 'tv-1',
      device: 'Living room TV',
      WebSocket: WebSocket as never,
    });
    streams.push(tv);
    for (const e of ['admitted', 'ended', 'refused', 'reconnecting'] as const) tv.on(e, () => tvEvents.push(e));
    await until(async () => tvEvents).toEqual(['admitted']);

    // Act + Assess: the laptop's page plays
    const laptop = await openPage(userId, 'Laptop', 'laptop-1', errors);
    await expectPlaying(laptop);
    expect(await overlay(laptop).isHidden()).toBe(true);
    // The clip carries its duration (a plain file, not a live stream: video.js shows its length)
    expect(await laptop.evaluate(() => document.querySelector('video')!.duration)).toBeCloseTo(12, 0);
    await shot(laptop, '01-laptop-playing');

    // Act + Assess: the tablet's page is refused, names both holders, and does not play
    const tablet = await openPage(userId, 'Tablet', 'tablet-1', errors);
    await until(() => overlay(tablet).textContent()).toContain(`already watching on 2 of ${LIMIT} screens`);
    const shown = (await overlay(tablet).textContent()) ?? '';
    expect(shown).toContain('Living room TV (tv-1)');
    expect(shown).toContain('Laptop (laptop-1)');
    expect(await video(tablet)).toEqual({ time: 0, paused: true });
    await shot(tablet, '02-tablet-refused');

    // Act: the tablet ends the TV's stream from its page
    await tablet.getByRole('button', { name: 'End tv-1 on Living room TV' }).click();

    // Assess: the TV was told why and does not come back; the tablet plays
    await expectPlaying(tablet);
    await until(async () => tvEvents).toEqual(['admitted', 'ended']);
    expect(await overlay(tablet).isHidden()).toBe(true);
    await shot(tablet, '03-tablet-playing-after-ending-tv');

    // Act: support staff end the tablet's stream
    const connectionId = await tablet.evaluate(
      () => (window as never as Playback).streamgatePlayback.stream.connectionId,
    );
    const kick = await supportRequest(stack, { method: 'DELETE', path: `/connections/${connectionId}` });

    // Assess: paused, the reason shown, and no reconnect
    expect(kick.status).toBe(204);
    await until(() => overlay(tablet).textContent()).toContain('Stopped: ended by support staff.');
    expect((await video(tablet)).paused).toBe(true);
    const pausedAt = (await video(tablet)).time;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await video(tablet)).time).toBe(pausedAt);
    expect(await tablet.evaluate(() => (window as never as Playback).streamgatePlayback.state)).toBe('ended');
    await until(async () => (await storeFor(stack).getCounter(userId)).active).toBe(1);
    expect(tvEvents).toEqual(['admitted', 'ended']);
    await shot(tablet, '04-tablet-kicked');

    expect(await invariantViolations(stack, storeFor(stack), { limit: LIMIT, users: [userId] })).toEqual([]);
    expect(errors).toEqual([]);

    // Act: the laptop's tab is closed
    await tablet.close();
    await laptop.close({ runBeforeUnload: true });

    // Assess: its slot is free long before the resume hold (a minute here) would have let it go
    await until(async () => (await storeFor(stack).getCounter(userId)).active).toBe(0);
  });
});

interface Playback {
  streamgatePlayback: { state: string; stream: { connectionId: string } };
}
