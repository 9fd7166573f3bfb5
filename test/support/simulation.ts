/**
 * The core in a simulated world, in virtual time: the in-memory store and a model of API Gateway whose every call,
 * and every store round trip, takes a random (seeded) delay. Nothing real sleeps, so a test runs thousands of
 * interleavings of connects, closes, drops, kicks, takeovers and evictions in seconds, with slow and heavy-tailed
 * latencies as easily as fast ones, and checks the lifecycle's invariants at every step.
 *
 * API Gateway as modelled: a socket is in its handshake while `$connect` runs; on a 2xx answer it is registered (known
 * to `@connections`) within REGISTRATION_MARGIN_MS (lifecycle.ts), unless the handshake fails (a fault: it never
 * opens, and no `$disconnect` follows); `@connections` answers 410 for a socket in its handshake or gone; a socket
 * closed by either side gets a `$disconnect`, unless a fault drops it.
 */
import { type AdmissionDeps, connect, disconnect, heartbeat } from '../../core/admission.js';
import { closeUncounted, type EndedFrame } from '../../core/ended.js';
import { AdmissionTooLateError, LimitReachedError, StreamReplacedError } from '../../core/errors.js';
import { type Clock, REGISTRATION_MARGIN_MS } from '../../core/lifecycle.js';
import { endOwnStream } from '../../core/player.js';
import type { LimitPolicy } from '../../core/policy.js';
import type { ConnectionGateway, Liveness } from '../../core/ports.js';
import { sweep } from '../../core/reclaim.js';
import { MemoryStreamStore } from '../../core/store/memory/store.js';
import { endConnection } from '../../core/support.js';
import { type LatencyBand, sampleDelay } from '../../local/store-latency.js';
import { seeded } from '../../tools/capacity/simulate.js';

/** Virtual time: `sleep` schedules, `run` moves time to the next timer once everything else has settled. */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers: Array<{ at: number; seq: number; wake: () => void }> = [];
  /** called after every step of time, once all that step woke has settled */
  onStep?: () => void;

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, wake };
      // Same instant: first scheduled, first woken.
      let i = this.timers.length;
      while (i > 0 && this.timers[i - 1]!.at > timer.at) i--;
      this.timers.splice(i, 0, timer);
    });
  }

  /** Runs until nothing is scheduled (or virtual time passes `until`). */
  async run(until = Number.POSITIVE_INFINITY): Promise<void> {
    for (;;) {
      await settled();
      this.onStep?.();
      const next = this.timers[0];
      if (!next || next.at > until) return;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.wake();
    }
  }
}

/** Every promise job queued so far, and those they queue, has run (nothing here does real I/O). */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

export type Latency = 'none' | 'fast' | 'heavy';

/** Store round trips and `@connections` calls: fast, or with a tail of seconds (a throttled store, SDK retries). */
const BANDS: Record<Latency, LatencyBand[]> = {
  none: [],
  fast: [{ share: 1, minMs: 1, maxMs: 8 }],
  heavy: [
    { share: 0.85, minMs: 1, maxMs: 8 },
    { share: 0.12, minMs: 30, maxMs: 200 },
    { share: 0.03, minMs: 800, maxMs: 2_500 },
  ],
};

export interface WorldOptions {
  seed: number;
  limit: number;
  policy: LimitPolicy;
  storeLatency: Latency;
  gatewayLatency: Latency;
  /** share of `$disconnect`s lost */
  dropDisconnect: number;
  /** share of admitted handshakes that fail (the socket never opens, no `$disconnect`) */
  failHandshake: number;
  openingWindowMs?: number;
  /** players open with `resume=1` (the SDK): a socket they did not end keeps its slot for `resumeHoldMs` */
  resume?: boolean;
  resumeHoldMs?: number;
  /** a test's own delay (ms) for some store calls, instead of `storeLatency`'s; undefined falls back to it */
  storeDelay?: (call: string, phase: 'request' | 'response') => number | undefined;
}

