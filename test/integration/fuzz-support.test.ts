/**
 * Fuzz target (e), issue 9: the support API. Any method, path, credentials, headers and body, and bodies the client
 * aborts: answers below 500 in the contract's `{"error":{"code","message"}}` shape, 401 without the token, 400 for a
 * limit that is not {"limit": 0 to 100}, the stack keeps answering, and only limit changes the API granted write.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import {
  BAD_ESCAPES,
  BUILT_IN_NAMES,
  changedKeys,
  encodeComponent,
  FUZZ_INPUTS,
  FUZZ_TIMEOUT_MS,
  fuzz,
  http1,
  parseAnswer,
  tableItems,
} from '../support/fuzz.js';
import { answers, portOf } from '../support/raw-http.js';
import { startTestStack } from '../support/stack.js';

const TOKEN = '\u0000token';
const ID = /^[A-Za-z0-9._\-:@]{1,128}$/;

const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('sup-a', 'sup-b') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...BAD_ESCAPES, ...BUILT_IN_NAMES, '%2F', 'a%2Fb', '.', '..', '%2e', 'x'.repeat(129)),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(encodeComponent) },
);
/** The usage routes' range: real times, times that are not, built-in names, bad escapes, huge values. */
const time = fc.oneof(
  fc.constantFrom('2031-01-15T00:00:00Z', '2031-01-15', '2031-01-15T10:00+02:00', '1970-01-01T00:00:00.000Z'),
  fc.constantFrom(...BAD_ESCAPES, ...BUILT_IN_NAMES, '2031-02-30', '2031-01-15T24:00Z', '9'.repeat(5000)),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeComponent),
);
const usageQuery = fc.tuple(fc.option(time), fc.option(time)).map(([from, to]) => {
  const params = [from === null ? '' : `from=${from}`, to === null ? '' : `to=${to}`].filter(Boolean);
  return params.length === 0 ? '' : `?${params.join('&')}`;
});
const path = fc.oneof(
  { weight: 2, arbitrary: segment.map((u) => `/users/${u}/limit`) },
  { weight: 1, arbitrary: segment.map((u) => `/users/${u}/connections`) },
  { weight: 1, arbitrary: segment.map((u) => `/users/${u}/audit`) },
  { weight: 1, arbitrary: segment.map((c) => `/connections/${c}`) },
  { weight: 1, arbitrary: fc.tuple(segment, usageQuery).map(([u, q]) => `/users/${u}/usage${q}`) },
  { weight: 1, arbitrary: usageQuery.map((q) => `/usage${q}`) },
  { weight: 1, arbitrary: fc.constantFrom('/health', '/health/', '/users', '/users//limit', '/', '//', '/me/streams') },
  { weight: 1, arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`) },
);
const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE') },
  { weight: 1, arbitrary: fc.constantFrom('POST', 'PATCH', 'HEAD', 'OPTIONS', 'put', 'Delete') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,10}$/) },
);
const auth = fc.oneof(
  { weight: 6, arbitrary: fc.constant(`Authorization: Bearer ${TOKEN}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('', 'Authorization: Bearer', 'Authorization: Bearer wrong', 'Authorization: Basic YTpi'),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((t) => `Authorization: ${t}`) },
);
const body = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 100 }).map((n) => JSON.stringify({ limit: n })) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify({ limit: v })) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(undefined, '', '{"limit":1,"x":2}', '{"limit":1e2}', '{"__proto__":{"limit":1}}'),
  },
);
const input = fc.record({
  method,
  path,
  auth,
  contentType: fc.constantFrom('Content-Type: application/json', 'Content-Type: text/plain', ''),
  body,
  abort: fc.integer({ min: 0, max: 9 }).map((n) => n === 0), // one in ten
});

/** `{"limit": n}` and nothing else, n a whole number from 0 to 100: the only body a limit change takes. */
function isLimitBody(text: string | undefined): boolean {
  try {
    const v = JSON.parse(text ?? '') as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).join() !== 'limit') return false;
    const n = (v as { limit: unknown }).limit;
    return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 100;
  } catch {
    return false;
  }
}

