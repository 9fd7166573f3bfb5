import { sum } from './tally.js';
import { type LatencySummary, LINGER_GRACE_MS, type LoadReport, type Progress } from './types.js';

const LINGER_GRACE_S = LINGER_GRACE_MS / 1000;

const lat = (l: LatencySummary) =>
  l.count === 0 ? 'none' : `p50 ${l.p50} ms  p95 ${l.p95} ms  p99 ${l.p99} ms  max ${l.max} ms  (n=${l.count})`;
const counts = (r: Record<string, number>) =>
  Object.keys(r).length === 0
    ? '0'
    : Object.entries(r)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ');

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * Where every replaced socket went: closed by the server before its successor opened (streamgate's way), or after
 * (how long after), or still open past the grace (lingering: a failure). The three add up to the admitted takeovers,
 * give or take one the run's end closed first, so no socket seems to go missing.
 */
function takeoverLines(r: LoadReport): string[] {
  const t = r.takeovers;
  const refused = sum(t.refused);
  return [
    `  takeovers         ${t.attempted} in-place reconnects: ${t.admitted} admitted` +
      (refused === 0 ? ', none refused' : `, ${refused} refused (${counts(t.refused)})`),
    `    replaced socket closed by the server before the new one opened ${t.closedBeforeOpen}, ` +
      `after it ${t.closedByServer}${t.closedByServer > 0 ? ` (p99 ${t.closeMs.p99} ms after)` : ''}, ` +
      `still open ${LINGER_GRACE_S} s later ${t.lingering}`,
  ];
}

export function progressLine(p: Progress): string {
  return (
    `[${p.phase} ${(p.elapsedMs / 1000).toFixed(0)}s] held ${p.held}  attempts ${p.attempts}  admitted ${p.admitted}  ` +
    `rejected ${p.rejected}  errors ${p.errors}  connect p99 ${p.p99Ms} ms`
  );
}

export function humanReport(r: LoadReport): string {
  return [
    '',
    `streamgate load test: ${r.url}  (${r.tool.name} ${r.tool.version}, started ${r.startedAt})`,
    `  ${r.model === 'open' ? `open model: ${r.settings.rate} new streams/s (mean hold ${r.settings.holdS} s) on ${r.users} users` : `closed model: ${r.users} users x ${r.streamsPerUser} streams`}, limit ${r.limit}, ${r.durationS} s of load, ${(r.elapsedMs / 1000).toFixed(1)} s in all`,
    `  stream ids        ${r.settings.reuseStreams ? `reused on reconnect (${r.reconnects} reconnects)` : 'new on every connect'}`,
    `  attempts          ${r.attempts}`,
    `  admitted          ${r.admitted}  (${r.admittedPerSecond.mean}/s mean over the admission window, ${r.admittedPerSecond.peak}/s best second)`,
    `  rejected          ${counts(r.rejected)}`,
    `  errors            ${counts(r.errors)}`,
    `  timeouts          ${r.timeouts}`,
    ...(r.model === 'open'
      ? [`  arrivals          ${r.arrivals}  (${r.skipped} skipped: every handshake slot busy)`]
      : []),
    `  connect admitted  ${lat(r.latencyMs.admitted)}`,
    `  connect refused   ${lat(r.latencyMs.refused)}`,
    `  held at the end   ${r.heldAtEnd} of ${r.expectedHeld} expected${r.settledInMs === null ? '' : ` (settled ${r.settledInMs} ms after the load)`}`,
    `  closed by server  ${r.closedByServer}`,
    ...(r.takeovers.attempted > 0 ? takeoverLines(r) : []),
    `  heartbeats        ${r.heartbeats.sent} sent, ${r.heartbeats.answered} answered`,
    `  max held by one user  ${r.maxHeldByOneUser}`,
    `  limit violations  ${r.violations}`,
    `  locked-out users  ${r.lockedOut}`,
    ...r.verdict.thresholds.map(
      (t) => `  threshold ${t.threshold.padEnd(20)} ${t.pass ? 'ok  ' : 'MISS'}  (${t.metric} = ${round(t.actual)})`,
    ),
    r.verdict.pass ? '  PASS' : `  FAIL (exit ${r.verdict.exitCode}): ${r.verdict.reasons.join('; ')}`,
    '',
  ].join('\n');
}
