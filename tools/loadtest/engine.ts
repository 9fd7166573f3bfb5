/**
 * Drives real `ws` sockets the way players do: each virtual user tries to hold its streams, keeps the admitted ones
 * alive with heartbeats, closes or drops some (churn) and reopens them, then everyone settles back to their share.
 */
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { sleep } from '../../core/retry.js';
import type { LoadOptions } from './options.js';
import { judge, type Verdict } from './verdict.js';
import { TOOL } from './version.js';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** The run's options as given, without credentials. */
export type Settings = Omit<LoadOptions, 'tokens' | 'tokenTemplate'> & { tokens?: number; tokenTemplate?: string };

export interface LoadReport {
  tool: { name: string; version: string };
  /** ISO 8601, when the first handshake could start */
  startedAt: string;
  settings: Settings;
  verdict: Verdict;
  url: string;
  users: number;
  streamsPerUser: number;
  limit: number;
  durationS: number;
  /** handshakes started */
  attempts: number;
  /** handshakes answered 101 */
  admitted: number;
  /** refused handshakes by HTTP status */
  rejected: Record<string, number>;
  /** handshakes that failed without an HTTP answer (by message) */
  errors: Record<string, number>;
  timeouts: number;
  /** connect latency in ms, from the first byte sent to the answer */
  latencyMs: { admitted: LatencySummary; refused: LatencySummary };
  admittedPerSecond: { mean: number; peak: number };
  /** streams open when the settle phase ended */
  heldAtEnd: number;
  /** what steady state should hold: users x min(streams per user, limit) */
  expectedHeld: number;
  maxHeldByOneUser: number;
  /** users seen holding more streams than the limit at once */
  violations: number;
  /** users that could not hold their share again by the end of the settle phase */
  lockedOut: number;
  settledInMs: number | null;
  closedByServer: number;
  heartbeats: { sent: number; answered: number };
  elapsedMs: number;
}

export interface Progress {
  phase: 'run' | 'settle' | 'closing';
  elapsedMs: number;
  held: number;
  attempts: number;
  admitted: number;
  rejected: number;
  errors: number;
  p99Ms: number;
}

const histogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

