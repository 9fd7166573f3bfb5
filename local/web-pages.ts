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

/**
 * Files the console loads from node_modules, by their name beside its own: uPlot, the charting library of the load
 * report too, for the usage charts. Served locally and uploaded with the console when deployed, never from a CDN.
 */
export const CONSOLE_VENDOR_FILES: Readonly<Record<string, string>> = {
  'uPlot.iife.min.js': fileURLToPath(new URL('../node_modules/uplot/dist/uPlot.iife.min.js', import.meta.url)),
  'uPlot.min.css': fileURLToPath(new URL('../node_modules/uplot/dist/uPlot.min.css', import.meta.url)),
};

/** Not a page: its files (the sign-in module) are served beside every page, as a deployment copies them. */
export const SHARED_FOLDER = 'shared';

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
  '.webm': 'video/webm',
};

/** The policy of a page that talks to its own origin only; `connectSources` adds to where its scripts may connect. */
export function contentSecurityPolicy(connectSources: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    // A player page plays its own media; video.js's stylesheet carries its icon font inline.
    "media-src 'self'",
    "font-src 'self' data:",
    ["connect-src 'self'", ...connectSources].join(' '),
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const CONTENT_SECURITY_POLICY = contentSecurityPolicy();

const SECURITY_HEADERS = {
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

/** Every servable file under `dir`, by its URL path below the folder (`/app.js`). */
function filesUnder(dir: string): Map<string, PageFile> {
  const files = new Map<string, PageFile>();
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const type = CONTENT_TYPES[extname(entry.name).toLowerCase()];
        if (type) files.set(`/${relative(dir, path).split(sep).join('/')}`, { path, type });
      }
    }
  };
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) walk(dir);
  return files;
}

/** Every servable file: URL path (`/console/app.js`) to file; the shared files beside each page's own. */
function listFiles(root: string, pages: readonly string[]): Map<string, PageFile> {
  const files = new Map<string, PageFile>();
  const shared = filesUnder(join(root, SHARED_FOLDER));
  for (const page of pages) {
    // A page's own file of the same name wins.
    for (const [path, file] of [...shared, ...filesUnder(join(root, page))]) files.set(`/${page}${path}`, file);
  }
  return files;
}

export interface WebPagesOptions {
  /** defaults to the repository's `web/` */
  root?: string;
  /** the page folders under the root to serve; defaults to every folder there */
  pages?: readonly string[];
  /**
   * Files made at start instead of read from disk, by URL path (`/player/config.json`: the WebSocket URL, known only
   * once the stack listens). They win over a file of the same path.
   */
  generated?: Readonly<Record<string, { type: string; body: string }>>;
  /** per page folder, where else its scripts may connect (the demo player opens WebSockets on another port) */
  connectSources?: Readonly<Record<string, readonly string[]>>;
  /** files from outside `web/` (video.js from node_modules), by URL path to the file's absolute path */
  files?: Readonly<Record<string, string>>;
  /** files built on first request and kept (the player SDK's bundle), by URL path */
  built?: Readonly<Record<string, () => Promise<string>>>;
}

export class WebPages {
  private readonly files: Map<string, PageFile>;
  private readonly pages: Set<string>;
  private readonly generated: ReadonlyMap<string, { type: string; body: Buffer }>;
  private readonly connectSources: Readonly<Record<string, readonly string[]>>;
  private readonly built: Readonly<Record<string, () => Promise<string>>>;

  constructor(options: WebPagesOptions = {}) {
    const root = options.root ?? WEB_ROOT;
    const pages =
      options.pages ??
      (statSync(root, { throwIfNoEntry: false })?.isDirectory()
        ? readdirSync(root, { withFileTypes: true })
            .filter((e) => e.isDirectory() && e.name !== SHARED_FOLDER)
            .map((e) => e.name)
        : []);
    this.pages = new Set(pages);
    this.files = listFiles(root, pages);
    this.generated = new Map(
      Object.entries(options.generated ?? {}).map(([path, f]) => [path, { type: f.type, body: Buffer.from(f.body) }]),
    );
    this.connectSources = options.connectSources ?? {};
    for (const [urlPath, path] of Object.entries(options.files ?? {})) {
      const type = CONTENT_TYPES[extname(path).toLowerCase()];
      if (type) this.files.set(urlPath, { path, type });
    }
    this.built = options.built ?? {};
  }

  /** Whether `pathname` is a page's (`/console`, `/console/...`): those never reach an API's authentication. */
  owns(pathname: string): boolean {
    const first = pathname.split('/')[1] ?? '';
    return this.pages.has(first);
  }

  /** Answers a request for one of the pages' files: 200, a redirect to the page's folder, 404 or 405. */
  async serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
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
    const path = pathname.endsWith('/') ? `${pathname}index.html` : pathname;
    const file = this.generated.get(path) ?? (await this.build(path)) ?? this.read(this.files.get(path));
    if (!file) {
      this.plain(res, 404, 'no such page');
      return;
    }
    res.writeHead(200, {
      ...this.securityHeaders(page),
      'content-type': file.type,
      'content-length': file.body.length,
    });
    res.end(method === 'HEAD' ? undefined : file.body);
  }

  private async build(path: string): Promise<{ type: string; body: Buffer } | undefined> {
    const make = Object.hasOwn(this.built, path) ? this.built[path] : undefined;
    return make && { type: CONTENT_TYPES['.js']!, body: Buffer.from(await make()) };
  }

  private read(file: PageFile | undefined): { type: string; body: Buffer } | undefined {
    try {
      return file && { type: file.type, body: readFileSync(file.path) };
    } catch {
      return undefined; // removed since the start
    }
  }

  private securityHeaders(page: string): Record<string, string> {
    const extra = Object.hasOwn(this.connectSources, page) ? this.connectSources[page] : undefined;
    return { ...SECURITY_HEADERS, 'content-security-policy': contentSecurityPolicy(extra) };
  }

  private plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) {
    // Plain answers load nothing, so they get the strictest policy.
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'content-type': 'text/plain; charset=utf-8',
      ...headers,
    });
    res.end(text);
  }
}
