/**
 * `/health` tells busy from down: 200 with the store's latency while the store answers within the opening window
 * (however slowly: a busy store is not a dead one, and a health check that fails under load takes healthy capacity
 * out of rotation when it is needed most), 503 only when it does not answer by then.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { type SlowProxy, startSlowProxy } from '../support/slow-proxy.js';
import { startTestStack } from '../support/stack.js';

const WINDOW_SECONDS = 2;
let proxy: SlowProxy;
let stack: LocalStack;

beforeAll(async () => {
  proxy = await startSlowProxy(inject('dynamodbEndpoint'));
  stack = await startTestStack({ dynamodbEndpoint: proxy.url, openingWindowSeconds: WINDOW_SECONDS });
});

afterAll(async () => {
  await stack?.stop();
  await proxy?.stop();
});

const health = async () => {
  const started = performance.now();
  const res = await fetch(`${stack.httpUrl}/health`);
  return { status: res.status, body: await res.json(), tookMs: performance.now() - started };
};

describe('When a load balancer asks /health', () => {
  it('answers 200 with the latency when the store answers quickly', async () => {
    // Prepare
    proxy.delayMs = 0;

    // Act
    const { status, body } = await health();

    // Assess
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ok', storeLatencyMs: expect.any(Number) });
  });

  it('answers 200, not 503, while the store is busy: slower than a second, within the opening window', async () => {
    // Prepare: every answer of the store comes back 1.5 s late, as under a burst of handshakes
    proxy.delayMs = 1_500;

    // Act
    const { status, body } = await health();

    // Assess
    expect(status).toBe(200);
    expect(body.storeLatencyMs).toBeGreaterThanOrEqual(1_400);
  });

  it('answers 503 with the reason once the store has not answered within the opening window', async () => {
    // Prepare: the store takes every request and answers none
    proxy.delayMs = Number.POSITIVE_INFINITY;

    // Act
    const { status, body, tookMs } = await health();

    // Assess: at the bound, not before and not long after
    expect(status).toBe(503);
    expect(body).toEqual({
      status: 'unavailable',
      reason: `the store did not answer within ${WINDOW_SECONDS * 1000} ms`,
    });
    expect(tookMs).toBeGreaterThanOrEqual(WINDOW_SECONDS * 1000 - 50);
    expect(tookMs).toBeLessThan(WINDOW_SECONDS * 1000 + 3_000);
  });
});
