/**
 * A connection's life, in one place: its phases, the conditional write that moves it from one to the next, who tells
 * its socket why it ends and who closes it, and every time bound the core relies on, each named once with its reason.
 *
 *                admit | takeOver | evict
 *     (none) ───────────────────────────────▶ opening ──── openBy passes ────▶ live
 *                                                │                              │
 *                                                │  kick | player's end: the    │
 *                                                │  item closed, one teller     │
 *                                                ▼                              ▼
 *                                             ending ── socket told and closed (or unknown after openBy),
 *                                                │      then uncounted ──────────────────────▶ closed
 *     opening | live ── $disconnect, ghost released, taken over, evicted, withdrawn ──────────▶ closed
 *
 * Every arrow but the passing of `openBy` is one conditional write (a transaction where two items move together):
 * - admit, takeOver, evict: the counter counts the connection and its item is written, with `openBy` (below). A
 *   takeover or an eviction closes the replaced connection's item and uncounts it in the same transaction; the
 *   `$connect` that did it tells that socket why and closes it before it answers, so its own socket opens after.
 * - a kick or a player's end closes the item (`state` open -> closed) on condition it is open: the one caller whose
 *   write succeeds is the teller. It tells the socket why, closes it, and only then uncounts it: while it is ending
 *   the connection still holds its slot, so no new socket can open beside it, however slow the store. A connect that
 *   meets an ending connection (a takeover of its stream, an eviction, a refusal) waits for its slot (`awaitEnded`).
 * - `$disconnect` closes the item and uncounts it (the socket is gone); a ghost (its socket gone for sure) is
 *   uncounted and closed by a refused connect or the sweep; an ending connection whose socket is gone for sure is
 *   uncounted by whoever finds it so (`forgetMissing`); a `$connect` whose write came back too late withdraws its own.
 *   None of these tell anyone: there is no socket to tell.
 *
 * Phases, from the item, the counter and the clock:
 * - opening: counted, item open, before `openBy`: its socket may not be open yet, and API Gateway answers 410 for a
 *   socket inside its handshake exactly as for one that is gone. This is the only phase where that answer is ambiguous.
 * - live: counted, item open, past `openBy`: API Gateway knows its socket, or it is gone for good (a ghost).
 * - ending: counted, item closed: a teller is telling and closing its socket.
 * - closed: not counted.
 *
 * The one rule for API Gateway's 410: a question asked after the connection's `openBy` that answers 410 means gone;
 * before it, the socket may still open, and whoever must know asks again at the chase cadence until it is known or
 * an answer comes to a question asked after `openBy`. `$connect` enforces `openBy` on itself: it answers by
 * `openBy - REGISTRATION_MARGIN_MS` or refuses the handshake (503) and withdraws. So a slow store makes admissions
 * fail, never open late, and every chase ends within the window: in Lambda too, before its caller answers.
 */
import type { ConnectionRecord, CounterRecord, NewConnection } from './store/items.js';

/**
 * A socket opens within this long of its admitting write being sent, or never (the default of OPENING_WINDOW_SECONDS).
 * Long enough for a throttled DynamoDB with SDK retries to answer most writes (seconds at p99); short enough that an
 * ender can wait out a socket still in its handshake before it answers, which is what makes closes work in Lambda,
 * where nothing runs after the answer. It is also how long a refused connect may wait on a sibling still opening.
 */
export const DEFAULT_OPENING_WINDOW_MS = 5_000;

/**
 * Between `$connect`'s answer and API Gateway knowing the socket (the handshake's last step), plus any skew between
 * the clocks of two Lambda hosts: `$connect` answers at least this long before its `openBy`. The one time bound that
 * rests on API Gateway rather than on the store.
 */
export const REGISTRATION_MARGIN_MS = 500;

/**
 * A takeover or an eviction asks about the socket it replaced until that one's `openBy`, then once more; the answer
 * to that last question is allowed this long before its own answer would come too late. Only availability rests on it:
 * a slower answer makes that `$connect` withdraw and answer 503, never open late.
 */
export const LAST_ANSWER_ALLOWANCE_MS = 500;

/** How often a socket in its handshake is asked about, or closed again, while its window lasts. */
export const CHASE_DELAYS_MS = [25, 50, 100, 200, 400, 500] as const;

/**
 * A message from a socket whose item a teller closed this recently is left to that teller: its `ended` frame and its
 * close are on the way (the teller keeps closing until the socket is closed), and a second `ended` would contradict
 * the first. Past this, the teller has failed (a crashed Lambda), and the message's own handler tells the socket
 * `uncounted` and closes it. Far longer than a teller takes (a few API Gateway calls, at most one opening window for
 * a socket still opening), so the one-frame rule does not rest on how fast API Gateway answers them.
 */