export type SocketState = 'handshaking' | 'open' | 'closed' | 'refused' | 'failed';

export interface SimSocket {
  connectionId: string;
  userId: string;
  streamId?: string;
  state: SocketState;
  /** the handshake's answer */
  status?: number;
  frames: EndedFrame[];
  /** closed by the server (DeleteConnection), not by its player */
  closedByServer: boolean;
  lastActiveAt: number;
}

/** Something the oracle found wrong, when (virtual ms) and about whom. */
export interface Violation {
  at: number;
  what: string;
}

const quiet = { info() {}, warn() {}, error() {} };

export class World {
  readonly clock = new VirtualClock();
  readonly store: MemoryStreamStore;
  readonly gateway: ConnectionGateway;
  readonly deps: AdmissionDeps & { audit: typeof quiet };
  readonly sockets = new Map<string, SimSocket>();
  readonly violations: Violation[] = [];
  /** everything started (actors, `$disconnect`s), to wait for */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly random: () => number;
  private ids = 0;
  /** the oracle reads the store without delay */
  private instant = false;

  constructor(readonly options: WorldOptions) {
    this.random = seeded(options.seed);
    const delay = (latency: Latency) => () =>
      this.instant ? Promise.resolve() : this.clock.sleep(sampleDelay(BANDS[latency], this.random) / 2);
    const storeDelay = delay(options.storeLatency);
    this.store = new MemoryStreamStore((call, phase) => {
      const own = this.instant ? undefined : options.storeDelay?.(call, phase);
      return own === undefined ? storeDelay() : this.clock.sleep(own);
    });
    this.gateway = this.apiGateway(delay(options.gatewayLatency));
    this.deps = {
      store: this.store,
      gateway: this.gateway,
      clock: this.clock,
      defaultLimit: options.limit,
      defaultPolicy: options.policy,
      leaseMs: 300_000,
      maxConnectionMs: 7_200_000,
      handshakeGraceMs: 30_000,
      openingWindowMs: options.openingWindowMs ?? 5_000,
      resumeHoldMs: options.resumeHoldMs ?? 10_000,
      logger: quiet,
      audit: quiet,
    };
    this.clock.onStep = () => this.checkLimit();
  }

  private apiGateway(delay: () => Promise<void>): ConnectionGateway {
    const call = async <T>(answer: () => T): Promise<T> => {
      await delay();
      const result = answer();
      await delay();
      return result;
    };
    const open = (id: string) => this.sockets.get(id)?.state === 'open';
    return {
      probe: (id) => call((): Liveness => (open(id) ? 'alive' : 'gone')),
      lastActive: (id) => call(() => (open(id) ? this.sockets.get(id)!.lastActiveAt : 'gone')),
      send: (id, message) =>
        call(() => {
          if (!open(id)) return 'gone';
          this.sockets.get(id)!.frames.push(message as EndedFrame);
          return 'sent';
        }),
      disconnect: (id) =>
        call(() => {
          const socket = this.sockets.get(id);
          if (socket?.state !== 'open') return 'gone';
          socket.closedByServer = true;
          this.closeSocket(socket);
          return 'closed';
        }),
    };
  }

  /** Starts `task` (an actor) at virtual time `at`; `settle` waits for it. */
  at(at: number, task: () => Promise<unknown>): void {
    this.track(this.clock.sleep(at).then(task));
  }

  private track(p: Promise<unknown>) {
    const tracked = p.catch((error) => this.violations.push({ at: this.clock.now(), what: `threw: ${error}` }));
    this.pending.add(tracked);
    tracked.finally(() => this.pending.delete(tracked));
  }

