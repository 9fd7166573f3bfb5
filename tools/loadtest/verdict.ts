/** Pass or fail, and the exit code that says why (contract section 7). */

import { sum } from './tally.js';
import { evaluateThresholds, type MetricName, type Threshold } from './thresholds.js';
import type { ExitCode, LoadReport, Verdict } from './types.js';

export type { ExitCode, Verdict } from './types.js';

export type VerdictInput = Omit<LoadReport, 'verdict'>;

/** The figures thresholds can name, from a report. */
export function metricsOf(r: VerdictInput): Record<MetricName, number> {
  const errors = sum(r.errors) + r.timeouts;
  const { admitted, refused } = r.latencyMs;
  return {
    p50: admitted.p50,
    p95: admitted.p95,
    p99: admitted.p99,
    max: admitted.max,
    mean: admitted.mean,
    refused_p50: refused.p50,
    refused_p99: refused.p99,
    violations: r.violations,
    locked_out: r.lockedOut,
    errors,
    timeouts: r.timeouts,
    attempts: r.attempts,
    admitted: r.admitted,
    refused: sum(r.rejected),
    held: r.heldAtEnd,
    admitted_per_s: r.admittedPerSecond.mean,
    takeovers: r.takeovers.attempted,
    lingering: r.takeovers.lingering,
    skipped: r.skipped,
    error_rate: r.attempts === 0 ? 0 : (errors / r.attempts) * 100,
  };
}

export function judge(r: VerdictInput, thresholds: readonly Threshold[] = []): Verdict {
  const results = evaluateThresholds(thresholds, metricsOf(r));
  const missed = results.filter((t) => !t.pass);
  const reasons: string[] = [];
  if (r.violations > 0) reasons.push(`${r.violations} users held more streams than the limit`);
  if (r.takeovers.lingering > 0)
    reasons.push(
      `${r.takeovers.lingering} sockets replaced by a takeover were still open (their stream is not counted)`,
    );
  if (r.lockedOut > 0) reasons.push(`${r.lockedOut} users could not hold their share again`);
  for (const t of missed) reasons.push(`threshold ${t.threshold} missed: ${t.metric} was ${t.actual}`);
  // A violation is the worst outcome (the guard failed), then a lockout (a user cannot watch), then a missed target.
  const exitCode: ExitCode =
    r.violations > 0 || r.takeovers.lingering > 0 ? 1 : r.lockedOut > 0 ? 3 : missed.length ? 1 : 0;
  return { pass: reasons.length === 0, exitCode, reasons, thresholds: results };
}