export const RECENT_CLOSE_MS = 10_000;

/** The lifecycle's settings, from the deployment's configuration. */
export interface LifecycleTimes {
  /** OPENING_WINDOW_SECONDS: see DEFAULT_OPENING_WINDOW_MS */
  openingWindowMs: number;
  /** HANDSHAKE_GRACE_SECONDS: how long a `$connect` may keep trying to admit before it gives up (503) */
  handshakeGraceMs: number;
}

/** Time as the core sees it: real in the handlers, virtual in the core's unit and model tests. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export type Phase = 'opening' | 'live' | 'ending' | 'closed';

/**
 * When a connection's socket is open, or never will be. Items written today carry `openBy`. Older ones: a stamp
 * (`handshakeAt`) plus the window, or without one, the handshake grace (`$connect` gave up by then) plus the window.
 */
export function openByOf(
  c: Pick<ConnectionRecord, 'connectedAt' | 'openBy' | 'handshakeAt'>,
  times: LifecycleTimes,
): number {
  if (c.openBy !== undefined) return c.openBy;
  return (c.handshakeAt ?? c.connectedAt + times.handshakeGraceMs) + times.openingWindowMs;
}

/** A counted connection's `openBy`, from the counter alone (members written by older versions: see openByOf). */
export function memberOpenBy(counter: CounterRecord, connectionId: string, times: LifecycleTimes): number {
  const connectedAt = counter.counted.get(connectionId) ?? 0;
  return openByOf({ connectedAt, openBy: counter.openBy.get(connectionId) }, times);
}

export function phaseOf(
  c: Pick<ConnectionRecord, 'connectedAt' | 'openBy' | 'handshakeAt' | 'state'>,
  counted: boolean,
  now: number,
  times: LifecycleTimes,
): Phase {
  if (!counted) return 'closed';
  if (c.state === 'closed') return 'ending';
  return now <= openByOf(c, times) ? 'opening' : 'live';
}

/** A `$connect` to admit, as API Gateway describes it (`connectedAt`, ms, is its arrival). */
export type ConnectRequest = Omit<NewConnection, 'leaseExpiresAt' | 'openBy'>;

/** A connection as one admitting write records it. */
export type AdmittingConnection = NewConnection & { openBy: number };

/**
 * The connection as the admitting write sent at `sentAt` records it. Its window nests around the one it replaces (a
 * takeover, an eviction): its `$connect` closes that socket before answering, chasing it until that one's `openBy`,
 * so its own `openBy` comes later by the last question's allowance and the margin (at most that much past its own
 * window), and the chase does not make it answer too late.
 */
export function admitting(
  deps: { leaseMs: number } & LifecycleTimes,
  request: ConnectRequest,
  sentAt: number,
  replacedOpenBy?: number,
): AdmittingConnection {
  const own = sentAt + deps.openingWindowMs;
  const nested = (replacedOpenBy ?? Number.NEGATIVE_INFINITY) + LAST_ANSWER_ALLOWANCE_MS + REGISTRATION_MARGIN_MS;
  // At most one window more than its own: a chain of reconnects each moments after the last would otherwise push the
  // window a second further per link, and with it every wait on the connection. Past the cap (a chain of more links
  // within one window than the gap divides it into), the chase can overrun this `$connect`'s answer: it withdraws (503).
  const openBy = Math.min(Math.max(own, nested), own + deps.openingWindowMs);
  return { ...request, openBy, leaseExpiresAt: request.connectedAt + deps.leaseMs };
}

/** The latest moment a `$connect` may answer 200 for this connection: API Gateway must know it by `openBy`. */
export const answerBy = (conn: { openBy: number }) => conn.openBy - REGISTRATION_MARGIN_MS;

/**
 * Asks `attempt` until `done`, or until an answer comes to a question asked after `until`: API Gateway's 410 is final
 * only for a question asked once the window has passed (a question asked just before it can be answered after the
 * socket opened). The first question is asked at once; `first`, when given, is one the caller already asked at
 * `firstAskedAt`.
 */
export async function chase<T>(
  clock: Clock,
  until: number,
  attempt: () => Promise<T>,
  done: (result: T) => boolean,
  first?: { result: T; askedAt: number },
): Promise<T> {
  let askedAt = first?.askedAt ?? clock.now();
  let result = first ? first.result : await attempt();
  for (let i = 0; !done(result) && askedAt <= until; i++) {
    const cadence = CHASE_DELAYS_MS[Math.min(i, CHASE_DELAYS_MS.length - 1)]!;
    await clock.sleep(Math.max(0, Math.min(cadence, until + 1 - clock.now())));
    askedAt = clock.now();
    result = await attempt();
  }
  return result;
}