  /** Runs virtual time until every actor and every `$disconnect` has finished. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) {
      await this.clock.run();
      await settled();
    }
  }

  /** A player opens a socket; resolves with it once the handshake is answered (and registered, if admitted). */
  async open(userId: string, streamId?: string): Promise<SimSocket> {
    const connectionId = `c${++this.ids}`;
    const socket: SimSocket = {
      connectionId,
      userId,
      streamId,
      state: 'handshaking',
      frames: [],
      closedByServer: false,
      lastActiveAt: this.clock.now(),
    };
    this.sockets.set(connectionId, socket);
    const request = {
      connectionId,
      userId,
      streamId,
      device: `d-${connectionId}`,
      connectedAt: this.clock.now(),
      ...(this.options.resume ? { resume: true } : {}),
    };
    socket.status = await connect(this.deps, request).then(
      () => 200,
      (error) => statusOf(error),
    );
    // With answers in milliseconds everywhere and no handshake or `$disconnect` lost, availability too: no "the store
    // is slow" (503), and no handshake longer than two opening windows (a wait on a socket still opening is one
    // window at most; the second covers a wait inside a retried round). A lost one leaves a socket that may still be
    // opening for all anyone knows, waited out until its window ends by whoever needs its slot, which a connect
    // caught behind it can outlast: then it answers 503 and the player connects again.
    const fast =
      this.options.storeLatency !== 'heavy' &&
      this.options.gatewayLatency !== 'heavy' &&
      this.options.failHandshake === 0 &&
      this.options.dropDisconnect === 0;
    const took = this.clock.now() - request.connectedAt;
    const bound = 2 * (this.deps.openingWindowMs + REGISTRATION_MARGIN_MS);
    if (fast && socket.status === 503)
      this.violations.push({ at: this.clock.now(), what: `${connectionId} refused 503 with fast answers everywhere` });
    if (fast && took > bound)
      this.violations.push({
        at: this.clock.now(),
        what: `${connectionId} answered ${socket.status} after ${took} ms`,
      });
    if (socket.status !== 200) {
      socket.state = 'refused';
      return socket;
    }
    if (this.random() < this.options.failHandshake) {
      socket.state = 'failed';
      return socket;
    }
    // API Gateway learns of the socket a moment after `$connect` answered, within the margin.
    await this.clock.sleep(this.random() * REGISTRATION_MARGIN_MS * 0.9);
    socket.state = 'open';
    socket.lastActiveAt = this.clock.now();
    return socket;
  }

  /**
   * Its player closes it (or the network drops it, 1000 or 1006 alike): a `$disconnect` that may be lost. `code` 4000 is
   * the player's deliberate end (core/lifecycle.ts, DELIBERATE_END_CODE).
   */
  close(socket: SimSocket, code = 1000): void {
    if (socket.state === 'open') this.closeSocket(socket, code);
  }

  private closeSocket(socket: SimSocket, code = 1000) {
    socket.state = 'closed';
    if (this.random() < this.options.dropDisconnect) return;
    this.track(
      this.clock
        .sleep(sampleDelay(BANDS[this.options.gatewayLatency], this.random))
        .then(() => disconnect(this.deps, socket.connectionId, this.clock.now(), code)),
    );
  }

  /** A heartbeat: the handler's answer, and `closeUncounted` for a socket that no longer counts. */
  async message(socket: SimSocket): Promise<void> {
    if (socket.state !== 'open') return;
    socket.lastActiveAt = this.clock.now();
    const counted = await heartbeat(this.deps, socket.connectionId, this.clock.now());
    if (!counted) await closeUncounted(this.deps, socket.connectionId, this.clock.now());
  }

  kick(connectionId: string) {
    return endConnection(this.deps, 'staff', connectionId).catch((error) => {
      if ((error as Error).name !== 'ConnectionNotFoundError') throw error;
    });
  }

  endOwn(userId: string, streamId: string) {
    return endOwnStream(this.deps, userId, streamId);
  }

  sweep() {
    return sweep(this.deps, this.clock.now());
  }

  openSockets(userId: string): SimSocket[] {
    return [...this.sockets.values()].filter((s) => s.userId === userId && s.state === 'open');
  }

