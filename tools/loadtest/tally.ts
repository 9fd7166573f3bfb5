/** What a run saw: handshake outcomes, latencies, admissions per second, takeovers, heartbeats, per second too. */
import * as hdr from 'hdr-histogram-js';
import { Timeline } from './timeline.js';

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface TakeoverFigures {
  /** in-place reconnects started: a new socket for a stream id whose socket was still open */
  attempted: number;
  /** of those, admitted (the server took the old connection over) */
  admitted: number;
  /** of those, refused, by HTTP status (the server must not refuse a takeover, even at the limit) */
  refused: Record<string, number>;
  /** replaced sockets already closed by the server when the new one opened (streamgate closes them first) */
  closedBeforeOpen: number;
  /** replaced sockets the server closed after the new one opened */
  closedByServer: number;
  /** replaced sockets still open a grace period after the new one was admitted (must be 0) */
  lingering: number;
  /** from the new socket's admission to the server closing the replaced one, in ms */
  closeMs: LatencySummary;
}

export const histogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

export function summary(h: hdr.Histogram): LatencySummary {
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

/** Latencies are recorded in microseconds, at least 1 (the histogram's lowest value). */
export const micros = (ms: number) => Math.max(1, Math.round(ms * 1000));

export const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

export class Tally {
  attempts = 0;
  admitted = 0;
  timeouts = 0;
  closedByServer = 0;
  /** open model: new streams due (started or skipped) */
  arrivals = 0;
  /** open model: arrivals not started because every handshake slot was busy */
  skipped = 0;
  /** admissions that reused a stream id held before in this run */
  reconnects = 0;
  readonly rejected: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly latencyAdmitted = histogram();
  readonly latencyRefused = histogram();
  readonly heartbeats = { sent: 0, answered: 0 };
  readonly takeovers = {
    attempted: 0,
    admitted: 0,
    refused: {} as Record<string, number>,
    closedBeforeOpen: 0,
    closedByServer: 0,
  };
  readonly takeoverClose = histogram();
  readonly timeline = new Timeline();
  private readonly admittedBuckets = new Map<number, number>();
  private firstAttemptAt = -1;
  private lastAdmittedAt = -1;

  constructor(private readonly now: () => number) {}

  attempt() {
    const at = this.now();
    this.attempts++;
    this.timeline.attempt(at);
    if (this.firstAttemptAt < 0) this.firstAttemptAt = at;
  }

  opened(latencyMs: number) {
    this.latencyAdmitted.recordValue(micros(latencyMs));
    this.timeline.admitted(this.now(), latencyMs);
  }

  refused(status: number | undefined, latencyMs: number) {
    this.latencyRefused.recordValue(micros(latencyMs));
    this.timeline.refused(this.now());
    const code = String(status ?? 0);
    this.rejected[code] = (this.rejected[code] ?? 0) + 1;
  }

  failed(message: string) {
    this.timeline.error(this.now());
    if (/timed out/i.test(message)) this.timeouts++;
    else this.errors[message] = (this.errors[message] ?? 0) + 1;
  }

  admittedNow() {
    const at = this.now();
    this.admitted++;
    this.lastAdmittedAt = at;
    const bucket = Math.floor(at / 1000);
    this.admittedBuckets.set(bucket, (this.admittedBuckets.get(bucket) ?? 0) + 1);
  }

  takeoverStarted() {
    this.takeovers.attempted++;
    this.timeline.takeover(this.now());
  }

  takeoverRefused(status: number | undefined) {
    const code = String(status ?? 0);
    this.takeovers.refused[code] = (this.takeovers.refused[code] ?? 0) + 1;
  }

  replacedClosed(afterMs: number) {
    this.takeovers.closedByServer++;
    this.takeoverClose.recordValue(micros(afterMs));
  }

  /** Mean over the admission window (first attempt to last admission) and the best whole second. */
  admissionRate(): { mean: number; peak: number } {
    const windowS = this.lastAdmittedAt > this.firstAttemptAt ? (this.lastAdmittedAt - this.firstAttemptAt) / 1000 : 0;
    return {
      mean: windowS > 0 ? Math.round(this.admitted / windowS) : this.admitted,
      peak: Math.max(0, ...this.admittedBuckets.values()),
    };
  }

  takeoverFigures(lingering: number): TakeoverFigures {
    return {
      ...this.takeovers,
      refused: { ...this.takeovers.refused },
      lingering,
      closeMs: summary(this.takeoverClose),
    };
  }
}
