/**
 * In Lambda the metrics are EMF lines on stdout; CloudWatch reads them. Here: the shape CloudWatch needs (namespace,
 * the `service` dimension the alarms use, the `reason` dimension of refusals), and the switch that silences them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { METRICS_NAMESPACE, MetricName, SERVICE_NAME } from '../../handlers/lib/metric-names.js';
import { emfMetrics } from '../../handlers/lib/metrics.js';

type Emf = {
  _aws: {
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [key: string]: unknown;
};

let lines: Emf[];
beforeEach(() => {
  lines = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    return true;
  });
  vi.stubEnv('POWERTOOLS_DEV', '');
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('When a Lambda invocation records metrics', () => {
  it('writes them as one EMF line at flush, under the namespace and service the alarms watch', () => {
    // Prepare
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const metrics = emfMetrics();

    // Act
    metrics.count(MetricName.admitted);
    metrics.count(MetricName.ghostsReclaimed, 2);
    metrics.connectLatency(12.5);
    metrics.flush();

    // Assess
    expect(lines).toHaveLength(1);
    const [emf] = lines;
    const directive = emf!._aws.CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive.Dimensions).toEqual([['service']]);
    expect(emf!.service).toBe(SERVICE_NAME);
    expect(emf![MetricName.admitted]).toBe(1);
    expect(emf![MetricName.ghostsReclaimed]).toBe(2);
    expect(emf![MetricName.connectLatency]).toBe(12.5);
    expect(directive.Metrics).toContainEqual({ Name: MetricName.connectLatency, Unit: 'Milliseconds' });
  });

  it('writes each refusal with its reason as a dimension of its own', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const metrics = emfMetrics();

    metrics.refused('limit');

    expect(lines).toHaveLength(1);
    expect(lines[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service', 'reason']]);
    expect(lines[0]).toMatchObject({ reason: 'limit', [MetricName.refused]: 1 });
  });

  it('writes nothing at all for an invocation that recorded nothing (no empty-flush warning either)', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const warn = vi.spyOn(console, 'warn');

    emfMetrics().flush();

    expect(lines).toEqual([]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('writes nothing when POWERTOOLS_METRICS_DISABLED=true', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const metrics = emfMetrics();

    metrics.count(MetricName.admitted);
    metrics.refused('limit');
    metrics.flush();

    expect(lines).toEqual([]);
  });
});