  /** At every step of time: no user has more sockets open than the limit, not even for a moment. */
  private checkLimit() {
    const open = new Map<string, number>();
    for (const s of this.sockets.values()) if (s.state === 'open') open.set(s.userId, (open.get(s.userId) ?? 0) + 1);
    for (const [userId, n] of open) {
      if (n > this.options.limit) this.violations.push({ at: this.clock.now(), what: `${userId} has ${n} open` });
    }
  }

  /**
   * Once everything settled: every open socket counted (its item open, its member on the counter), every counter's
   * count its members; each socket the server closed was told why once, last, and no socket twice; nobody was told
   * `uncounted` whose stream nobody ended.
   */
  async checkSettled(users: string[]): Promise<void> {
    this.instant = true;
    const now = this.clock.now();
    for (const userId of users) {
      const counter = await this.store.getCounter(userId);
      if (counter.active !== counter.counted.size)
        this.violations.push({ at: now, what: `${userId}: active ${counter.active}, members ${counter.counted.size}` });
      for (const s of this.openSockets(userId)) {
        const item = await this.store.getConnection(s.connectionId);
        if (!counter.counted.has(s.connectionId) || item?.state !== 'open')
          this.violations.push({ at: now, what: `${s.connectionId} is open and not counted (${item?.closeReason})` });
      }
    }
    for (const s of this.sockets.values()) {
      const ended = s.frames.filter((f) => f.type === 'ended');
      if (s.closedByServer && (ended.length !== 1 || s.frames.at(-1)?.type !== 'ended'))
        this.violations.push({ at: now, what: `${s.connectionId} closed by the server with frames ${json(s.frames)}` });
      // Told, then closed by its player before the server's close landed: fine; told twice is not.
      if (ended.length > 1 || (ended.length === 1 && s.frames.at(-1)?.type !== 'ended'))
        this.violations.push({ at: now, what: `${s.connectionId} was told ${json(s.frames)}` });
      if (ended.some((f) => f.reason === 'uncounted')) {
        const item = await this.store.getConnection(s.connectionId);
        if (!item?.closeReason || !ENDED_BY_SOMEONE.has(item.closeReason))
          this.violations.push({ at: now, what: `${s.connectionId} told uncounted, ended as ${item?.closeReason}` });
      }
    }
    this.instant = false;
  }
}

/** Who ends a stream on purpose: a socket of theirs may be told `uncounted` if it speaks before their frame arrives. */
const ENDED_BY_SOMEONE = new Set(['kicked', 'endedByUser', 'evicted', 'takenOver']);

const json = (v: unknown) => JSON.stringify(v);

/** The handshake's answer as the `$connect` handler maps the core's outcome. */
function statusOf(error: unknown): number {
  if (error instanceof LimitReachedError) return 429;
  if (error instanceof StreamReplacedError) return 409;
  if (error instanceof AdmissionTooLateError) return 503;
  if ((error as Error)?.name === 'StoreContentionError') return 503;
  throw error;
}

/** The opening window of `quietWorld`. */
export const QUIET_WINDOW_MS = 5_000;

/** A world of one seed with nothing slow and nothing lost, for the core's step-by-step unit tests. */
export function quietWorld(options: Partial<WorldOptions> = {}): World {
  return new World({
    seed: 7,
    limit: 3,
    policy: 'block-new',
    storeLatency: 'none',
    gatewayLatency: 'none',
    dropDisconnect: 0,
    failHandshake: 0,
    openingWindowMs: QUIET_WINDOW_MS,
    ...options,
  });
}

/** Runs `act` as an actor in virtual time, to the end of everything it started. */
export async function runAsActor<T>(w: World, act: () => Promise<T>): Promise<T> {
  let result: T | undefined;
  w.at(0, async () => {
    result = await act();
  });
  await w.settle();
  return result as T;
}
