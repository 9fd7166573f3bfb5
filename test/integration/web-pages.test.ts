/** The web pages on the local HTTP port: right content types, a content security policy, nothing outside web/. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack } from '../support/stack.js';

let stack: LocalStack;

/** A raw request, so the path reaches the server exactly as written (fetch would normalise `..`). */
function get(
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const url = new URL(stack.httpUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

describe('/console/', () => {
  it('serves the page and its files without a token, each with its content type and the security headers', async () => {
    const cases = [
      ['/console/', 'text/html; charset=utf-8'],
      ['/console/console.js', 'text/javascript; charset=utf-8'],
      ['/console/console.css', 'text/css; charset=utf-8'],
      ['/console/config.json', 'application/json; charset=utf-8'],
      // uPlot, from node_modules: the console's charts load it from the console's origin
      ['/console/uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
      ['/console/uPlot.min.css', 'text/css; charset=utf-8'],
    ] as const;
    for (const [path, type] of cases) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type'], path).toBe(type);
      expect(res.headers['content-security-policy'], path).toContain("default-src 'none'");
      expect(res.headers['content-security-policy'], path).toContain("script-src 'self'");
      expect(res.headers['x-content-type-options'], path).toBe('nosniff');
    }
    expect((await get('/console/')).body).toContain('<title>streamgate support console</title>');
  });

  it('sends /console to /console/', async () => {
    const res = await get('/console');
    expect(res.status).toBe(308);
    expect(res.headers.location).toBe('/console/');
  });

  it('serves nothing outside web/console, however the path is written', async () => {
    for (const path of [
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/..%2fpackage.json',
      '/console/%2e%2e%2f%2e%2e%2fpackage.json',
      '/console/....//package.json',
      '/console/..\\package.json',
      '/console/%00',
      '/console/nothing.js',
      '/console/index.html/',
    ]) {
      const res = await get(path);
      expect(res.status, path).not.toBe(200);
      expect(res.body, path).not.toContain('"devDependencies"');
    }
  });

  it('answers 405 to anything but GET and HEAD, and HEAD without a body', async () => {
    expect((await get('/console/', 'POST')).status).toBe(405);
    expect((await get('/console/', 'DELETE')).status).toBe(405);
    const head = await get('/console/', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('leaves the support API behind its token', async () => {
    expect((await get('/users/alice/connections')).status).toBe(401);
  });
});

describe('/player/', () => {
  it('serves the demo player and its files, letting only the page open sockets on the WebSocket port', async () => {
    const wsOrigin = new URL(stack.wsUrl).origin;
    for (const path of ['/player/', '/player/player.js', '/player/player.css', '/player/config.json']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-security-policy'], path).toContain(`connect-src 'self' ${wsOrigin};`);
      expect(res.headers['content-security-policy'], path).toContain("script-src 'self'");
    }
    expect((await get('/player/')).body).toContain('<title>streamgate demo player</title>');
    expect((await get('/console/')).headers['content-security-policy']).toContain("connect-src 'self';");
  });

  it('serves the shared sign-in module beside each page, and no shared folder as a page of its own', async () => {
    for (const path of ['/player/sign-in.js', '/console/sign-in.js']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type'], path).toBe('text/javascript; charset=utf-8');
      expect(res.body, path).toContain('export function createSignIn');
    }
    // Not a page: the path is the support API's, which wants a token.
    expect((await get('/shared/sign-in.js')).status).toBe(401);
  });

  it('tells the page where the sockets are and how the player says who it is', async () => {
    const res = await get('/player/config.json');

    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(res.body)).toEqual({ wsUrl: stack.wsUrl, apiUrl: '', authMode: 'dev' });
  });

  it('serves nothing outside web/player, however the path is written', async () => {
    for (const path of ['/player/../package.json', '/player/%2e%2e/package.json', '/player/..%2fpackage.json']) {
      const res = await get(path);
      expect(res.status, path).not.toBe(200);
      expect(res.body, path).not.toContain('"devDependencies"');
    }
  });
});
