/**
 * streamgate's player SDK: one call opens a stream that holds its slot under the user's limit for as long as it
 * plays (heartbeats, reconnects, renewals before API Gateway's 2-hour cap), and says in events what a viewer needs to
 * hear. No runtime dependency: browsers use their own WebSocket, Node passes `ws`. Guide: docs/sdk.md.
 */
import { StreamSession } from './stream.js';
import type { Stream, StreamOptions } from './types.js';

export { type ApiAnswer, endStream, listStreams } from './api.js';
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export { DEFAULT_MAX_DURATION_MS, DEFAULT_RENEW_MARGIN_MS, FINAL_REASONS } from './stream.js';
export type * from './types.js';

/**
 * Opens a stream: the socket is opened at once, and the events say how it goes (`admitted`, `refused`, `ended`,
 * `reconnecting`, `renewed`, `error`). Listen before the current turn of the event loop ends: no event comes sooner.
 */
export function openStream(options: StreamOptions): Stream {
  return new StreamSession(options);
}
export { endedWords, policyWords } from './words.js';