describe('fuzz: support API', () => {
  let stack: LocalStack;
  let port: number;

  beforeAll(async () => {
    stack = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
    port = portOf(stack.httpUrl);
    // Ten thousand staff actions would each print an audit line; their content is not what this target checks.
    stack.runtime.audit.setLogLevel('SILENT');
  });

  afterAll(async () => stack?.stop());

  it(
    `answers ${FUZZ_INPUTS} support requests in the contract's shape, writing only the limits it granted`,
    async () => {
      // Prepare
      const before = await tableItems(stack);
      const changedUsers = new Set<string>();
      const seen: Record<number, number> = {};

      // Act and Assess, per input
      const checked = await fuzz(
        input,
        async (generated) => {
          const authorized = generated.auth === `Authorization: Bearer ${TOKEN}`;
          const headers = [generated.auth.replace(TOKEN, stack.adminToken), generated.contentType].filter(Boolean);
          const answer = parseAnswer(await http1(port, { ...generated, target: generated.path, headers }));
          const label = `${generated.method} ${generated.path} (${authorized ? 'token' : generated.auth}) ${generated.body} -> ${answer.status} ${answer.body.slice(0, 200)}`;
          seen[answer.status] = (seen[answer.status] ?? 0) + 1;
          if (generated.abort) return; // nobody to answer; the next request must still be served
          if (answer.status === 400 && answer.body === '') return; // Node's parser refused it (a method it does not know)
          expect(answer.status, label).toBeGreaterThanOrEqual(200);
          expect(answer.status, label).toBeLessThan(500);
          if (answer.status >= 400 && answer.json !== undefined) {
            expect(answer.json, label).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
          }
          const resolved = new URL(`http://x${generated.path}`).pathname;
          const page = /^\/(player|console)(\/|$)/.test(resolved);
          // The player API (`/me/...`) has its own identity (`?userId=` here, absent from these paths), so it refuses
          // with 401 whatever the Authorization header says; only its CORS preflights are answered without one.
          const preflight = /^\/me(\/|$)/.test(resolved) && generated.method.toUpperCase() === 'OPTIONS';
          if (!preflight && (!authorized || /^\/me(\/|$)/.test(resolved)) && resolved !== '/health' && !page)
            expect(answer.status, label).toBe(401);
          const user = /^\/users\/([^/]+)\/limit$/.exec(resolved)?.[1];
          if (authorized && generated.method === 'PUT' && user && ID.test(user)) {
            if (isLimitBody(generated.body)) {
              expect(answer.status, label).toBe(200);
              expect(answer.json, label).toMatchObject({
                userId: user,
                limitOverride: JSON.parse(generated.body!).limit,
              });
            } else {
              expect(answer.status, label).toBe(400);
            }
          }
          if (answer.status === 200 && /^(PUT|DELETE)$/i.test(generated.method) && user) {
            changedUsers.add(String((answer.json as { userId: string }).userId));
          }
        },
        async () => expect(await answers(port)).toBe(true),
      );

      // Assess: only the users whose limit the API changed have new items (the override and its history entry)
      const changed = changedKeys(before, await tableItems(stack));
      expect(changed.filter((key) => !changedUsers.has(/^user#(.*) (counter|audit#.*)$/.exec(key)?.[1] ?? ''))).toEqual(
        [],
      );
      expect(checked).toBeGreaterThanOrEqual(FUZZ_INPUTS);
      console.info(
        `[fuzz support] ${checked} inputs, by status: ${JSON.stringify(seen)}; ${changedUsers.size} users' limits changed`,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it('answers a limit change with the limit it set, even when another change races it', async () => {
    // Prepare
    const put = (limit: number) =>
      http1(port, {
        method: 'PUT',
        target: '/users/race-a/limit',
        headers: [`Authorization: Bearer ${stack.adminToken}`, 'Content-Type: application/json'],
        body: JSON.stringify({ limit }),
      });
    const clear = () =>
      http1(port, {
        method: 'DELETE',
        target: '/users/race-a/limit',
        headers: [`Authorization: Bearer ${stack.adminToken}`],
      });

    // Act: each change together with one that undoes it
    const pairs = await Promise.all(Array.from({ length: 10 }, (_, i) => Promise.all([put(i), clear()])));

    // Assess
    for (const [i, [set, cleared]] of pairs.entries()) {
      expect(parseAnswer(set).json).toMatchObject({ userId: 'race-a', limit: i, limitOverride: i });
      expect(parseAnswer(cleared).json, cleared.text).toMatchObject({
        userId: 'race-a',
        limit: 3,
        limitOverride: null,
      });
    }
  });
});
