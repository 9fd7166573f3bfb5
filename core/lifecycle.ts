/**
 * A connection's life, in one place: its phases, the conditional write that moves it from one to the next, who tells
 * its socket why it ends and who closes it, and every time bound the core relies on, each named once with its reason.
 *
 *                admit | takeOver | evict
 *     (none) ───────────────────────────────▶ opening ──── openBy passes ────▶ live
 *                                                │                              │
 *                                                │  kick | player's end, or     │
 *                                                │  taken over | evicted: the   │
 *                                                │  item closed, still counted  │
 *                                                ▼                              ▼
 *                                             ending ── socket told and closed (or unknown after openBy),
 *                                                │      then uncounted ──────────────────────▶ closed
 *     opening | live ── $disconnect, ghost released, withdrawn ──────────────────────────────▶ closed
 *
 * Every arrow but the passing of `openBy` is one conditional write (a transaction where two items move together):
 * - admit: the counter counts the connection under the limit and its item is written, with `openBy` (below).
 * - takeOver, evict: the new connection is counted and its item written; the replaced one's item is closed in the same
 *   transaction and it stays counted (ending). The `$connect` that did it tells that socket why, closes it, uncounts
 *   it, and only then answers (`replaced.ts`), so its own socket opens after. It writes only once the one it replaces
 *   is known to API Gateway or past its window (a connect never replaces a socket that may still be opening), so the
 *   close after the write never waits on a window.
 * - a kick or a player's end closes the item (`state` open -> closed) on condition it is open: the one caller whose
 *   write succeeds is the teller. It tells the socket why, closes it, and only then uncounts it.
 * - `$disconnect` closes the item and uncounts it (the socket is gone); a ghost (its socket gone for sure) is
 *   uncounted and closed by a refused connect or the sweep; an ending connection whose socket is gone for sure is
 *   uncounted by whoever finds it so (`forgetMissing`); a `$connect` whose write came back too late withdraws its own.
 *   None of these tell anyone: there is no socket to tell.
 * While a connection is ending it holds its slot, so the count covers every socket that may be open and no new socket
 * opens beside it, however slow the store or API Gateway; a connect that needs that slot waits for it (`awaitEnded`).
 *
 * Held (an opt-in of players that reconnect by themselves, `resume=1`): when such a connection's socket closes and no
 * one ended it (its item still open: no kick, player's end, takeover or eviction), `$disconnect` leaves it counted and
 * sets `heldUntil` (RESUME_HOLD_MS) on condition the item is open and not held yet. Its socket is gone for good (a
 * `$disconnect` comes only for a socket API Gateway knew), so API Gateway's 410 about it is final whatever `openBy`.
 * While the hold lasts its slot counts: a reconnect of its stream takes it over in one write (the takeover above, the
 * count never dips), and anyone else's refused connect keeps it. Past the hold it is a ghost like any other (a refused
 * connect or the sweep releases it). A deliberate end (close code DELIBERATE_END_CODE) and connections without the
 * opt-in are released at once, as before.
 *
 * Phases, from the item, the counter and the clock:
 * - opening: counted, item open, before `openBy`: its socket may not be open yet, and API Gateway answers 410 for a
 *   socket inside its handshake exactly as for one that is gone. This is the only phase where that answer is ambiguous.
 * - live: counted, item open, past `openBy`: API Gateway knows its socket, or it is gone for good (a ghost).
 * - ending: counted, item closed: its teller is telling and closing its socket.
 * - closed: not counted.
 *
 * The one rule for API Gateway's 410: a question asked after the connection's `openBy` that answers 410 means gone;
 * before it, the socket may still open, and whoever must know asks again at the chase cadence until it is known or
 * an answer comes to a question asked after `openBy`. A socket once known that answers 410 has closed for good (a
 * connection id is one socket). `$connect` enforces `openBy` on itself: it answers by `openBy - REGISTRATION_MARGIN_MS`
 * or refuses the handshake (503) and withdraws. So a slow store makes admissions fail, never open late, and every
 * chase ends within the window: in Lambda too, before its caller answers.
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

/**
 * How long `$disconnect` keeps the slot of a `resume` connection that dropped (network, a `@connections` delete, a
 * crash of the player's host): a player that reconnects by itself gets its stream back before anyone else of the user
 * can take the place. Longer than the SDK's first reconnect tries (full-jitter backoff from 100 ms, doubling: five
 * tries within about 3 s) plus their handshakes under a slow store; short enough that a player that is not coming
 * back frees its place soon. The default of RESUME_HOLD_SECONDS.
 */
export const DEFAULT_RESUME_HOLD_MS = 10_000;

/**
 * The close code with which a player ends its stream on purpose (the SDK's `close()`): its slot is released at once,
 * never held. In the range RFC 6455 leaves to applications; API Gateway passes a client's close code to `$disconnect`
 * (`disconnectStatusCode`). Its own closes (a `@connections` delete, idle, the 2-hour cap) never carry it.
 */
export const DELIBERATE_END_CODE = 4000;

/** Whether a connection's slot is held for its stream's reconnect at `now` (see Held above). */
export const isHeld = (c: Pick<ConnectionRecord, 'state' | 'heldUntil'>, now: number) =>
  c.state === 'open' && c.heldUntil !== undefined && now <= c.heldUntil;

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

/** The connection as the admitting write sent at `sentAt` records it: its window starts as that write is sent. */
export function admitting(
  deps: { leaseMs: number } & LifecycleTimes,
  request: ConnectRequest,
  sentAt: number,
): AdmittingConnection {
  return { ...request, openBy: sentAt + deps.openingWindowMs, leaseExpiresAt: request.connectedAt + deps.leaseMs };
}

/**
 * How long a connect waits for a slot an ending connection still holds (its teller is telling and closing its socket):
 * until that connection's `openBy`, and at least one window from now, for a socket it can reach takes its teller one
 * API Gateway call or two. One still open after that has lost its teller (a crashed Lambda): the connect gives up on it.
 */
export function endingWaitUntil(
  c: Pick<ConnectionRecord, 'connectedAt' | 'openBy' | 'handshakeAt'>,
  now: number,
  times: LifecycleTimes,
): number {
  return Math.max(openByOf(c, times), now + times.openingWindowMs);
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
