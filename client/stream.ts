/**
 * One stream: the socket that holds its slot, heartbeats at the lease's cadence, reconnects after a close the server
 * did not decide, and renews before API Gateway's cap by opening the replacement first (same `streamId`: the server's
 * takeover keeps the slot) and letting the old socket be taken over. The rules are in docs/sdk.md.
 */
import { backoffDelay } from './backoff.js';
import { documentOf, invalidParameter, randomStreamId, socketUrl } from './params.js';
import { handshakeStatusOf, judgeFailure } from './refusal.js';
import type {
  Clock,
  Ended,
  EndedReason,
  SocketFactory,
  SocketLike,
  Stream,
  StreamEventName,
  StreamEvents,
  StreamOptions,
} from './types.js';

export const DEFAULT_MAX_DURATION_MS = 2 * 60 * 60 * 1000;
export const DEFAULT_RENEW_MARGIN_MS = 60_000;
/** Half the lease, but never longer than this: API Gateway closes a socket idle for 10 minutes. */
export const MAX_HEARTBEAT_MS = 5 * 60_000;
const MIN_HEARTBEAT_MS = 1_000;
/** When the lease's answer makes no sense by this device's clock (set minutes ahead, say). */
export const SKEWED_HEARTBEAT_MS = 60_000;
/** Until the first heartbeat is answered (throttled, or the store was slow), it is sent again this often. */
export const FIRST_HEARTBEAT_RETRY_MS = 2_000;
/** A replaced socket the server has not closed by then is closed here: no socket is left behind. */
const RETIRED_SOCKET_GRACE_MS = 10_000;
const OPEN = 1;

/**
 * The close code of `close()`, the player's own end: the server frees the slot at once. Any other close of a socket
 * of this stream (a drop, a `@connections` delete) has the server hold the slot for a while, as `resume=1` asks
 * (core/lifecycle.ts, DELIBERATE_END_CODE and RESUME_HOLD_MS), so the reconnect below finds its place kept.
 */
export const DELIBERATE_END_CODE = 4000;

/** Ended by a person or another player: coming back would undo what they did, or fight the other player. */
export const FINAL_REASONS: ReadonlySet<EndedReason> = new Set(['takenOver', 'kicked', 'endedByUser', 'evicted']);

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** One socket of the stream: the first, a reconnect, or a renewal's replacement. */
interface Attempt {
  socket: SocketLike;
  renewal: boolean;
  openedAt?: number;
  connectionId?: string;
  /** its first heartbeat was answered: the server counts it */
  admitted: boolean;
  /** what its `ended` frame said */
  ended?: Ended;
  /** replaced by a renewal: whatever it says or does from now on is not the stream's news */
  retired: boolean;
  handshakeStatus?: number;
  heartbeatEveryMs: number;
  heartbeatTimer?: unknown;
}

type Handlers = { [E in StreamEventName]: Set<(payload: StreamEvents[E]) => void> };

export class StreamSession implements Stream {
  readonly streamId: string;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly Socket: SocketFactory;
  private readonly renewAfterMs: number;
  private readonly handlers: Handlers = {
    admitted: new Set(),
    refused: new Set(),
    ended: new Set(),
    reconnecting: new Set(),
    renewed: new Set(),
    error: new Set(),
    frame: new Set(),
  };
  private current?: Attempt;
  private renewal?: Attempt;
  private retired = new Set<Attempt>();
  /** failed tries since the last admission: the backoff's exponent */
  private failures = 0;
  private everAdmitted = false;
  private retryTimer?: unknown;
  private renewTimer?: unknown;
  private renewAt?: number;
  private finished = false;
  private readonly onVisibility = () => this.resume();

