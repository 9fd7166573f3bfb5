/** One run's shared state (phases, sockets, the handshake limiter, the tally) and the handshake itself. */
import WebSocket from 'ws';
import { Limiter } from '../../core/limiter.js';
import { sleep } from '../../core/retry.js';
import { Addresses, Crowd, type Player } from './crowd.js';
import type { LoadOptions } from './options.js';
import { Tally } from './tally.js';
import type { Progress } from './types.js';

export const jitter = (ms: number) => ms * (0.5 + Math.random());
/** Exponentially distributed waiting time for events at `rate` per second. */
export const exponentialMs = (rate: number) => (-Math.log(1 - Math.random()) / rate) * 1000;

/** The run's phases: churn during `run`, waiting for everyone's share in `settle`, then `closing`. */
export class Phases {
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
export class Sockets {
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
export interface Run {
  options: LoadOptions;
  startedAt: string;
  elapsed: () => number;
  tally: Tally;
  crowd: Crowd;
  phases: Phases;
  /** handshakes in flight, at most `--concurrency` */
  gate: Limiter;
  sockets: Sockets;
  addresses: Addresses;
}

export function newRun(options: LoadOptions): Run {
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
    gate: new Limiter(options.concurrency),
    sockets: new Sockets(),
    addresses: new Addresses(options),
  };
}

export const noteSettled = (run: Run) => run.phases.note(run.elapsed(), run.crowd.settled());

export type Outcome = { kind: 'open'; socket: WebSocket } | { kind: 'refused'; status: number } | { kind: 'failed' };

/** One handshake, within the gate; counts its outcome. */
export async function handshake(run: Run, player: Player, streamId: string): Promise<Outcome> {
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
