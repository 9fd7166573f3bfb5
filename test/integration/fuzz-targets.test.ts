/**
 * Fuzz target (b), issue 9: raw request targets on both ports (`//`, `http://[`, absolute URLs, dot segments, bad
 * escapes, garbage bytes), plain and as WebSocket upgrades. Every request gets an answer below 500 in the shape of
 * its port (`{"error":{"code","message"}}` from the service, `{"message"}` from API Gateway's `@connections`), the
 * stack keeps answering, and nothing is written.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import {
  BAD_ESCAPES,
  changedKeys,
  FUZZ_INPUTS,
  FUZZ_TIMEOUT_MS,
  fuzz,
  http1,
  parseAnswer,
  tableItems,
} from '../support/fuzz.js';
import { answers, portOf, rawRequest, upgradeRequest } from '../support/raw-http.js';
import { startTestStack } from '../support/stack.js';

const piece = fc.oneof(
  fc.constantFrom('/', '//', '.', '..', '/..', '?', '#', ':', '@', '[', ']', '*', 'http://', 'https://', 'ws://'),
  fc.constantFrom('@connections', 'health', 'users', 'connections', 'limit', 'player', 'console', 'x', 'local'),
  fc.constantFrom(...BAD_ESCAPES, '%2F', '%2f', '%5C', '%40', '%3F', '%23'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
);
/** Bytes of a request target: printable pieces, or anything at all (which the HTTP parser itself may refuse). */
const target = fc
  .oneof(
    { weight: 2, arbitrary: fc.constantFrom('//', 'http://[', '*', '/', 'http://x/health', '//x/@connections/a') },
    { weight: 6, arbitrary: fc.array(piece, { minLength: 1, maxLength: 8 }).map((p) => p.join('').replace(/ /g, '')) },
    {
      weight: 2,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) =>
        Buffer.from(bytes)
          .toString('latin1')
          .replace(/[\r\n ]/g, ''),
      ),
    },
  )
  // Upgrades with a user id would be admitted: this target is about targets, not admissions (see fuzz-handshake).
  .filter((t) => t.length > 0 && !/userid/i.test(t));
const request = fc.record({ port: fc.constantFrom('ws', 'http'), upgrade: fc.boolean(), target });

describe('fuzz: raw request targets', () => {
  let stack: LocalStack;
  let ports: { ws: number; http: number };

  beforeAll(async () => {
    stack = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
    ports = { ws: portOf(stack.wsUrl), http: portOf(stack.httpUrl) };
  });

  afterAll(async () => stack?.stop());

  it(
    `answers ${FUZZ_INPUTS} request targets on both ports below 500, in the port's error shape, writing nothing`,
    async () => {
      // Prepare
      const before = await tableItems(stack);
      const seen: Record<number, number> = {};

      // Act and Assess, per input
      const checked = await fuzz(
        request,
        async ({ port, upgrade, target }) => {
          const text = upgrade
            ? upgradeRequest(target)
            : `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
          const answer = parseAnswer(await rawRequest(ports[port], Buffer.from(text, 'latin1')));
          const label = `${port} ${upgrade ? 'upgrade' : 'GET'} ${JSON.stringify(target)}: ${answer.status} ${answer.body}`;
          seen[answer.status] = (seen[answer.status] ?? 0) + 1;
          expect(answer.status, label).toBeGreaterThanOrEqual(200);
          expect(answer.status, label).toBeLessThan(500);
          expect(answer.status, label).not.toBe(101);
          if (answer.json === undefined || answer.status < 400) return;
          // `@connections` answers as API Gateway does; everything else, the service's own error shape.
          const apiGateway = port === 'ws' && !upgrade;
          expect(answer.json, label).toEqual(
            apiGateway
              ? { message: expect.any(String) }
              : { error: { code: expect.any(String), message: expect.any(String) } },
          );
        },
        async () => {
          expect(await answers(ports.ws)).toBe(true);
          expect(await answers(ports.http)).toBe(true);
        },
      );

      // Assess
      expect(changedKeys(before, await tableItems(stack))).toEqual([]);
      expect(checked).toBeGreaterThanOrEqual(FUZZ_INPUTS);
      console.info(`[fuzz targets] ${checked} inputs, by status: ${JSON.stringify(seen)}`);
    },
    FUZZ_TIMEOUT_MS,
  );

  it('still answers a plain request after an aborted one on each port (the shape of the next fuzz targets)', async () => {
    await http1(ports.ws, { method: 'POST', target: '/@connections/x', body: '{"a":', abort: true });
    await http1(ports.http, { method: 'POST', target: '/health', body: '{"a":', abort: true });

    expect((await rawRequest(ports.http, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(
      200,
    );
  });
});
