/** The sweep: on a schedule in AWS (EventBridge), on an interval in the local stack. */
import { type SweepReport, sweep } from '../../core/reclaim.js';
import { MetricName } from '../lib/metric-names.js';
import type { Runtime } from '../lib/runtime.js';

export type SweepHandler = (event?: { time?: string }) => Promise<SweepReport>;

export function createSweepHandler({ deps, logger, metrics }: Runtime): SweepHandler {
  return async (event) => {
    // The schedule's own time, when there is one, so a retried invocation judges the same leases.
    const now = event?.time ? Date.parse(event.time) : Date.now();
    let report: SweepReport;
    try {
      report = await sweep(deps, Number.isNaN(now) ? Date.now() : now);
    } catch (error) {
      // Let it fail: the Lambda error alarm and EventBridge's retry are the right answer to a sweep that broke.
      metrics.count(MetricName.storeErrors);
      throw error;
    }
    metrics.count(MetricName.swept, report.released);
    if (report.checked > 0) logger.info('sweep', { ...report });
    return report;
  };
}