function summary(h: hdr.Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us / 10) / 100;
  if (h.totalCount === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

const jitter = (ms: number) => ms * (0.5 + Math.random());

/** Bounds the handshakes in flight. */
class Gate {
  private active = 0;
  get inFlight() {
    return this.active;
  }
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly size: number) {}
  async enter() {
    if (this.active < this.size) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  leave() {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

export interface RunHooks {
  onProgress?: (p: Progress) => void;
  /** runs once every user holds its share (or the settle phase timed out), before anything is closed */
  onSteady?: () => Promise<void>;
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Handshakes that failed without an HTTP answer, timeouts included: one figure for progress lines and the bench. */
export const failedHandshakes = (r: Pick<LoadReport, 'errors' | 'timeouts'>) => sum(r.errors) + r.timeouts;

/** Latencies are recorded in microseconds, at least 1 (the histogram's lowest value). */
const micros = (ms: number) => Math.max(1, Math.round(ms * 1000));

/** What the run saw: handshake outcomes, latencies, admissions per second and heartbeats. */
class Tally {
  attempts = 0;
  admitted = 0;
  timeouts = 0;
  closedByServer = 0;
  readonly rejected: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly latencyAdmitted = histogram();
  readonly latencyRefused = histogram();
  readonly heartbeats = { sent: 0, answered: 0 };
  private readonly admittedBuckets = new Map<number, number>();
  private firstAttemptAt = -1;
  private lastAdmittedAt = -1;

  attempt(at: number) {
    this.attempts++;
    if (this.firstAttemptAt < 0) this.firstAttemptAt = at;
  }

  opened(latencyMs: number) {
    this.latencyAdmitted.recordValue(micros(latencyMs));
  }

  refused(status: number | undefined, latencyMs: number) {
    this.latencyRefused.recordValue(micros(latencyMs));
    const code = String(status ?? 0);
    this.rejected[code] = (this.rejected[code] ?? 0) + 1;
  }

  failed(message: string) {
    if (/timed out/i.test(message)) this.timeouts++;
    else this.errors[message] = (this.errors[message] ?? 0) + 1;
  }

  admittedAt(at: number) {
    this.admitted++;
    this.lastAdmittedAt = at;
    const bucket = Math.floor(at / 1000);
    this.admittedBuckets.set(bucket, (this.admittedBuckets.get(bucket) ?? 0) + 1);
  }

  /** Mean over the admission window (first attempt to last admission) and the best whole second. */
  admissionRate(): LoadReport['admittedPerSecond'] {
    const windowS = this.lastAdmittedAt > this.firstAttemptAt ? (this.lastAdmittedAt - this.firstAttemptAt) / 1000 : 0;
    return {
      mean: windowS > 0 ? Math.round(this.admitted / windowS) : this.admitted,
      peak: Math.max(0, ...this.admittedBuckets.values()),
    };
  }
}

/** One virtual user and the streams it holds right now. */
class Player {
  held = 0;
  constructor(
    readonly index: number,
    readonly id: string,
  ) {}
}

/** All players, and what the verdict needs to know about them: their share, the most held, who broke the limit. */
class Crowd {
  readonly players: Player[];
  readonly share: number;
  maxHeld = 0;
  readonly violators = new Set<number>();

  constructor(private readonly options: LoadOptions) {
    this.share = Math.min(options.streamsPerUser, options.limit);
    this.players = Array.from({ length: options.users }, (_, i) => new Player(i, `${options.userPrefix}-${i}`));
  }

  gained(player: Player) {
    player.held++;
    this.maxHeld = Math.max(this.maxHeld, player.held);
    if (player.held > this.options.limit) this.violators.add(player.index);
  }

  held = () => this.players.reduce((n, p) => n + p.held, 0);
  settled = () => this.players.every((p) => p.held >= this.share);
  lockedOut = () => this.players.filter((p) => p.held < this.share).length;
}

/** Where a player's next stream connects: its identity (user id or token) and a stream id never used before. */
class Addresses {
  private streamSeq = 0;
  constructor(private readonly options: LoadOptions) {}

  for(player: Player): string {
    const { tokens, tokenTemplate } = this.options;
    const url = new URL(this.options.url);
    if (tokens) url.searchParams.set('token', tokens[player.index % tokens.length]!);
    else if (tokenTemplate) {
      url.searchParams.set(
        'token',
        tokenTemplate.replaceAll('{user}', player.id).replaceAll('{i}', String(player.index)),
      );
    } else url.searchParams.set('userId', player.id);
    url.searchParams.set('streamId', `${player.id}-s${this.streamSeq++}`);
    url.searchParams.set('device', 'loadtest');
    return url.toString();
  }
}

/** The run's phases: churn during `run`, waiting for everyone's share in `settle`, then `closing`. */
class Phases {
  phase: Progress['phase'] = 'run';
  stopping = false;
  /** ms since the start when every player held its share again during the settle phase */
  settledAt: number | null = null;
  private wake: (() => void) | undefined;

  /** Marks the moment everyone is settled, once, and ends the settle wait early. */
  note(now: number, everyoneSettled: boolean) {
    if (this.phase === 'settle' && this.settledAt === null && everyoneSettled) {
      this.settledAt = now;
      this.wake?.();
    }
  }

  async waitSettled(timeoutMs: number) {
    if (this.settledAt !== null) return;
    await Promise.race([new Promise<void>((r) => (this.wake = r)), sleep(timeoutMs)]);
  }
}

/** Open sockets, and which of them this tool closed itself: any other close came from the server. */
class Sockets {
  readonly live = new Set<WebSocket>();
  private readonly closedByUs = new Set<WebSocket>();

  close(socket: WebSocket, abruptly = false) {
    this.closedByUs.add(socket);
    if (abruptly) socket.terminate();
    else socket.close(1000);
  }

  /** Forgets a closed socket; true when the server closed it. */
  forget(socket: WebSocket): boolean {
    this.live.delete(socket);
    return !this.closedByUs.delete(socket);
  }
}

/** Everything one run shares between its players. */
interface Run {
  options: LoadOptions;
  startedAt: string;
  elapsed: () => number;
  tally: Tally;
  crowd: Crowd;
  phases: Phases;
  gate: Gate;
  sockets: Sockets;
  addresses: Addresses;
}

function newRun(options: LoadOptions): Run {
  const started = performance.now();
  return {
    options,
    startedAt: new Date().toISOString(),
    elapsed: () => performance.now() - started,
    tally: new Tally(),
    crowd: new Crowd(options),
    phases: new Phases(),
    gate: new Gate(options.concurrency),
    sockets: new Sockets(),
    addresses: new Addresses(options),
  };
}

const noteSettled = (run: Run) => run.phases.note(run.elapsed(), run.crowd.settled());

type Outcome = { kind: 'open'; socket: WebSocket } | { kind: 'refused' } | { kind: 'failed' };

/** One handshake, within the gate; counts its outcome. */
async function handshake(run: Run, player: Player): Promise<Outcome> {
  await run.gate.enter();
  try {
    if (run.phases.stopping) return { kind: 'failed' };
    run.tally.attempt(run.elapsed());
    return await connect(run, run.addresses.for(player));
  } finally {
    run.gate.leave();
  }
}

function connect(run: Run, url: string): Promise<Outcome> {
  const { tally, options } = run;
  const t0 = performance.now();
  return new Promise<Outcome>((resolve) => {
    const socket = new WebSocket(url, { handshakeTimeout: options.timeoutMs, perMessageDeflate: false });
    socket.once('open', () => {
      tally.opened(performance.now() - t0);
      resolve({ kind: 'open', socket });
    });
    socket.once('unexpected-response', (req, res) => {
      tally.refused(res.statusCode, performance.now() - t0);
      res.resume();
      req.destroy();
      resolve({ kind: 'refused' });
    });
    socket.once('error', (error) => {
      tally.failed(error.message);
      resolve({ kind: 'failed' });
    });
  });
}

/** Holds an admitted socket until churn, a drop, the server, or the end of the run closes it. */
function hold(run: Run, player: Player, socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    run.sockets.live.add(socket);
    run.crowd.gained(player);
    run.tally.admittedAt(run.elapsed());
    noteSettled(run);
    const beat = heartbeat(run, socket);
    const lifetime = churn(run, socket);
    socket.once('close', () => {
      clearInterval(beat);
      clearTimeout(lifetime);
      player.held--;
      if (run.sockets.forget(socket)) run.tally.closedByServer++;
      resolve();
    });
  });
}

function heartbeat(run: Run, socket: WebSocket): NodeJS.Timeout {
  socket.on('message', () => run.tally.heartbeats.answered++);
  socket.on('error', () => {});
  return setInterval(
    () => {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send('{"action":"heartbeat"}');
      run.tally.heartbeats.sent++;
    },
    jitter(run.options.heartbeatS * 1000),
  );
}

/** Churn and drops arrive as a Poisson process per stream, while the run lasts. */
function churn(run: Run, socket: WebSocket): NodeJS.Timeout | undefined {
  const { churn: close, drop } = run.options;
  const rate = close + drop;
  if (rate <= 0 || run.phases.phase !== 'run') return undefined;
  const ms = (-Math.log(1 - Math.random()) / rate) * 1000;
  return setTimeout(() => {
    if (run.phases.phase === 'run') run.sockets.close(socket, Math.random() < drop / rate);
  }, ms);
}

/** One stream a player tries to hold: past its share, a slot only keeps trying to catch slots churn frees up. */
async function slot(run: Run, player: Player) {
  while (!run.phases.stopping) {
    const outcome = await handshake(run, player);
    if (outcome.kind !== 'open') {
      await sleep(jitter(run.options.retryS * 1000));
      continue;
    }
    if (run.phases.stopping) {
      outcome.socket.terminate();
      return;
    }
    await hold(run, player, outcome.socket);
    noteSettled(run);
  }
}

/** Starts every player's slots, spread over the ramp; resolves once the last player has started. */
async function ramp(run: Run): Promise<Promise<void>[]> {
  const { players } = run.crowd;
  const { streamsPerUser, rampS, users } = run.options;
  const slots: Promise<void>[] = [];
  const start = (player: Player) => {
    for (let s = 0; s < streamsPerUser; s++) slots.push(slot(run, player));
  };
  if (rampS === 0) {
    // Everyone's first stream, then everyone's second...: players do not open all their streams in one instant.
    for (let s = 0; s < streamsPerUser; s++) for (const player of players) slots.push(slot(run, player));
    return slots;
  }
  await Promise.all(
    players.map(async (player) => {
      await sleep((player.index / users) * rampS * 1000);
      start(player);
    }),
  );
  return slots;
}

function reportProgress(run: Run, onProgress: RunHooks['onProgress']): NodeJS.Timeout {
  const { tally } = run;
  return setInterval(() => {
    onProgress?.({
      phase: run.phases.phase,
      elapsedMs: run.elapsed(),
      held: run.crowd.held(),
      attempts: tally.attempts,
      admitted: tally.admitted,
      rejected: sum(tally.rejected),
      errors: failedHandshakes(tally),
      p99Ms: summary(tally.latencyAdmitted).p99,
    });
  }, 1000);
}

/** After the run, waits (up to --settle) for every player to hold its share again. */
async function settle(run: Run) {
  run.phases.phase = 'settle';
  noteSettled(run);
  await run.phases.waitSettled(run.options.settleS * 1000);
}

/** Stops the slots and closes every socket, bounded in time. */
async function closeAll(run: Run, slots: Promise<void>[]) {
  const { phases, gate, sockets, options } = run;
  phases.phase = 'closing';
  phases.stopping = true;
  // Let handshakes in flight finish before closing anything: a slot freed now would admit them.
  const drainDeadline = performance.now() + options.timeoutMs + 1000;
  while (gate.inFlight > 0 && performance.now() < drainDeadline) await sleep(10);
  for (const socket of sockets.live) sockets.close(socket);
  const closeDeadline = performance.now() + 5000;
  while (sockets.live.size > 0 && performance.now() < closeDeadline) await sleep(20);
  for (const socket of sockets.live) socket.terminate();
  await Promise.race([Promise.all(slots), sleep(options.timeoutMs + options.retryS * 1500 + 1000)]);
}

/** The steady state as measured at the end of the settle phase, before anything is closed. */
interface Steady {
  heldAtEnd: number;
  lockedOut: number;
}

function settingsOf(options: LoadOptions): Settings {
  const { tokens, tokenTemplate, ...rest } = options;
  return {
    ...rest,
    ...(tokens ? { tokens: tokens.length } : {}),
    ...(tokenTemplate ? { tokenTemplate: '(given, not shown)' } : {}),
  };
}

function buildReport(run: Run, steady: Steady): LoadReport {
  const { options, tally, crowd, phases } = run;
  const violations = crowd.violators.size;
  return {
    tool: { ...TOOL },
    startedAt: run.startedAt,
    settings: settingsOf(options),
    verdict: judge({ violations, lockedOut: steady.lockedOut }),
    url: options.url,
    users: options.users,
    streamsPerUser: options.streamsPerUser,
    limit: options.limit,
    durationS: options.durationS,
    attempts: tally.attempts,
    admitted: tally.admitted,
    rejected: tally.rejected,
    errors: tally.errors,
    timeouts: tally.timeouts,
    latencyMs: { admitted: summary(tally.latencyAdmitted), refused: summary(tally.latencyRefused) },
    admittedPerSecond: tally.admissionRate(),
    heldAtEnd: steady.heldAtEnd,
    expectedHeld: options.users * crowd.share,
    maxHeldByOneUser: crowd.maxHeld,
    violations,
    lockedOut: steady.lockedOut,
    settledInMs:
      phases.settledAt === null ? null : Math.max(0, Math.round(phases.settledAt - options.durationS * 1000)),
    closedByServer: tally.closedByServer,
    heartbeats: { ...tally.heartbeats },
    elapsedMs: Math.round(run.elapsed()),
  };
}

export async function runLoad(options: LoadOptions, hooks: RunHooks = {}): Promise<LoadReport> {
  const run = newRun(options);
  const progressTimer = reportProgress(run, hooks.onProgress);
  const slots = await ramp(run);
  // The run: churn and drops happen for `duration` seconds (at least until the ramp is done).
  await sleep(Math.max(options.durationS * 1000 - run.elapsed(), 0));
  await settle(run);
  const steady = { heldAtEnd: run.crowd.held(), lockedOut: run.crowd.lockedOut() };
  await hooks.onSteady?.();
  await closeAll(run, slots);
  clearInterval(progressTimer);
  return buildReport(run, steady);
}
