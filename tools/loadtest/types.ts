/**
 * What a run reports (the JSON report, contract section 7) and what it tells while it runs. Its own module, so the
 * verdict, the human and HTML reports and the benchmark read the report's shape without the engine that makes it.
 */
import type { LoadOptions } from './options.js';
import type { LatencySummary, TakeoverFigures } from './tally.js';
import type { ThresholdResult } from './thresholds.js';
import type { TimelineSecond } from './timeline.js';

export type { LatencySummary, TakeoverFigures } from './tally.js';

/** How long a socket replaced by a takeover may stay open before it counts as lingering (the server lost it). */
export const LINGER_GRACE_MS = 3000;

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

export type ExitCode = 0 | 1 | 3;

export interface Verdict {
  pass: boolean;
  /** 0 pass; 1 limit violations, a replaced socket left open, or a threshold missed; 3 some user locked out */
  exitCode: ExitCode;
  /** one line per reason the run failed; empty when it passed */
  reasons: string[];
  thresholds: ThresholdResult[];
}
