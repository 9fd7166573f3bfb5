/** What happened in each second of a run, for the JSON report and the HTML charts. */

export interface TimelineSecond {
  /** seconds since the start of the run */
  t: number;
  attempts: number;
  admitted: number;
  refused: number;
  /** handshakes that failed without an HTTP answer, timeouts included */
  errors: number;
  /** in-place reconnects that replaced a socket still open (stream-id reuse) */
  takeovers: number;
  /** streams held at the end of the second */
  held: number;
  /** connect latency of the handshakes admitted in this second, in ms; null when none was */
  p50: number | null;
  p99: number | null;
}

class Bucket {
  attempts = 0;
  admitted = 0;
  refused = 0;
  errors = 0;
  takeovers = 0;
  held: number | undefined;
  readonly latencies: number[] = [];
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round2 = (ms: number) => Math.round(ms * 100) / 100;

export class Timeline {
  private readonly buckets: Bucket[] = [];

  private at(ms: number): Bucket {
    const i = Math.max(0, Math.floor(ms / 1000));
    while (this.buckets.length <= i) this.buckets.push(new Bucket());
    return this.buckets[i]!;
  }

  attempt(ms: number) {
    this.at(ms).attempts++;
  }

  admitted(ms: number, latencyMs: number) {
    const b = this.at(ms);
    b.admitted++;
    b.latencies.push(latencyMs);
  }

  refused(ms: number) {
    this.at(ms).refused++;
  }

  error(ms: number) {
    this.at(ms).errors++;
  }

  takeover(ms: number) {
    this.at(ms).takeovers++;
  }

  /** The number of streams held changed to `n`. */
  held(ms: number, n: number) {
    this.at(ms).held = n;
  }

  /** One entry per second from the start to the last event (or `untilMs`), held carried over quiet seconds. */
  seconds(untilMs = 0): TimelineSecond[] {
    if (untilMs > 0) this.at(untilMs - 1);
    let held = 0;
    return this.buckets.map((b, t) => {
      held = b.held ?? held;
      const sorted = b.latencies.sort((x, y) => x - y);
      const p50 = percentile(sorted, 50);
      const p99 = percentile(sorted, 99);
      return {
        t,
        attempts: b.attempts,
        admitted: b.admitted,
        refused: b.refused,
        errors: b.errors,
        takeovers: b.takeovers,
        held,
        p50: p50 === null ? null : round2(p50),
        p99: p99 === null ? null : round2(p99),
      };
    });
  }
}
