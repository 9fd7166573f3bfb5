/** The socket's query parameters, checked as the service checks them, and what the SDK reads from a page. */
import type { StreamOptions } from './types.js';

/** The contract's alphabet for user and stream ids (core/params.ts). */
const ID = /^[A-Za-z0-9._\-:@]{1,128}$/;
/** A device label: printable, no line or paragraph separators (core/params.ts). */
const LABEL = /^[^\p{C}\p{Zl}\p{Zp}]{1,128}$/u;

export function randomStreamId(): string {
  const uuid = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto?.randomUUID?.();
  return uuid ?? `s-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/**
 * A parameter the service would refuse with 400: said at once, since a browser could not tell that refusal from a
 * network failure and would try again forever.
 */
export function invalidParameter(
  o: StreamOptions,
  streamId: string,
): { status: number; code: string; text: string } | undefined {
  if (o.token === undefined && !ID.test(o.userId ?? ''))
    return { status: 400, code: 'INVALID_USER_ID', text: 'userId must be 1 to 128 of A-Z a-z 0-9 . _ - : @' };
  if (o.token !== undefined && o.token.trim() === '')
    return { status: 401, code: 'UNAUTHORIZED', text: 'not signed in: the token is empty' };
  if (!ID.test(streamId))
    return { status: 400, code: 'INVALID_STREAM_ID', text: 'streamId must be 1 to 128 of A-Z a-z 0-9 . _ - : @' };
  if (o.device && !LABEL.test(o.device))
    return { status: 400, code: 'INVALID_PARAMETER', text: 'device must be 1 to 128 printable characters' };
  return undefined;
}

/**
 * `url` with the identity (`userId` in dev mode, `token` in jwt mode: a browser cannot set headers), stream, device,
 * and `resume=1`: this client reconnects by itself, so the server holds the slot of a socket it did not end a while.
 */
export function socketUrl(o: StreamOptions, streamId: string): string {
  const url = new URL(o.url);
  if (o.token !== undefined) url.searchParams.set('token', o.token);
  else url.searchParams.set('userId', o.userId);
  url.searchParams.set('streamId', streamId);
  if (o.device) url.searchParams.set('device', o.device);
  url.searchParams.set('resume', '1');
  return url.toString();
}

export interface VisibilityDocument {
  visibilityState: string;
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** The page's document, in a browser; none in Node. */
export function documentOf(): VisibilityDocument | undefined {
  return (globalThis as { document?: VisibilityDocument }).document;
}
