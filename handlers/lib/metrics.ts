/**
 * The service's metrics. In Lambda they are CloudWatch embedded metric format (EMF) lines on stdout, written by
 * Powertools; CloudWatch turns them into metrics without an API call. Locally and in tests the handlers get the silent
 * implementation, so no EMF line ever mixes into a test's or `npm start`'s output. In Lambda, Powertools' own switches
 * still apply: `POWERTOOLS_METRICS_DISABLED=true` (or `POWERTOOLS_DEV=true`) turns EMF off.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, MetricName, type RefusalReason, SERVICE_NAME } from './metric-names.js';

export interface ServiceMetrics {
  /** one or more occurrences of a counted outcome */
  count(name: Exclude<MetricName, typeof MetricName.refused | typeof MetricName.connectLatency>, value?: number): void;
  /** a refused `$connect`, by reason (its own dimension) */
  refused(reason: RefusalReason): void;
  /** how long a `$connect` took in the handler, in milliseconds */
  connectLatency(ms: number): void;
  /** writes what was recorded during this invocation (Lambda runs one invocation at a time per container) */
  flush(): void;
}

export const silentMetrics: ServiceMetrics = {
  count() {},
  refused() {},
  connectLatency() {},
  flush() {},
};

export function emfMetrics(): ServiceMetrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  return {
    count(name, value = 1) {
      if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
    },
    refused(reason) {
      // Its own EMF line: a dimension added to the shared buffer would apply to every metric in it.
      const single = metrics.singleMetric();
      single.addDimension('reason', reason);
      single.addMetric(MetricName.refused, MetricUnit.Count, 1);
    },
    connectLatency(ms) {
      metrics.addMetric(MetricName.connectLatency, MetricUnit.Milliseconds, ms);
    },
    flush() {
      // Powertools warns on an empty flush; most messages (a heartbeat that writes nothing) record nothing.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}
