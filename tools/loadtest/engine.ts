/**
 * Drives real `ws` sockets the way players do. Closed model (default): each virtual user tries to hold its streams,
 * keeps the admitted ones alive with heartbeats, closes, drops or reconnects some in place (churn) and reopens them,
 * then everyone settles back to their share. Open model (`--rate`): new streams arrive at a fixed rate on random
 * users whatever the answers, each watched for a while; then every user must be able to hold its share again.
 * Reconnects reuse the stream's id, as players do, so the server takes the old connection over.
 */
import { sleep } from '../../core/retry.js';
import { buildReport } from './build-report.js';
import { closedModel, openModel } from './models.js';
import type { LoadOptions } from './options.js';
import { newRun, type Run } from './run.js';
import { sum, summary } from './tally.js';
import { LINGER_GRACE_MS, type LoadReport, type Progress } from './types.js';

export type { LatencySummary, LoadReport, Progress, Settings, TakeoverFigures } from './types.js';
export { LINGER_GRACE_MS } from './types.js';

export interface RunHooks {
  onProgress?: (p: Progress) => void;
  /** runs once every user holds its share (or the settle phase timed out), before anything is closed */
  onSteady?: () => Promise<void>;
}

/** Handshakes that failed without an HTTP answer, timeouts included: one figure for progress lines and the bench. */
export const failedHandshakes = (r: Pick<LoadReport, 'errors' | 'timeouts'>) => sum(r.errors) + r.timeouts;

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
