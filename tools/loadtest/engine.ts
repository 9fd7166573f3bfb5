/**
 * Drives real `ws` sockets the way players do. Closed model (default): each virtual user tries to hold its streams,
 * keeps the admitted ones alive with heartbeats, closes, drops or reconnects some in place (churn) and reopens them,
 * then everyone settles back to their share. Open model (`--rate`): new streams arrive at a fixed rate on random
 * users whatever the answers, each watched for a while; then every user must be able to hold its share again.
 * Reconnects reuse the stream's id, as players do, so the server takes the old connection over.
 */
import WebSocket from 'ws';
import { sleep } from '../../core/retry.js';
import type { LoadOptions } from './options.js';
import { type LatencySummary, sum, summary, type TakeoverFigures, Tally } from './tally.js';
import type { TimelineSecond } from './timeline.js';
import { judge, type Verdict } from './verdict.js';
import { TOOL } from './version.js';

export type { LatencySummary, TakeoverFigures } from './tally.js';

/** The run's options as given, without credentials. */
export type Settings = Omit<LoadOptions, 'tokens' | 'tokenTemplate' | 'thresholds'> & {
  tokens?: number;
  tokenTemplate?: string;
  thresholds: string[];
};

export interface LoadReport {
  tool: { name: string; version: string };
  /** ISO 8601, when the first handshake could start */
  startedAt: string;
  /** `closed`: every user keeps trying to hold its streams; `open`: new streams arrive at `--rate` per second */
  model: 'closed' | 'open';
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
  /** open model: new streams due in the run (rate x duration), and those not started because `--concurrency`
   * handshakes were already in flight */
  arrivals: number;
  skipped: number;
  /** connect latency in ms, from the first byte sent to the answer */
  latencyMs: { admitted: LatencySummary; refused: LatencySummary };
  admittedPerSecond: { mean: number; peak: number };
  /** admissions that reused a stream id held before in this run */
  reconnects: number;
  takeovers: TakeoverFigures;
  /** streams open when the settle phase ended */
  heldAtEnd: number;
  /** what steady state should hold: users x min(streams per user, limit) */
  expectedHeld: number;
  /** the most distinct streams any one user held at once (a socket being replaced by a takeover is not a stream) */
  maxHeldByOneUser: number;
  /** users seen holding more streams than the limit at once */
  violations: number;
  /** users that could not hold their share again by the end of the settle phase */
  lockedOut: number;
  settledInMs: number | null;
  closedByServer: number;
  heartbeats: { sent: number; answered: number };
  elapsedMs: number;
  /** one entry per second of the run */
  timeline: TimelineSecond[];
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

/** How long a socket replaced by a takeover may stay open before it counts as lingering (the server lost it). */
export const LINGER_GRACE_MS = 3000;

const jitter = (ms: number) => ms * (0.5 + Math.random());
/** Exponentially distributed waiting time for events at `rate` per second. */
const exponentialMs = (rate: number) => (-Math.log(1 - Math.random()) / rate) * 1000;

/** Bounds the handshakes in flight. */
class Gate {
  private active = 0;
  get inFlight() {
    return this.active;
  }
  get full() {
    return this.active >= this.size;
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

/** Handshakes that failed without an HTTP answer, timeouts included: one figure for progress lines and the bench. */
export const failedHandshakes = (r: Pick<LoadReport, 'errors' | 'timeouts'>) => sum(r.errors) + r.timeouts;

/** One virtual user and the streams it holds right now: open sockets per stream id. */
class Player {
  /** more than one socket for a stream only while a takeover replaces one */
  readonly streams = new Map<string, number>();
  /** stream ids this player has been admitted for (to count reconnects) */
  readonly seen = new Set<string>();
  private slots = 0;
  constructor(
    readonly index: number,
    readonly id: string,
  ) {}
  get held() {
    return this.streams.size;
  }
  /** The stream id of this player's next slot (closed model, and the settle phase). */
  nextSlotStream = () => `${this.id}-s${this.slots++}`;
}

/**
 * All players, and what the verdict needs: their share, the most held, who broke the limit. A user holds a stream
 * while at least one socket for its id is open, so a takeover (new socket first, old one closed by the server) is not
 * an extra stream; more distinct streams than the limit is a violation, exactly.
 */
class Crowd {
  readonly players: Player[];
  readonly share: number;
  maxHeld = 0;
  total = 0;
  readonly violators = new Set<number>();

  constructor(
    private readonly options: LoadOptions,
    private readonly onHeld: (total: number) => void,
  ) {
    this.share = Math.min(options.streamsPerUser, options.limit);
    this.players = Array.from({ length: options.users }, (_, i) => new Player(i, `${options.userPrefix}-${i}`));
  }

  gained(player: Player, streamId: string) {
    const sockets = player.streams.get(streamId) ?? 0;
    player.streams.set(streamId, sockets + 1);
    if (sockets > 0) return;
    this.total++;
    this.onHeld(this.total);
    this.maxHeld = Math.max(this.maxHeld, player.held);
    if (player.held > this.options.limit) this.violators.add(player.index);
  }

  lost(player: Player, streamId: string) {
    const sockets = player.streams.get(streamId) ?? 0;
    if (sockets > 1) {
      player.streams.set(streamId, sockets - 1);
      return;
    }
    player.streams.delete(streamId);
    this.total--;
    this.onHeld(this.total);
  }

  settled = () => this.players.every((p) => p.held >= this.share);
  lockedOut = () => this.players.filter((p) => p.held < this.share).length;
}

/** Where a player's stream connects: its identity (user id or token) and the stream id. */
class Addresses {
  private streamSeq = 0;
  constructor(private readonly options: LoadOptions) {}

  /** A stream id for a new stream; without reuse, every handshake gets a fresh one. */
  fresh = (player: Player) => `${player.id}-r${this.streamSeq++}`;

  for(player: Player, streamId: string): string {
    const { tokens, tokenTemplate } = this.options;
    const url = new URL(this.options.url);
    if (tokens) url.searchParams.set('token', tokens[player.index % tokens.length]!);
    else if (tokenTemplate) {
      url.searchParams.set(
        'token',
        tokenTemplate.replaceAll('{user}', player.id).replaceAll('{i}', String(player.index)),
      );
    } else url.searchParams.set('userId', player.id);
    url.searchParams.set('streamId', this.options.reuseStreams ? streamId : this.fresh(player));
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

/** Open sockets, which of them this tool closed itself (any other close came from the server), and replaced ones. */
class Sockets {
  readonly live = new Set<WebSocket>();
  /** sockets replaced by a takeover, still open, and when their successor was admitted (ms since the start) */
  readonly replaced = new Map<WebSocket, number>();
  private readonly closedByUs = new Set<WebSocket>();

  close(socket: WebSocket, abruptly = false) {
    this.closedByUs.add(socket);
    if (abruptly) socket.terminate();
    else socket.close(1000);
  }

  /** Forgets a closed socket; true when the server closed it. */
  forget(socket: WebSocket): boolean {
    this.live.delete(socket);
    this.replaced.delete(socket);
    return !this.closedByUs.delete(socket);
  }

  /** Replaced sockets still open at least `graceMs` after their successor was admitted. */
  lingering(now: number, graceMs: number): number {
    let n = 0;
    for (const since of this.replaced.values()) if (now - since >= graceMs) n++;
    return n;
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
  const elapsed = () => performance.now() - started;
  const tally = new Tally(elapsed);
  return {
    options,
    startedAt: new Date().toISOString(),
    elapsed,
    tally,
    crowd: new Crowd(options, (total) => tally.timeline.held(elapsed(), total)),
    phases: new Phases(),
    gate: new Gate(options.concurrency),
    sockets: new Sockets(),
    addresses: new Addresses(options),
  };
}

const noteSettled = (run: Run) => run.phases.note(run.elapsed(), run.crowd.settled());

type Outcome = { kind: 'open'; socket: WebSocket } | { kind: 'refused'; status: number } | { kind: 'failed' };

/** One handshake, within the gate; counts its outcome. */
async function handshake(run: Run, player: Player, streamId: string): Promise<Outcome> {
  await run.gate.enter();
  try {
    if (run.phases.stopping) return { kind: 'failed' };
    run.tally.attempt();
    return await connect(run, run.addresses.for(player, streamId));
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
      resolve({ kind: 'refused', status: res.statusCode ?? 0 });
    });
    socket.once('error', (error) => {
      tally.failed(error.message);
      resolve({ kind: 'failed' });
    });
  });
}

/** What one stream of a player is: its id, and (open model) when the viewer stops watching. */
interface Stream {
  player: Player;
  id: string;
  /** ms since the start; the stream is closed then and its slot ends */
  endsAt?: number;
}

/** How a held socket's time ended: closed (the slot decides what next), or replaced by a socket for the same stream. */
type Held = { kind: 'closed' } | { kind: 'replaced'; socket: WebSocket };

/** Registers an admitted socket as holding its stream. */
function admit(run: Run, stream: Stream, socket: WebSocket) {
  run.sockets.live.add(socket);
  run.crowd.gained(stream.player, stream.id);
  run.tally.admittedNow();
  if (run.options.reuseStreams && stream.player.seen.has(stream.id)) run.tally.reconnects++;
  stream.player.seen.add(stream.id);
  noteSettled(run);
}

/**
 * Holds an admitted socket until churn, a drop, the server, the viewer (open model) or the end of the run closes it,
 * or an in-place reconnect replaces it.
 */
function holdOne(run: Run, stream: Stream, socket: WebSocket): Promise<Held> {
  return new Promise((resolve) => {
    let replacing: Promise<Outcome> | undefined;
    let done = false;
    const finish = (held: Held) => {
      if (done) return;
      done = true;
      clearInterval(beat);
      clearTimeout(lifetime);
      clearTimeout(ending);
      resolve(held);
    };
    const beat = heartbeat(run, socket);
    const lifetime = churn(run, socket, async () => {
      // A player that lost faith in its socket opens a new one for the same stream; the server closes the old one.
      run.tally.takeoverStarted();
      replacing = handshake(run, stream.player, stream.id);
      const outcome = await replacing;
      replacing = undefined;
      if (outcome.kind === 'refused') run.tally.takeoverRefused(outcome.status);
      if (outcome.kind !== 'open') {
        if (socket.readyState === WebSocket.CLOSED) finish({ kind: 'closed' });
        return;
      }
      run.tally.takeovers.admitted++;
      if (run.phases.stopping) {
        outcome.socket.terminate();
        return;
      }
      admit(run, stream, outcome.socket);
      if (socket.readyState !== WebSocket.CLOSED && !done) run.sockets.replaced.set(socket, run.elapsed());
      finish({ kind: 'replaced', socket: outcome.socket });
    });
    const ending =
      stream.endsAt === undefined
        ? undefined
        : setTimeout(() => run.sockets.close(socket), Math.max(0, stream.endsAt - run.elapsed()));
    socket.once('close', () => {
      const replacedAt = run.sockets.replaced.get(socket);
      run.crowd.lost(stream.player, stream.id);
      const byServer = run.sockets.forget(socket);
      if (byServer) run.tally.closedByServer++;
      if (replacedAt !== undefined && byServer) run.tally.replacedClosed(run.elapsed() - replacedAt);
      if (done) return;
      clearInterval(beat);
      // The server closes the old socket as it admits the new one: wait for the in-place reconnect's answer.
      if (replacing) return;
      finish({ kind: 'closed' });
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

/** Closes, drops and in-place reconnects arrive as a Poisson process per stream, while the run lasts. */
function churn(run: Run, socket: WebSocket, reconnectInPlace: () => Promise<void>): NodeJS.Timeout | undefined {
  const { churn: close, drop, takeover } = run.options;
  const rate = close + drop + takeover;
  if (rate <= 0 || run.phases.phase !== 'run') return undefined;
  return setTimeout(() => {
    if (run.phases.phase !== 'run' || socket.readyState !== WebSocket.OPEN) return;
    const pick = Math.random() * rate;
    if (pick < takeover) void reconnectInPlace();
    else run.sockets.close(socket, pick < takeover + drop);
  }, exponentialMs(rate));
}

/** Holds a stream across in-place reconnects, until its socket closes without a successor. */
async function hold(run: Run, stream: Stream, socket: WebSocket) {
  let current = socket;
  admit(run, stream, current);
  for (;;) {
    const held = await holdOne(run, stream, current);
    if (held.kind === 'closed') return;
    current = held.socket;
  }
}

const over = (run: Run, stream: Stream) =>
  run.phases.stopping || (stream.endsAt !== undefined && run.elapsed() >= stream.endsAt);

/**
 * One stream a player tries to hold, reconnecting (with the same stream id unless `--no-reuse-streams`) after every
 * close, until the run stops or (open model) the viewer stops watching. Past its share, a slot only keeps trying to
 * catch slots churn frees up. `giveUp`: an open-model viewer refused at the start does not try again.
 */
async function slot(run: Run, stream: Stream, giveUp = false) {
  let admittedOnce = false;
  let tried = false;
  // Every stream tries at least once, even one whose viewer would already have left (a late timer on a busy machine).
  while (!run.phases.stopping && (!tried || !over(run, stream))) {
    tried = true;
    const outcome = await handshake(run, stream.player, stream.id);
    if (outcome.kind !== 'open') {
      if (giveUp && !admittedOnce) return;
      await sleep(jitter(run.options.retryS * 1000));
      continue;
    }
    if (run.phases.stopping) {
      outcome.socket.terminate();
      return;
    }
    admittedOnce = true;
    await hold(run, stream, outcome.socket);
    noteSettled(run);
  }
}

/** Starts `count` slots for every player, spread over `rampS` (with 0: everyone's first, then everyone's second...). */
async function ramp(run: Run, count: number, rampS: number): Promise<Promise<void>[]> {
  const { players } = run.crowd;
  const slots: Promise<void>[] = [];
  const start = (player: Player) => slots.push(slot(run, { player, id: player.nextSlotStream() }));
  if (rampS === 0) {
    // Players do not open all their streams in one instant.
    for (let s = 0; s < count; s++) for (const player of players) start(player);
    return slots;
  }
  await Promise.all(
    players.map(async (player) => {
      await sleep((player.index / players.length) * rampS * 1000);
      for (let s = 0; s < count; s++) start(player);
    }),
  );
  return slots;
}

/**
 * Open model: `rate` new streams per second on random users until the run's end, each watched for an exponential
 * time of mean `--hold` (at most until the run's end). An arrival that finds every handshake slot busy is skipped
 * (counted), not queued: queueing would turn the open model back into a closed one.
 */
async function arrivals(run: Run, rate: number): Promise<Promise<void>[]> {
  const { durationS, holdS } = run.options;
  const endMs = durationS * 1000;
  const sessions: Promise<void>[] = [];
  const { players } = run.crowd;
  let next = 0;
  while (next < endMs) {
    const now = run.elapsed();
    while (next <= now && next < endMs) {
      next += 1000 / rate;
      run.tally.arrivals++;
      if (run.gate.full) {
        run.tally.skipped++;
        continue;
      }
      const player = players[Math.floor(Math.random() * players.length)]!;
      const endsAt = Math.min(endMs, now + exponentialMs(1 / holdS));
      sessions.push(slot(run, { player, id: run.addresses.fresh(player), endsAt }, true));
    }
    await sleep(Math.min(Math.max(next - run.elapsed(), 1), 50));
  }
  return sessions;
}

function reportProgress(run: Run, onProgress: RunHooks['onProgress']): NodeJS.Timeout {
  const { tally } = run;
  return setInterval(() => {
    onProgress?.({
      phase: run.phases.phase,
      elapsedMs: run.elapsed(),
      held: run.crowd.total,
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

/** Gives sockets replaced by a takeover their grace to be closed by the server; returns how many stay open. */
async function lingering(run: Run): Promise<number> {
  const deadline = run.elapsed() + LINGER_GRACE_MS;
  while (run.sockets.replaced.size > 0 && run.elapsed() < deadline) await sleep(20);
  return run.sockets.lingering(run.elapsed(), LINGER_GRACE_MS);
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
  lingering: number;
}

function settingsOf(options: LoadOptions): Settings {
  const { tokens, tokenTemplate, thresholds, ...rest } = options;
  return {
    ...rest,
    thresholds: thresholds.map((t) => t.source),
    ...(tokens ? { tokens: tokens.length } : {}),
    ...(tokenTemplate ? { tokenTemplate: '(given, not shown)' } : {}),
  };
}

function buildReport(run: Run, steady: Steady): LoadReport {
  const { options, tally, crowd, phases } = run;
  const report: Omit<LoadReport, 'verdict'> = {
    tool: { ...TOOL },
    startedAt: run.startedAt,
    model: options.rate === undefined ? 'closed' : 'open',
    settings: settingsOf(options),
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
    arrivals: tally.arrivals,
    skipped: tally.skipped,
    latencyMs: { admitted: summary(tally.latencyAdmitted), refused: summary(tally.latencyRefused) },
    admittedPerSecond: tally.admissionRate(),
    reconnects: tally.reconnects,
    takeovers: tally.takeoverFigures(steady.lingering),
    heldAtEnd: steady.heldAtEnd,
    expectedHeld: options.users * crowd.share,
    maxHeldByOneUser: crowd.maxHeld,
    violations: crowd.violators.size,
    lockedOut: steady.lockedOut,
    settledInMs:
      phases.settledAt === null ? null : Math.max(0, Math.round(phases.settledAt - options.durationS * 1000)),
    closedByServer: tally.closedByServer,
    heartbeats: { ...tally.heartbeats },
    elapsedMs: Math.round(run.elapsed()),
    timeline: tally.timeline.seconds(run.elapsed()),
  };
  return { ...report, verdict: judge(report, options.thresholds) };
}

/** Closed model: everyone's slots from the start; churn for `duration` seconds (at least until the ramp is done). */
async function closedModel(run: Run): Promise<Promise<void>[]> {
  const slots = await ramp(run, run.options.streamsPerUser, run.options.rampS);
  await sleep(Math.max(run.options.durationS * 1000 - run.elapsed(), 0));
  await settle(run);
  return slots;
}

/** Open model: arrivals for `duration` seconds, their streams closed by then; then every user must get its share. */
async function openModel(run: Run, rate: number): Promise<Promise<void>[]> {
  const sessions = await arrivals(run, rate);
  const { timeoutMs, retryS } = run.options;
  await Promise.race([Promise.all(sessions), sleep(timeoutMs + retryS * 1500 + 1000)]);
  // No churn on the streams that check every user can get its share again.
  run.phases.phase = 'settle';
  const slots = await ramp(run, run.crowd.share, 0);
  await settle(run);
  return [...sessions, ...slots];
}

export async function runLoad(options: LoadOptions, hooks: RunHooks = {}): Promise<LoadReport> {
  const run = newRun(options);
  const progressTimer = reportProgress(run, hooks.onProgress);
  const slots = options.rate === undefined ? await closedModel(run) : await openModel(run, options.rate);
  const steady = { heldAtEnd: run.crowd.total, lockedOut: run.crowd.lockedOut(), lingering: await lingering(run) };
  await hooks.onSteady?.();
  await closeAll(run, slots);
  clearInterval(progressTimer);
  return buildReport(run, steady);
}
