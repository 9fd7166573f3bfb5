/**
 * Pass/fail thresholds: `--threshold 'p99<500'`, `--threshold 'violations==0'`, `--threshold 'error_rate<=1%'`.
 * Grammar: METRIC OP NUMBER [UNIT], spaces allowed between the parts. Latencies are in ms (`500`, `500ms`, `0.5s`),
 * `error_rate` in percent of attempts (`1` or `1%`); every other metric is a plain count or rate.
 */

export class ThresholdError extends Error {
  override name = 'ThresholdError';
}

const LATENCY = ['p50', 'p95', 'p99', 'max', 'mean', 'refused_p50', 'refused_p99'] as const;
const COUNTS = [
  'violations',
  'locked_out',
  'errors',
  'timeouts',
  'attempts',
  'admitted',
  'refused',
  'held',
  'admitted_per_s',
  'takeovers',
  'lingering',
  'skipped',
] as const;
const PERCENT = ['error_rate'] as const;

export type MetricName = (typeof LATENCY)[number] | (typeof COUNTS)[number] | (typeof PERCENT)[number];
export const METRICS: readonly MetricName[] = [...LATENCY, ...COUNTS, ...PERCENT];

export const OPERATORS = ['<=', '>=', '==', '!=', '<', '>'] as const;
export type Operator = (typeof OPERATORS)[number];

export interface Threshold {
  /** as the user wrote it, trimmed */
  source: string;
  metric: MetricName;
  op: Operator;
  /** in the metric's unit: ms for latencies, percent for error_rate */
  value: number;
}

export interface ThresholdResult {
  threshold: string;
  metric: MetricName;
  op: Operator;
  value: number;
  actual: number;
  pass: boolean;
}

const isMetric = (name: string): name is MetricName => (METRICS as readonly string[]).includes(name);
const isLatency = (m: MetricName) => (LATENCY as readonly string[]).includes(m);

/** The unit suffixes each kind of metric accepts, and what they multiply the number by. */
function unitFactor(metric: MetricName, unit: string, source: string): number {
  if (unit === '') return 1;
  if (isLatency(metric)) {
    if (unit === 'ms') return 1;
    if (unit === 's') return 1000;
  } else if (metric === 'error_rate' && unit === '%') return 1;
  const allowed = isLatency(metric) ? 'ms (the default) or s' : metric === 'error_rate' ? '% (the default)' : 'no unit';
  throw new ThresholdError(`unit "${unit}" in "${source}": ${metric} takes ${allowed}`);
}

const EXAMPLE = "write METRIC OP NUMBER, e.g. 'p99<500' or 'violations==0'";

export function parseThreshold(text: string): Threshold {
  const source = text.trim();
  if (source === '') throw new ThresholdError(`empty threshold: ${EXAMPLE}`);
  if (source.length > 200) throw new ThresholdError(`threshold longer than 200 characters: ${EXAMPLE}`);
  const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source)?.[0];
  if (!name) throw new ThresholdError(`"${source}" does not start with a metric name: ${EXAMPLE}`);
  if (!isMetric(name))
    throw new ThresholdError(`unknown metric "${name}" in "${source}"; known: ${METRICS.join(', ')}`);
  let rest = source.slice(name.length).trimStart();
  const op = OPERATORS.find((o) => rest.startsWith(o));
  if (!op) {
    const hint = rest.startsWith('=') ? ' (use == to compare for equality)' : '';
    throw new ThresholdError(`expected one of ${OPERATORS.join(' ')} after "${name}" in "${source}"${hint}`);
  }
  rest = rest.slice(op.length).trimStart();
  const number = /^[+-]?(\d+(\.\d*)?|\.\d+)/.exec(rest)?.[0];
  if (!number) throw new ThresholdError(`expected a number after "${name}${op}" in "${source}"`);
  const unit = rest.slice(number.length).trim();
  const value = Number(number) * unitFactor(name, unit, source);
  if (!Number.isFinite(value)) throw new ThresholdError(`the number in "${source}" is too large`);
  return { source, metric: name, op, value };
}

export function compare(actual: number, op: Operator, value: number): boolean {
  switch (op) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '==':
      return actual === value;
    case '!=':
      return actual !== value;
  }
}

export function evaluateThresholds(
  thresholds: readonly Threshold[],
  metrics: Readonly<Record<MetricName, number>>,
): ThresholdResult[] {
  return thresholds.map((t) => {
    const actual = metrics[t.metric];
    return {
      threshold: t.source,
      metric: t.metric,
      op: t.op,
      value: t.value,
      actual,
      pass: compare(actual, t.op, t.value),
    };
  });
}
