/**
 * Drives real `ws` sockets the way players do: each virtual user tries to hold its streams, keeps the admitted ones
 * alive with heartbeats, closes or drops some (churn) and reopens them, then everyone settles back to their share.
 */
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import type { LoadOptions } from './options.js';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadReport {
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

interface UserState {
  index: number;
  id: string;
  held: number;
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

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
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

export async function runLoad(options: LoadOptions, hooks: RunHooks = {}): Promise<LoadReport> {
  const { onProgress, onSteady } = hooks;
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const share = Math.min(options.streamsPerUser, options.limit);
  const users: UserState[] = Array.from({ length: options.users }, (_, i) => ({
    index: i,
    id: `${options.userPrefix}-${i}`,
    held: 0,
  }));
  const gate = new Gate(options.concurrency);
  const latencyAdmitted = histogram();
  const latencyRefused = histogram();
  const rejected: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const admittedBuckets = new Map<number, number>();
  const violators = new Set<number>();
  const live = new Set<WebSocket>();
  /** sockets this tool closed or dropped itself; any other close came from the server */
  const closedByUs = new Set<WebSocket>();
  let attempts = 0;
  let admitted = 0;
  let timeouts = 0;
  let closedByServer = 0;
  let maxHeld = 0;
  let firstAttemptAt = -1;
  let lastAdmittedAt = -1;
  let heartbeatsSent = 0;
  let heartbeatsAnswered = 0;
  let streamSeq = 0;
  let phase: Progress['phase'] = 'run';
  let stopping = false;
  let wake: (() => void) | undefined;
  let settledAt: number | null = null;

  const heldTotal = () => users.reduce((n, u) => n + u.held, 0);
  const everyoneSettled = () => users.every((u) => u.held >= share);
  const checkSettled = () => {
    if (phase === 'settle' && settledAt === null && everyoneSettled()) {
      settledAt = elapsed();
      wake?.();
    }
  };

  function urlFor(user: UserState): string {
    const url = new URL(options.url);
    if (options.tokens) url.searchParams.set('token', options.tokens[user.index % options.tokens.length]!);
    else if (options.tokenTemplate) {
      url.searchParams.set(
        'token',
        options.tokenTemplate.replaceAll('{user}', user.id).replaceAll('{i}', String(user.index)),
      );
    } else url.searchParams.set('userId', user.id);
    url.searchParams.set('streamId', `${user.id}-s${streamSeq++}`);
    url.searchParams.set('device', 'loadtest');
    return url.toString();
  }

  type Outcome = { kind: 'open'; socket: WebSocket } | { kind: 'refused' } | { kind: 'failed' };

  async function handshake(user: UserState): Promise<Outcome> {
    await gate.enter();
    if (stopping) {
      gate.leave();
      return { kind: 'failed' };
    }
    attempts++;
    if (firstAttemptAt < 0) firstAttemptAt = elapsed();
    const t0 = performance.now();
    try {
      return await new Promise<Outcome>((resolve) => {
        const socket = new WebSocket(urlFor(user), { handshakeTimeout: options.timeoutMs, perMessageDeflate: false });
        socket.once('open', () => {
          latencyAdmitted.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          resolve({ kind: 'open', socket });
        });
        socket.once('unexpected-response', (req, res) => {
          latencyRefused.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          const code = String(res.statusCode ?? 0);
          rejected[code] = (rejected[code] ?? 0) + 1;
          res.resume();
          req.destroy();
          resolve({ kind: 'refused' });
        });
        socket.once('error', (error) => {
          if (/timed out/i.test(error.message)) timeouts++;
          else errors[error.message] = (errors[error.message] ?? 0) + 1;
          resolve({ kind: 'failed' });
        });
      });
    } finally {
      gate.leave();
    }
  }

  /** Holds an admitted socket until churn, a drop, the server, or the end of the run closes it. */
  function hold(user: UserState, socket: WebSocket): Promise<void> {
    return new Promise((resolve) => {
      live.add(socket);
      user.held++;
      admitted++;
      lastAdmittedAt = elapsed();
      const bucket = Math.floor(lastAdmittedAt / 1000);
      admittedBuckets.set(bucket, (admittedBuckets.get(bucket) ?? 0) + 1);
      maxHeld = Math.max(maxHeld, user.held);
      if (user.held > options.limit) violators.add(user.index);
      checkSettled();

      socket.on('message', () => heartbeatsAnswered++);
      socket.on('error', () => {});
      const beat = setInterval(
        () => {
          if (socket.readyState === WebSocket.OPEN) {
            socket.send('{"action":"heartbeat"}');
            heartbeatsSent++;
          }
        },
        jitter(options.heartbeatS * 1000),
      );
      // Churn and drops arrive as a Poisson process per stream, while the run lasts.
      const rate = options.churn + options.drop;
      let lifetime: NodeJS.Timeout | undefined;
      if (rate > 0 && phase === 'run') {
        const ms = (-Math.log(1 - Math.random()) / rate) * 1000;
        lifetime = setTimeout(() => {
          if (phase !== 'run') return;
          closedByUs.add(socket);
          if (Math.random() < options.drop / rate) socket.terminate();
          else socket.close(1000);
        }, ms);
      }
      socket.once('close', () => {
        clearInterval(beat);
        clearTimeout(lifetime);
        live.delete(socket);
        user.held--;
        if (!closedByUs.delete(socket)) closedByServer++;
        resolve();
      });
    });
  }

  async function slot(user: UserState) {
    while (!stopping) {
      // Past the user's share, a slot only keeps trying during the run (to catch slots churn frees up).
      const outcome = await handshake(user);
      if (outcome.kind === 'open') {
        if (stopping) {
          outcome.socket.terminate();
          return;
        }
        await hold(user, outcome.socket);
        checkSettled();
        continue;
      }
      await sleep(jitter(options.retryS * 1000));
    }
  }

  const progressTimer = setInterval(() => {
    onProgress?.({
      phase,
      elapsedMs: elapsed(),
      held: heldTotal(),
      attempts,
      admitted,
      rejected: Object.values(rejected).reduce((a, b) => a + b, 0),
      errors: Object.values(errors).reduce((a, b) => a + b, 0) + timeouts,
      p99Ms: summary(latencyAdmitted).p99,
    });
  }, 1000);

  const slots: Promise<void>[] = [];
  const rampMs = options.rampS * 1000;
  if (rampMs === 0) {
    // Everyone's first stream, then everyone's second...: players do not open all their streams in one instant.
    for (let s = 0; s < options.streamsPerUser; s++) for (const user of users) slots.push(slot(user));
  } else {
    await Promise.all(
      users.map(async (user) => {
        await sleep((user.index / options.users) * rampMs);
        for (let s = 0; s < options.streamsPerUser; s++) slots.push(slot(user));
      }),
    );
  }

  // The run: churn and drops happen for `duration` seconds (at least until the ramp is done).
  await sleep(Math.max(options.durationS * 1000 - elapsed(), 0));
  phase = 'settle';
  const settleDeadline = options.settleS * 1000;
  checkSettled();
  if (settledAt === null) {
    await Promise.race([new Promise<void>((r) => (wake = r)), sleep(settleDeadline)]);
  }
  const heldAtEnd = heldTotal();
  const lockedOut = users.filter((u) => u.held < share).length;
  await onSteady?.();

  phase = 'closing';
  stopping = true;
  // Let handshakes in flight finish before closing anything: a slot freed now would admit them.
  const drainDeadline = performance.now() + options.timeoutMs + 1000;
  while (gate.inFlight > 0 && performance.now() < drainDeadline) await sleep(10);
  for (const socket of live) {
    closedByUs.add(socket);
    socket.close(1000);
  }
  const closeDeadline = performance.now() + 5000;
  while (live.size > 0 && performance.now() < closeDeadline) await sleep(20);
  for (const socket of live) socket.terminate();
  await Promise.race([Promise.all(slots), sleep(options.timeoutMs + options.retryS * 1500 + 1000)]);
  clearInterval(progressTimer);

  const admissionWindowS = lastAdmittedAt > firstAttemptAt ? (lastAdmittedAt - firstAttemptAt) / 1000 : 0;
  return {
    url: options.url,
    users: options.users,
    streamsPerUser: options.streamsPerUser,
    limit: options.limit,
    durationS: options.durationS,
    attempts,
    admitted,
    rejected,
    errors,
    timeouts,
    latencyMs: { admitted: summary(latencyAdmitted), refused: summary(latencyRefused) },
    admittedPerSecond: {
      mean: admissionWindowS > 0 ? Math.round(admitted / admissionWindowS) : admitted,
      peak: Math.max(0, ...admittedBuckets.values()),
    },
    heldAtEnd,
    expectedHeld: options.users * share,
    maxHeldByOneUser: maxHeld,
    violations: violators.size,
    lockedOut,
    settledInMs: settledAt === null ? null : Math.max(0, Math.round(settledAt - options.durationS * 1000)),
    closedByServer,
    heartbeats: { sent: heartbeatsSent, answered: heartbeatsAnswered },
    elapsedMs: Math.round(elapsed()),
  };
}
