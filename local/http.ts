/** HTTP plumbing the gateway emulator and the support server share: listen and close, headers, bodies, JSON. */
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A server could not take its address (busy port, unknown host, no permission): something a user can fix. */
export class ListenError extends Error {
  override name = 'ListenError';
}

const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: 'is already in use',
  EACCES: 'is not allowed for this user',
  EADDRNOTAVAIL: 'is not an address of this machine',
  ENOTFOUND: 'names no known host',
};

/** Listens on `host:port`; `label` names the setting behind the port in the error a user sees. */
export async function listen(server: Server, options: { port: number; host: string; label: string }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const problem = LISTEN_PROBLEMS[error.code ?? ''];
      const where = `${options.label} ${hostForUrl(options.host)}:${options.port}`;
      reject(problem ? new ListenError(`${where} ${problem}`) : error);
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Closes the port and every connection still open on it, keep-alive ones included. */
export async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/** IPv6 literals need brackets in a URL. */
export function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The request target as a URL, or undefined when it is not one (`//`, `http://[`): the target is the client's to
 * choose, so parsing it must never throw into a request handler. Origin-form targets (`/path`) are read against a
 * fixed origin, so `//x` is a path, not a host.
 */
export function requestUrl(target: string | undefined): URL | undefined {
  const raw = target ?? '/';
  try {
    return new URL(raw.startsWith('/') ? `http://localhost${raw}` : raw);
  } catch {
    return undefined;
  }
}

/** Node keeps repeated headers as arrays; API Gateway's `headers` joins them with commas. */
export function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
}

/** API Gateway's `multiValueHeaders`: every header as a list. */
export function multiValueHeaders(headers: IncomingHttpHeaders): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v : v === undefined ? [] : [v]]),
  );
}

/** The whole body, or `undefined` as soon as it passes `maxBytes` (the rest is not read into memory). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The client hung up mid-request (an aborted body, a reset): nobody to answer, nothing to report. */
export function isClientGone(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error)?.message === 'aborted';
}

/** Writes `body` as JSON with its length; `headers` may add to (or override) the content type. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