  constructor(private readonly options: StreamOptions) {
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.streamId = options.streamId ?? randomStreamId();
    const maxDurationMs = options.maxDurationMs ?? DEFAULT_MAX_DURATION_MS;
    const renewMarginMs = options.renewMarginMs ?? DEFAULT_RENEW_MARGIN_MS;
    if (!(renewMarginMs >= 0 && renewMarginMs < maxDurationMs))
      throw new RangeError('renewMarginMs must be at least 0 and below maxDurationMs');
    this.renewAfterMs = maxDurationMs - renewMarginMs;
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketFactory }).WebSocket;
    if (!Socket) throw new Error('no WebSocket: pass options.WebSocket (in Node, the `ws` package)');
    this.Socket = Socket;
    const invalid = invalidParameter(options, this.streamId);
    if (invalid) {
      this.finished = true;
      // After the caller has had the chance to listen.
      const { status, code, text: message } = invalid;
      this.clock.setTimeout(() => this.emit('refused', { status, code, message }), 0);
      return;
    }
    documentOf()?.addEventListener('visibilitychange', this.onVisibility);
    this.current = this.connect(false);
  }

  get connectionId(): string | undefined {
    return this.current?.connectionId;
  }

  get closed(): boolean {
    return this.finished;
  }

  on<E extends StreamEventName>(event: E, handler: (payload: StreamEvents[E]) => void): this {
    (this.handlers[event] as Set<typeof handler>).add(handler);
    return this;
  }

  off<E extends StreamEventName>(event: E, handler: (payload: StreamEvents[E]) => void): this {
    (this.handlers[event] as Set<typeof handler>).delete(handler);
    return this;
  }

  heartbeat(): void {
    if (this.current && !this.finished) this.sendHeartbeat(this.current);
  }

  close(): void {
    this.stop();
  }

  // --- sockets ---------------------------------------------------------------------------------------------------

  private connect(renewal: boolean): Attempt {
    const a: Attempt = {
      socket: new this.Socket(socketUrl(this.options, this.streamId)),
      renewal,
      admitted: false,
      retired: false,
      heartbeatEveryMs: FIRST_HEARTBEAT_RETRY_MS,
    };
    a.socket.onopen = () => {
      a.openedAt = this.clock.now();
      // The first heartbeat's answer names the connection and proves the server counts it.
      this.sendHeartbeat(a);
    };
    a.socket.onmessage = (event) => this.onFrame(a, event.data);
    a.socket.onerror = (event) => {
      a.handshakeStatus ??= handshakeStatusOf(event);
    };
    a.socket.onclose = () => this.onClose(a);
    return a;
  }

  private sendHeartbeat(a: Attempt): void {
    this.clock.clearTimeout(a.heartbeatTimer);
    if (a.socket.readyState !== OPEN) return;
    try {
      a.socket.send('{"action":"heartbeat"}');
    } catch {
      // A socket closing under the send: its close event says what comes next.
    }
    // Sent again if unanswered (throttled, a slow store); an answer sets the lease's cadence instead.
    a.heartbeatTimer = this.clock.setTimeout(() => this.sendHeartbeat(a), a.heartbeatEveryMs);
  }

  private onFrame(a: Attempt, data: unknown): void {
    if (a.retired || this.finished) return;
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(String(data)) as Record<string, unknown>;
    } catch {
      return; // not the service's: nothing to act on
    }
    if (frame === null || typeof frame !== 'object') return;
    const ownTakeover = frame.type === 'ended' && frame.reason === 'takenOver' && this.renewal && a === this.current;
    if (!ownTakeover) this.emit('frame', frame);
    if (frame.type === 'heartbeat') this.onHeartbeatAnswer(a, frame);
    else if (frame.type === 'ended') {
      a.ended = { reason: frame.reason as EndedReason, device: typeof frame.device === 'string' ? frame.device : null };
    } else if (frame.type === 'error')
      this.emit('error', { code: String(frame.code ?? 'UNKNOWN'), message: String(frame.message ?? '') });
    // API Gateway's "Too Many Requests" and status answers need nothing: an unanswered heartbeat is sent again.
  }

  private onHeartbeatAnswer(a: Attempt, frame: Record<string, unknown>): void {
    if (typeof frame.connectionId === 'string') a.connectionId = frame.connectionId;
    // The lease's length, as the server counts it; heartbeats come at half of it, so one lost is not a lapse.
    // A lease already over by this device's clock means the clocks disagree, not a lease of no length: a heartbeat
    // a minute is cheap and keeps API Gateway's idle timeout away whatever the lease.
    const leaseLeftMs = Date.parse(String(frame.leaseExpiresAt)) - this.clock.now();
    a.heartbeatEveryMs =
      Number.isFinite(leaseLeftMs) && leaseLeftMs > 0
        ? Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, leaseLeftMs / 2))
        : SKEWED_HEARTBEAT_MS;
    this.clock.clearTimeout(a.heartbeatTimer);
    a.heartbeatTimer = this.clock.setTimeout(() => this.sendHeartbeat(a), a.heartbeatEveryMs);
    if (!a.admitted) {
      a.admitted = true;
      this.onAdmitted(a);
    }
  }

  private onAdmitted(a: Attempt): void {
    this.failures = 0;
    this.clock.clearTimeout(this.retryTimer);
    if (a.renewal) {
      const previous = this.current;
      this.renewal = undefined;
      this.current = a;
      if (previous) this.retire(previous);
      this.emit('renewed', { connectionId: a.connectionId ?? '', previousConnectionId: previous?.connectionId });
    } else {
      this.emit('admitted', {
        connectionId: a.connectionId ?? '',
        streamId: this.streamId,
        reconnected: this.everAdmitted,
      });
    }
    this.everAdmitted = true;
    this.scheduleRenewal(a);
  }

  /** The server takes the old socket over (its `ended` frame is not news); if it has not closed it soon, this does. */
  private retire(a: Attempt): void {
    a.retired = true;
    this.clock.clearTimeout(a.heartbeatTimer);
    if (a.socket.readyState === 3) return;
    this.retired.add(a);
    a.heartbeatTimer = this.clock.setTimeout(() => {
      this.retired.delete(a);
      a.socket.close(1000);
    }, RETIRED_SOCKET_GRACE_MS);
  }

  private scheduleRenewal(a: Attempt): void {
    this.clock.clearTimeout(this.renewTimer);
    this.renewAt = (a.openedAt ?? this.clock.now()) + this.renewAfterMs;
    this.renewTimer = this.clock.setTimeout(() => this.renew(), Math.max(0, this.renewAt - this.clock.now()));
  }

  /** A socket, or none when the WebSocket constructor threw (said as an `error`; the caller tries again later). */
  private tryConnect(renewal: boolean): Attempt | undefined {
    try {
      return this.connect(renewal);
    } catch (error) {
      this.emit('error', { code: 'CONNECT_FAILED', message: String(error) });
      return undefined;
    }
  }

  private renewLater(): void {
    this.failures += 1;
    const wait = backoffDelay(this.failures - 1, this.random, this.options.backoff);
    this.renewTimer = this.clock.setTimeout(() => this.renew(), wait);
  }

  private renew(): void {
    if (this.finished || this.renewal) return;
    this.renewAt = undefined;
    this.renewal = this.tryConnect(true);
    if (!this.renewal) this.renewLater();
  }

  // --- closes ----------------------------------------------------------------------------------------------------

  private onClose(a: Attempt): void {
    this.clock.clearTimeout(a.heartbeatTimer);
    if (a.retired) {
      this.retired.delete(a);
      return;
    }
    if (this.finished) return;
    if (a === this.renewal) this.onRenewalClose(a);
    else if (a === this.current) this.onCurrentClose(a);
  }

  private finalEnd(a: Attempt): Ended | undefined {
    return a.ended && FINAL_REASONS.has(a.ended.reason) ? a.ended : undefined;
  }

  /** The replacement closed before it was admitted. */
  private onRenewalClose(a: Attempt): void {
    this.renewal = undefined;
    const final = this.finalEnd(a);
    if (final) this.end(final);
    else if (this.current && this.current.socket.readyState === OPEN) {
      // The old socket still plays: try the renewal again after a wait, and nobody needs to hear of it.
      this.renewLater();
    } else {
      this.current = undefined;
      if (a.openedAt === undefined) this.afterFailedTry(a);
      else this.retryLater(a.ended ? a.ended.reason : 'closed without a reason');
    }
  }

  private onCurrentClose(a: Attempt): void {
    const final = this.finalEnd(a);
    // Our own renewal took this socket over: the replacement carries the stream (and names this one as its previous).
    if (a.ended?.reason === 'takenOver' && this.renewal) return;
    if (final) {
      this.end(final);
      return;
    }
    if (this.renewal) return; // the replacement on its way is the reconnect
    this.clock.clearTimeout(this.renewTimer);
    if (a.openedAt === undefined) this.afterFailedTry(a);
    else {
      this.current = undefined;
      this.retryLater(a.ended ? a.ended.reason : 'closed without a reason');
    }
  }

  /** A try that never opened: refused for good (tell the player), or worth trying again. */
  private afterFailedTry(a: Attempt): void {
    judgeFailure(this.options, this.streamId, a.handshakeStatus).then(
      (verdict) => {
        if (this.finished) return;
        if ('final' in verdict) {
          this.stop();
          this.emit('refused', verdict.final);
        } else this.retryLater(verdict.transient);
      },
      (error: unknown) => !this.finished && this.retryLater(String(error)),
    );
  }

  private retryLater(cause: string): void {
    const delayMs = backoffDelay(this.failures, this.random, this.options.backoff);
    this.failures += 1;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.clock.setTimeout(() => {
      if (this.finished) return;
      this.current = this.tryConnect(false);
      if (!this.current) this.retryLater('could not open a socket');
    }, delayMs);
    this.emit('reconnecting', { attempt: this.failures, delayMs, cause });
  }

  private end(ended: Ended): void {
    this.stop();
    this.emit('ended', ended);
  }

  /** Back in view: timers may have run late in a hidden tab, so the lease and the renewal are seen to now. */
  private resume(): void {
    if (documentOf()?.visibilityState !== 'visible' || this.finished) return;
    this.heartbeat();
    if (this.renewAt !== undefined && this.clock.now() >= this.renewAt) this.renew();
  }

  /**
   * Every timer stopped, every socket closed as ended on purpose (the server releases the slot at once, not held for
   * a reconnect), no event after this but the last.
   */
  private stop(): void {
    this.finished = true;
    documentOf()?.removeEventListener('visibilitychange', this.onVisibility);
    this.clock.clearTimeout(this.retryTimer);
    this.clock.clearTimeout(this.renewTimer);
    for (const a of [this.current, this.renewal, ...this.retired]) {
      if (!a) continue;
      this.clock.clearTimeout(a.heartbeatTimer);
      a.retired = true;
      try {
        a.socket.close(DELIBERATE_END_CODE, 'ended');
      } catch {
        // already closed
      }
    }
    this.retired.clear();
  }

  private emit<E extends StreamEventName>(event: E, payload: StreamEvents[E]): void {
    for (const handler of [...this.handlers[event]]) {
      try {
        handler(payload);
      } catch (error) {
        // A player's handler that throws must not leave the stream half-handled; the error still surfaces.
        this.clock.setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }
}
