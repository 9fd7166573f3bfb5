/**
 * The player API (`GET /me/streams`, `DELETE /me/streams/{streamId}`), typed: a browser cannot read why a handshake
 * was refused, so the SDK asks here who holds the slots, and a player may end one of its own streams to make room.
 */
import type { FetchLike, OwnStreams, PlayerApiOptions } from './types.js';

/** An answer of the player API: the body when it is one the caller can use, else the error the service sent. */
export type ApiAnswer<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; code: string; message: string };

function fetchOf(options: PlayerApiOptions): FetchLike {
  const f = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
  if (!f) throw new Error('no fetch: pass options.fetch');
  return f;
}

/**
 * The request's URL: `playerApi` may be relative (a page on the API's own origin passes `''`), so it is resolved
 * against the page's address when there is one. Identity as the API takes it: `?userId=` in dev mode, the bearer token
 * in jwt mode.
 */
function request(options: PlayerApiOptions, path: string): { url: string; headers: Record<string, string> } {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const url = new URL(`${options.playerApi.replace(/\/+$/, '')}${path}`, base);
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  else url.searchParams.set('userId', options.userId);
  return { url: url.toString(), headers };
}

async function call<T>(options: PlayerApiOptions, method: string, path: string): Promise<ApiAnswer<T>> {
  const { url, headers } = request(options, path);
  const res = await fetchOf(options)(url, { method, headers });
  const body = res.status === 204 ? undefined : await res.json().catch(() => undefined);
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, body: body as T };
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return {
    ok: false,
    status: res.status,
    code: typeof error?.code === 'string' ? error.code : `HTTP_${res.status}`,
    message: typeof error?.message === 'string' ? error.message : `the player API answered ${res.status}`,
  };
}

/** The user's open streams on every device, the limit in force and the policy at the limit. Rejects on a network failure. */
export function listStreams(options: PlayerApiOptions): Promise<ApiAnswer<OwnStreams>> {
  return call<OwnStreams>(options, 'GET', '/me/streams');
}

/**
 * Ends one of the user's streams (its socket gets `ended`, reason `endedByUser`); `ok` once the slot is free. A
 * stream already gone is `status: 404`, `code: 'STREAM_NOT_FOUND'`. Rejects on a network failure.
 */
export function endStream(options: PlayerApiOptions, streamId: string): Promise<ApiAnswer<undefined>> {
  return call<undefined>(options, 'DELETE', `/me/streams/${encodeURIComponent(streamId)}`);
}
