/**
 * Serves the web pages under `web/<page>/` at `/<page>/` (the support console, the demo player). The files are
 * listed once at start and only listed files are served, so no request path (`..`, encoded slashes, symlinks added
 * later) can reach anything else. Every answer carries a content security policy: the pages load only their own
 * scripts and styles and talk only to their own origin.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's `web/` folder. */
export const WEB_ROOT = fileURLToPath(new URL('../web/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // The pages are small and change with the code: always revalidate rather than show a stale console.
  'cache-control': 'no-cache',
};

interface PageFile {
  path: string;
  type: string;
}

/** Every servable file: URL path (`/console/app.js`) to file. */
function listFiles(root: string, pages: readonly string[]): Map<string, PageFile> {
  const files = new Map<string, PageFile>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const type = CONTENT_TYPES[extname(entry.name).toLowerCase()];
        if (type) files.set(`/${relative(root, path).split(sep).join('/')}`, { path, type });
      }
    }
  };
  for (const page of pages) {
    const dir = join(root, page);
    if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) walk(dir);
  }
  return files;
}

export interface WebPagesOptions {
  /** defaults to the repository's `web/` */
  root?: string;
  /** the page folders under the root to serve; defaults to every folder there */
  pages?: readonly string[];
}

export class WebPages {
  private readonly files: Map<string, PageFile>;
  private readonly pages: Set<string>;

  constructor(options: WebPagesOptions = {}) {
    const root = options.root ?? WEB_ROOT;
    const pages =
      options.pages ??
      (statSync(root, { throwIfNoEntry: false })?.isDirectory()
        ? readdirSync(root, { withFileTypes: true })
            .filter((e) => e.isDirectory())
            .map((e) => e.name)
        : []);
    this.pages = new Set(pages);
    this.files = listFiles(root, pages);
  }

  /** Whether `pathname` is a page's (`/console`, `/console/...`): those never reach an API's authentication. */
  owns(pathname: string): boolean {
    const first = pathname.split('/')[1] ?? '';
    return this.pages.has(first);
  }

  /** Answers a request for one of the pages' files: 200, a redirect to the page's folder, 404 or 405. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      this.plain(res, 405, 'use GET', { allow: 'GET, HEAD' });
      return;
    }
    const page = pathname.split('/')[1] ?? '';
    if (pathname === `/${page}`) {
      // Relative links inside the page resolve against the folder, so the folder is the page's address.
      this.plain(res, 308, `see /${page}/`, { location: `/${page}/` });
      return;
    }
    const file = this.files.get(pathname.endsWith('/') ? `${pathname}index.html` : pathname);
    let body: Buffer | undefined;
    try {
      body = file && readFileSync(file.path);
    } catch {
      body = undefined; // removed since the start
    }
    if (!file || !body) {
      this.plain(res, 404, 'no such page');
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': file.type, 'content-length': body.length });
    res.end(method === 'HEAD' ? undefined : body);
  }

  private plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(text);
  }
}
