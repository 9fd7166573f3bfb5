import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compare,
  evaluateThresholds,
  METRICS,
  type MetricName,
  OPERATORS,
  parseThreshold,
  ThresholdError,
} from '../../tools/loadtest/thresholds.js';

const metric = fc.constantFrom(...METRICS);
const op = fc.constantFrom(...OPERATORS);
const space = fc.constantFrom('', ' ', '  ', '\t');
/** Non-negative decimals as people write them: 0, 500, 2.5, .5 */
const number = fc
  .tuple(fc.nat({ max: 1_000_000 }), fc.option(fc.nat({ max: 999 }), { nil: undefined }))
  .map(([whole, frac]) => (frac === undefined ? `${whole}` : `${whole}.${frac}`));

describe('parseThreshold', () => {
  it.each([
    ['p99<500', { metric: 'p99', op: '<', value: 500 }],
    ['violations==0', { metric: 'violations', op: '==', value: 0 }],
    ['errors < 10', { metric: 'errors', op: '<', value: 10 }],
    ['p95<=0.5s', { metric: 'p95', op: '<=', value: 500 }],
    ['max < 250ms', { metric: 'max', op: '<', value: 250 }],
    ['error_rate<=1%', { metric: 'error_rate', op: '<=', value: 1 }],
    ['admitted_per_s>=100', { metric: 'admitted_per_s', op: '>=', value: 100 }],
    ['  lingering != 1 ', { metric: 'lingering', op: '!=', value: 1, source: 'lingering != 1' }],
  ])('reads %j', (text, expected) => {
    expect(parseThreshold(text)).toMatchObject(expected);
  });

  it.each([
    ['', /empty threshold/],
    ['<500', /does not start with a metric name/],
    ['p98<500', /unknown metric "p98".*known: p50, p95/],
    ['p99 500', /expected one of <= >= == != < > after "p99"/],
    ['violations=0', /use == to compare/],
    ['p99<', /expected a number after "p99<"/],
    ['p99<fast', /expected a number/],
    ['p99<500kg', /unit "kg" in "p99<500kg": p99 takes ms \(the default\) or s/],
    ['errors<10%', /errors takes no unit/],
    ['error_rate<1s', /error_rate takes % \(the default\)/],
    ['p99<500 and errors<3', /unit "and errors<3"/],
    ['__proto__<1', /unknown metric "__proto__"/],
    ['constructor==0', /unknown metric "constructor"/],
    [`p99<${'9'.repeat(400)}`, /longer than 200/],
  ])('refuses %j with a clear message', (text, message) => {
    expect(() => parseThreshold(text)).toThrow(ThresholdError);
    expect(() => parseThreshold(text)).toThrow(message);
  });

  it('reads back every well-formed METRIC OP NUMBER, whatever the spacing (property)', () => {
    fc.assert(
      fc.property(metric, op, number, space, space, space, (m, o, n, s1, s2, s3) => {
        const text = `${s1}${m}${s2}${o}${s3}${n}${s1}`;

        const t = parseThreshold(text);

        expect(t).toEqual({ source: text.trim(), metric: m, op: o, value: Number(n) });
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  it('either parses or throws a ThresholdError with a message, for any string (property)', () => {
    const nearlyThresholds = fc
      .tuple(fc.oneof(metric, fc.string()), fc.oneof(op, fc.string({ maxLength: 3 })), fc.oneof(number, fc.string()))
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), nearlyThresholds), (text) => {
        try {
          const t = parseThreshold(text);
          expect(METRICS).toContain(t.metric);
          expect(Number.isFinite(t.value)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(ThresholdError);
          expect((error as Error).message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 5000 },
    );
  }, 60_000);
});

describe('evaluateThresholds', () => {
  it('agrees with plain comparison for every operator (property)', () => {
    const oracle: Record<string, (a: number, b: number) => boolean> = {
      '<': (a, b) => a < b,
      '<=': (a, b) => a <= b,
      '>': (a, b) => a > b,
      '>=': (a, b) => a >= b,
      '==': (a, b) => a === b,
      '!=': (a, b) => a !== b,
    };
    fc.assert(
      fc.property(op, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (o, actual, value) => {
        expect(compare(actual, o, value)).toBe(oracle[o]!(actual, value));
      }),
    );
  });

  it('reports each threshold with the actual figure and whether it passed', () => {
    // Prepare
    const metrics = Object.fromEntries(METRICS.map((m) => [m, 0])) as Record<MetricName, number>;
    metrics.p99 = 612;
    metrics.violations = 0;

    // Act
    const results = evaluateThresholds([parseThreshold('p99<500'), parseThreshold('violations==0')], metrics);

    // Assess
    expect(results).toEqual([
      { threshold: 'p99<500', metric: 'p99', op: '<', value: 500, actual: 612, pass: false },
      { threshold: 'violations==0', metric: 'violations', op: '==', value: 0, actual: 0, pass: true },
    ]);
  });
});
