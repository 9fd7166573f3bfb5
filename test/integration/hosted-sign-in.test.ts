/**
 * The pages' hosted sign-in, as deployed with identity=cognito, in headless Chromium: the demo player and the support
 * console send the person to the sign-in service and come back with an authorization code, trade it (with the PKCE
 * verifier) for an ID token, and use it on the socket and the APIs. The sign-in service here is a stand-in speaking
 * Cognito's OAuth endpoints (`/oauth2/authorize`, `/oauth2/token`, `/logout`); it issues the local stack's tokens.
 * The pages get the config.json a deployment writes; the deployed content security policy, which lets them reach
 * the Cognito domain, is checked by the template tests, so the browser does not apply the local one here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSigningKey, mintToken, newSigningKey } from '../../local/signing-key.js';
import type { LocalStack } from '../../local/stack.js';
import { launchBrowser, noBrowser, outputDir } from '../support/browser.js';
import { newUserId, startTestStack } from '../support/stack.js';

const until = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });
const shots = noBrowser ? '' : outputDir('sign-in');

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  username: string;
}

/** A stand-in for Cognito's hosted sign-in: a form for the user name, codes bound to a PKCE challenge, ID tokens. */
function signInService(key: LocalSigningKey, clients: Record<string, { redirectUri: string; staff: boolean }>) {
  const codes = new Map<string, PendingCode>();
  const trades: { clientId: string; ok: boolean }[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://signin');
    const page = (status: number, html: string) =>
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html>${html}`);
    if (req.method === 'GET' && url.pathname === '/oauth2/authorize') {
      const q = url.searchParams;
      const client = clients[q.get('client_id') ?? ''];
      if (!client || q.get('redirect_uri') !== client.redirectUri || q.get('response_type') !== 'code') {
        return page(400, '<p>redirect_mismatch</p>');
      }
      if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) return page(400, '<p>pkce</p>');
      return page(
        200,
        `<form method="post" action="/login?${q}"><label>Username <input name="username"></label>` +
          '<button>Sign in</button></form>',
      );
    }
    if (req.method === 'POST' && url.pathname === '/login') {
      const form = new URLSearchParams(await body(req));
      const q = url.searchParams;
      const code = randomBytes(12).toString('hex');
      codes.set(code, {
        clientId: q.get('client_id')!,
        redirectUri: q.get('redirect_uri')!,
        challenge: q.get('code_challenge')!,
        username: form.get('username') ?? '',
      });
      const back = new URL(q.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state') ?? '');
      return res.writeHead(302, { location: back.href }).end();
    }
    if (req.method === 'POST' && url.pathname === '/oauth2/token') {
      const form = new URLSearchParams(await body(req));
      const pending = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      const ok =
        pending !== undefined &&
        form.get('grant_type') === 'authorization_code' &&
        form.get('client_id') === pending.clientId &&
        form.get('redirect_uri') === pending.redirectUri &&
        createHash('sha256').update(verifier).digest('base64url') === pending.challenge;
      trades.push({ clientId: form.get('client_id') ?? '', ok });
      const headers = { 'content-type': 'application/json', 'access-control-allow-origin': '*' };
      if (!ok) return res.writeHead(400, headers).end('{"error":"invalid_grant"}');
      const idToken = await mintToken(key, {
        userId: pending.username,
        staff: clients[pending.clientId]!.staff && pending.username.startsWith('agent'),
      });
      return res
        .writeHead(200, headers)
        .end(JSON.stringify({ id_token: idToken, access_token: 'unused', token_type: 'Bearer', expires_in: 3600 }));
    }
    if (req.method === 'GET' && url.pathname === '/logout') {
      return res.writeHead(302, { location: url.searchParams.get('logout_uri') ?? '/' }).end();
    }
    res.writeHead(404).end();
  });
  return { server, trades };
}

function body(req: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => resolve(text));
  });
}

describe.skipIf(noBrowser)("When the pages sign in through Cognito's hosted sign-in", () => {
  let stack: LocalStack;
  let browser: Browser;
  let context: BrowserContext;
  let service: ReturnType<typeof signInService>;
  let domain: string;

  beforeAll(async () => {
    const key = await newSigningKey();
    stack = await startTestStack({ authMode: 'jwt', streamLimit: 3, signingKey: key, sweepIntervalSeconds: 0 });
    service = signInService(key, {
      'player-client': { redirectUri: `${stack.httpUrl}/player/`, staff: false },
      'staff-client': { redirectUri: `${stack.httpUrl}/console/`, staff: true },
    });
    await new Promise<void>((r) => service.server.listen(0, '127.0.0.1', r));
    domain = `http://127.0.0.1:${(service.server.address() as { port: number }).port}`;
    browser = await launchBrowser();
    context = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 900 } });
    // The config.json each page gets when deployed with identity=cognito (its API on the page's origin here).
    await context.route(`${stack.httpUrl}/player/config.json`, (route) =>
      route.fulfill({
        json: {
          wsUrl: stack.wsUrl,
          apiUrl: '',
          authMode: 'jwt',
          signIn: { kind: 'cognito', domain, clientId: 'player-client', redirectUri: `${stack.httpUrl}/player/` },
        },
      }),
    );
    await context.route(`${stack.httpUrl}/console/config.json`, (route) =>
      route.fulfill({
        json: {
          apiUrl: '',
          signIn: { kind: 'cognito', domain, clientId: 'staff-client', redirectUri: `${stack.httpUrl}/console/` },
        },
      }),
    );
  });

  afterAll(async () => {
    await browser?.close();
    service?.server.close();
    await stack?.stop();
  });

  const signIn = async (page: Page, button: string, username: string) => {
    await page.getByRole('button', { name: button }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  it('signs a player in, opens a stream with the ID token, and signs out', async () => {
    // Prepare
    const user = newUserId('viewer');
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.httpUrl}/player/`);
    await until(() => page.locator('#signed-in-as').textContent()).toBe('Not signed in.');

    // Act: sign in, then open a stream
    await signIn(page, 'Sign in', user);
    await until(() => page.locator('#signed-in-as').textContent()).toBe(`Signed in as ${user}.`);
    await page.getByLabel('Stream id (optional)', { exact: true }).fill('movie-1');
    await page.getByRole('button', { name: 'Open stream' }).click();

    // Assess: admitted as the token's user, listed by the player API with the same token; the code is gone
    await until(() => page.locator('#sockets tbody tr[data-stream-id="movie-1"] td').nth(2).textContent()).toBe(
      'playing',
    );
    await until(() => page.locator('#summary').textContent()).toContain(`${user}: 1 of 3 streams in use`);
    expect(new URL(page.url()).search).toBe('');
    expect(service.trades).toContainEqual({ clientId: 'player-client', ok: true });
    await page.screenshot({ path: join(shots, 'player-signed-in.png'), fullPage: true });

    // Act + Assess: signing out goes through the service's logout and back, signed out
    await page.getByRole('button', { name: 'Sign out' }).click();
    await until(() => page.locator('#signed-in-as').textContent()).toBe('Not signed in.');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('refuses a sign-in it did not start (a forged state), saying so', async () => {
    // Prepare
    const page = await context.newPage();

    // Act: arrive with a code and a state this tab never sent
    await page.goto(`${stack.httpUrl}/player/?code=stolen&state=forged`);

    // Assess
    await until(() => page.locator('#notice').textContent()).toContain('Sign-in did not work');
    expect(await page.locator('#signed-in-as').textContent()).toBe('Not signed in.');
    expect(new URL(page.url()).search).toBe('');
    await page.close();
  });

  it('signs a staff member in to the console, and sends a player who is not staff back to the sign-in', async () => {
    // Prepare
    const page = await context.newPage();
    await page.goto(`${stack.httpUrl}/console/`);
    await until(() => page.locator('#hosted-sign-in').isVisible()).toBe(true);
    expect(await page.getByLabel('Staff token').isVisible()).toBe(false);

    // Act: a staff member signs in and looks a user up
    await signIn(page, 'Sign in with your staff account', 'agent-7');
    await page.getByLabel('User id').fill('alice');
    await page.getByRole('button', { name: 'Look up' }).click();

    // Assess
    await until(() => page.locator('#user-name').textContent()).toBe('alice');
    expect(service.trades).toContainEqual({ clientId: 'staff-client', ok: true });
    await page.screenshot({ path: join(shots, 'console-signed-in.png'), fullPage: true });

    // Act: sign out, and a player who is not staff signs in to the staff client
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, 'Sign in with your staff account', newUserId('viewer'));

    // Assess: the support API says 403, and the console says why
    await until(() => page.getByRole('alert').textContent()).toContain('not a staff token');
    expect(await page.getByRole('button', { name: 'Sign in with your staff account' }).isVisible()).toBe(true);
    await page.close();
  });
});
