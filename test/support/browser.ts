/**
 * Headless Chromium for tests of the web pages, through playwright-core (no browser download: the system's
 * Chromium). A machine without it skips those tests with a message saying so.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a quiet, sandbox-free headless run: no GPU, no updates, no sync, no calls home. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why browser tests cannot run here, or undefined when they can. */
export const noBrowser: string | undefined = existsSync(CHROMIUM_PATH)
  ? undefined
  : `no Chromium at ${CHROMIUM_PATH} (install it, or set CHROMIUM_PATH): browser tests skipped`;

if (noBrowser) console.warn(noBrowser);

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS });
}

/** Where tests keep screenshots (gitignored): `test-output/<folder>/`. */
export function outputDir(folder: string): string {
  const dir = fileURLToPath(new URL(`../../test-output/${folder}/`, import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The page's errors, as they happen: uncaught exceptions and console errors, except those `expected` names (a refused
 * request or handshake is logged by the browser itself, not by the page).
 */
export function pageErrorsOf(page: Page, expected: (text: string) => boolean): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected(m.text())) errors.push(m.text());
  });
  return errors;
}

/** A request the browser refused to load (a 4xx the page expects): logged by the browser, not an error of the page. */
export const failedLoad = (text: string) => text.startsWith('Failed to load resource');
