/** The sweep: on a schedule in AWS (EventBridge), on an interval in the local stack. */
import { type SweepReport, sweep } from '../../core/reclaim.js';
import type { Runtime } from '../lib/runtime.js';

export type SweepHandler = (event?: { time?: string }) => Promise<SweepReport>;

export function createSweepHandler({ deps, logger }: Runtime): SweepHandler {
  return async (event) => {
    // The schedule's own time, when there is one, so a retried invocation judges the same leases.
    const now = event?.time ? Date.parse(event.time) : Date.now();
    const report = await sweep(deps, Number.isNaN(now) ? Date.now() : now);
    if (report.expired > 0) logger.info('sweep', { ...report });
    return report;
  };
}
