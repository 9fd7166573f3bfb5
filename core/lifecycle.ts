/**
 * A connection's life, in one place: its phases, the conditional write that moves it from one to the next, who tells
 * its socket why it ends and who closes it, and every time bound the core relies on, each named once with its reason.
 *
 *              admit | takeOver | evict              the window passes
 *     (none) ─────────────────────────▶ opening ─────────────────────▶ open
 *                                          │                             │
 *                release | takeOver | evict (as the replaced or evicted one)
 *                                          ▼                             ▼
 *                                       ending ──────────────────────▶ closed
 *                                                the window passes
 *
 * - opening: counted, and its socket may not be open yet. API Gateway answers 410 for a socket inside its handshake
 *   exactly as for one that is gone: this is the only phase in which that answer is ambiguous.
 * - open: counted, past its opening window. API Gateway knows its socket, or the socket is gone for good (a ghost:
 *   its `$disconnect` was lost or its handshake failed), and then 410 means gone.
 * - ending: released (its item closed) while its socket may still open. Whoever closed the item tells the socket why
 *   and closes it, trying until the window passes.
 * - closed: released, past the window: no socket of it can open any more.
 *
 * The one rule for API Gateway's 410 ("unknown"): a connection whose opening window has not passed may still open;
 * past it, unknown means gone. It holds at any store latency because `$connect` enforces the window on itself: the
 * item records when its admitting write was sent (`handshakeAt`), and a `$connect` whose write answered too late to
 * open the socket in time refuses the handshake (503) instead. A slow store makes admissions fail, never open late.
 */
import type { ConnectionRecord, NewConnection } from './store/items.js';

/**
 * A socket opens within this long of its admitting write being sent, or never. Long enough for a throttled DynamoDB
 * with SDK retries to answer most writes (p99 of seconds); short enough that an ender can chase a socket still in its
 * handshake before it answers, which is what makes closes work in Lambda, where nothing runs after the answer.
 */
export const OPENING_WINDOW_MS = 5_000;

/**
 * Between `$connect`'s answer and API Gateway knowing the socket: the handshake's last step. `$connect` answers by
 * this much before its window ends, so that the socket is known before the window has passed.
 */
export const ANSWER_MARGIN_MS = 500;

/** How often a socket in its handshake is asked about, or tried again, while its window lasts. */
export const CHASE_DELAYS_MS = [25, 50, 100, 200, 400, 500] as const;

/**
 * A `$connect` that chases a socket it replaced or evicted stops this long before its own answer is due, so that the
 * chase never makes it answer too late (its own window would then refuse it).
 */
export const CHASE_STOP_BEFORE_ANSWER_MS = 600;

/**
 * A close this recent by an ender that tells its socket why may still have its `ended` frame on the way: a message
 * from that socket waits up to ENDER_WAIT_MS for it before telling the socket `uncounted` itself. Only which frame
 * the player sees depends on these two; the close happens either way.
 */
export const RECENT_CLOSE_MS = 10_000;
export const ENDER_WAIT_DELAYS_MS = [100, 200, 300, 400] as const;

/** Time as the core sees it: real in the handlers, fake in the core's unit tests. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export type Phase = 'opening' | 'open' | 'ending' | 'closed';

type Timed = Pick<ConnectionRecord, 'connectedAt' | 'handshakeAt'>;

/**
 * When the connection's socket is open, or never will be. Every item written today records `handshakeAt`; an item
 * without one (written by an older version) had its handshake grace: `$connect` gave up that long after arriving.
 */
export function openBy(c: Timed, graceMs: number): number {
  return (c.handshakeAt ?? c.connectedAt + graceMs) + OPENING_WINDOW_MS;
}

/** The one rule: may a connection API Gateway does not know still open? Only while its opening window lasts. */
export function mayStillOpen(c: Timed, now: number, graceMs: number): boolean {
  return now <= openBy(c, graceMs);
}

/**
 * Whether a connection whose connect arrived at `connectedAt` is past its window for sure, without reading its item:
 * its `$connect` gave up after the grace, and the window of its last write then passed.
 */
export function surelyPastOpening(connectedAt: number, now: number, graceMs: number): boolean {
  return now > connectedAt + graceMs + OPENING_WINDOW_MS;
}

export function phaseOf(c: Timed & Pick<ConnectionRecord, 'state'>, now: number, graceMs: number): Phase {
  const young = mayStillOpen(c, now, graceMs);
  if (c.state === 'open') return young ? 'opening' : 'open';
  return young ? 'ending' : 'closed';
}

/**
 * The latest moment a `$connect` whose admitting write was sent at `handshakeAt` may answer 200: its socket must be
 * known to API Gateway before the window passes.
 */
export const answerBy = (handshakeAt: number) => handshakeAt + OPENING_WINDOW_MS - ANSWER_MARGIN_MS;

/** Until when a `$connect` whose write was sent at `handshakeAt` may chase the socket it replaced or evicted. */
export const chaseBy = (handshakeAt: number) => answerBy(handshakeAt) - CHASE_STOP_BEFORE_ANSWER_MS;

/**
 * Runs `attempt` now and then at the chase cadence, until it reports done or `until` passes. What every ender uses to
 * close a socket that may still be in its handshake, and a refused connect to ask about one.
 */
export async function chase<T>(
  clock: Clock,
  until: number,
  attempt: () => Promise<T>,
  done: (result: T) => boolean,
  /** the first attempt's result, when the caller has made it already */
  first?: T,
): Promise<T> {
  let result = first === undefined ? await attempt() : first;
  for (let i = 0; !done(result) && clock.now() < until; i++) {
    const delay = CHASE_DELAYS_MS[Math.min(i, CHASE_DELAYS_MS.length - 1)]!;
    await clock.sleep(Math.max(0, Math.min(delay, until - clock.now())));
    result = await attempt();
  }
  return result;
}

/** A `$connect` to admit, as API Gateway describes it (`connectedAt`, ms, is its arrival). */
export type ConnectRequest = Omit<NewConnection, 'leaseExpiresAt' | 'handshakeAt'>;

/** A connection as one admitting write records it: with when that write was sent, its window's start. */
export type AdmittingConnection = NewConnection & { handshakeAt: number };

/** The connection as one admitting write records it: its lease, and when the write was sent (its window's start). */
export function admitting(deps: { leaseMs: number }, request: ConnectRequest, sentAt: number): AdmittingConnection {
  return { ...request, handshakeAt: sentAt, leaseExpiresAt: request.connectedAt + deps.leaseMs };
}
