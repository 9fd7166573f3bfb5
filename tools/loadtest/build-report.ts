/** The JSON report of a finished run, with its verdict. */
import type { LoadOptions } from './options.js';
import type { Run } from './run.js';
import { summary } from './tally.js';
import type { LoadReport, Settings } from './types.js';
import { judge } from './verdict.js';
import { TOOL } from './version.js';

/** The steady state as measured at the end of the settle phase, before anything is closed. */
export interface Steady {
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

export function buildReport(run: Run, steady: Steady): LoadReport {
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
