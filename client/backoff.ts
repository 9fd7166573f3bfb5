/**
 * How long to wait before the next try to connect: "full jitter" exponential backoff, a random wait from 0 up to a
 * ceiling that doubles with each failed try and stops at `maxMs`. Random waits spread a crowd of players that lost
 * their sockets at once (a deploy, a network blip), so they do not all come back in the same millisecond; a first try
 * that may come at once keeps a lone blip short.
 */
import type { BackoffOptions } from './types.js';

export const DEFAULT_BACKOFF = { initialMs: 100, maxMs: 30_000 } as const;

/** The ceiling of the wait before try `attempt` (0 for the first retry). */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const initialMs = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const maxMs = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  // 2 ** attempt overflows to Infinity past ~1023 tries, and min() still caps it.
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt));
}

/** The wait before try `attempt`: from 0 up to (not including) its ceiling; `random` is in [0, 1). */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = {}): number {
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * backoffCeiling(attempt, options));
}
