/**
 * API Gateway's message throttling, and the bounds this one machine needs on top of it.
 *
 * API Gateway throttles with token buckets: a steady rate refills the bucket, the burst is its size, and a request
 * that finds it empty is answered with an error frame instead of reaching the integration. Locally there is one
 * stage-wide bucket for the message routes and, when configured, one bucket per route key (a request must find a
 * token in both). `$connect` is not in the stage bucket here: in AWS new connections have their own quota (500 per
 * second per account), and a flood of messages must not stop other players from connecting; give `$connect` a route
 * limit to throttle it. `$disconnect` is API Gateway's own event and is never throttled.
 *
 * On top of that, the emulator bounds the messages in flight (handed to a handler and not yet answered) per
 * connection and in total: AWS scales Lambda out, one machine cannot, and without a bound one socket's frames pile up
 * as pending handler calls until memory and the store are exhausted. A frame over either bound is throttled too.
 */
import { newRequestId } from './events.js';

/** A token bucket: `rate` tokens a second up to `burst`; starts full, as API Gateway's does. */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.refilledAt = now();
  }

  /** Whether a token is there now (without taking it). */
  has(): boolean {
    this.refill();
    return this.tokens >= 1;
  }

  /** Takes one token; call after `has()` answered true. */
  take(): void {
    this.tokens -= 1;
  }

  private refill() {
    const now = this.now();
    const elapsed = Math.max(0, now - this.refilledAt) / 1000;
    this.refilledAt = now;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.rate);
  }
}

export interface RouteLimit {
  route: string;
  rateLimit: number;
  burstLimit: number;
}

export interface ThrottleSettings {
  /** stage-wide steady messages per second, shared by every message route */
  rateLimit: number;
  /** stage-wide burst (the bucket's size) */
  burstLimit: number;
  /** per-route limits by route key (`$default`, `$connect`, a custom action), on top of the stage's */
  routes: readonly RouteLimit[];
  /** messages handed to a handler and not yet answered, per connection */
  maxInFlightPerConnection: number;
  /** the same, over every connection */
  maxInFlight: number;
}

/** Why a message was throttled, for the counters tests read. */
export type ThrottleCause = 'connectionInFlight' | 'totalInFlight' | 'stage' | 'route';

export interface ThrottleStats {
  /** messages in flight now */
  inFlight: number;
  /** the most messages ever in flight at once */
  maxInFlight: number;
  /** the most messages one connection ever had in flight at once */
  maxInFlightPerConnection: number;
  /** messages answered `Too Many Requests`, by cause */
  throttled: Record<ThrottleCause, number>;
}

/**
 * The frame API Gateway sends a throttled message's sender: its error frame (`{"message": "Forbidden", ...}` for a
 * missing route, `Internal server error` for a failed integration) with the throttle's message, spaced as API Gateway
 * spaces it.
 */
export function tooManyRequestsFrame(connectionId: string, requestId = newRequestId()): string {
  return `{"message": "Too Many Requests", "connectionId":${JSON.stringify(connectionId)}, "requestId":${JSON.stringify(requestId)}}`;
}

export class MessageThrottle {
  private readonly stage: TokenBucket;
  private readonly routeBuckets = new Map<string, TokenBucket>();
  private readonly perConnection = new Map<string, number>();
  private inFlight = 0;
  private readonly stats: ThrottleStats = {
    inFlight: 0,
    maxInFlight: 0,
    maxInFlightPerConnection: 0,
    throttled: { connectionInFlight: 0, totalInFlight: 0, stage: 0, route: 0 },
  };

  constructor(
    private readonly settings: ThrottleSettings,
    now: () => number = Date.now,
  ) {
    this.stage = new TokenBucket(settings.rateLimit, settings.burstLimit, now);
    // A Map: the route key looked up is the client's choice (`$request.body.action`), `__proto__` included.
    for (const { route, rateLimit, burstLimit } of settings.routes) {
      this.routeBuckets.set(route, new TokenBucket(rateLimit, burstLimit, now));
    }
  }

  /**
   * The cheap checks, before the frame is even parsed: the in-flight bounds and a token in the stage bucket. A frame
   * that fails them costs nothing more than its error frame.
   */
  precheck(connectionId: string): ThrottleCause | undefined {
    if ((this.perConnection.get(connectionId) ?? 0) >= this.settings.maxInFlightPerConnection) {
      return this.throttled('connectionInFlight');
    }
    if (this.inFlight >= this.settings.maxInFlight) return this.throttled('totalInFlight');
    if (!this.stage.has()) return this.throttled('stage');
    return undefined;
  }

  /**
   * After route selection: a token from the route's bucket (if it has one) and the stage's, then the message is in
   * flight until `done`. Neither bucket loses a token for a message the other refuses.
   */
  admit(connectionId: string, routeKey: string): ThrottleCause | undefined {
    const route = this.routeBuckets.get(routeKey);
    if (route && !route.has()) return this.throttled('route');
    if (!this.stage.has()) return this.throttled('stage');
    route?.take();
    this.stage.take();
    const mine = (this.perConnection.get(connectionId) ?? 0) + 1;
    this.perConnection.set(connectionId, mine);
    this.inFlight += 1;
    this.stats.inFlight = this.inFlight;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.inFlight);
    this.stats.maxInFlightPerConnection = Math.max(this.stats.maxInFlightPerConnection, mine);
    return undefined;
  }

  /** The handler answered (or threw): the message is no longer in flight. */
  done(connectionId: string): void {
    const mine = (this.perConnection.get(connectionId) ?? 1) - 1;
    if (mine <= 0) this.perConnection.delete(connectionId);
    else this.perConnection.set(connectionId, mine);
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.stats.inFlight = this.inFlight;
  }

  /** `$connect` has no stage bucket here (see above), only a route limit when one is configured. */
  admitConnect(): boolean {
    const route = this.routeBuckets.get('$connect');
    if (!route) return true;
    if (!route.has()) {
      this.throttled('route');
      return false;
    }
    route.take();
    return true;
  }

  snapshot(): ThrottleStats {
    return { ...this.stats, throttled: { ...this.stats.throttled } };
  }

  private throttled(cause: ThrottleCause): ThrottleCause {
    this.stats.throttled[cause] += 1;
    return cause;
  }
}
