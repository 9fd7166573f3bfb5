/**
 * Fuzz target (a), issue 9: handshake query strings. Names and values of any kind (Object built-ins, repeats, every
 * encoding, bad percent escapes, any length) get the contract's answer (101, 400, 401, 429 with the error shape),
 * the stack keeps answering, and only the admissions the contract grants write to the table.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { LocalStack } from '../../local/stack.js';
import {
  BAD_ESCAPES,
  BUILT_IN_NAMES,
  changedKeys,
  encodeComponent,
  FUZZ_INPUTS,
  FUZZ_TIMEOUT_MS,
  fuzz,
  parseAnswer,
  percentEncodeAll,
  tableItems,
} from '../support/fuzz.js';
import { answers, portOf, rawRequest, upgradeRequest } from '../support/raw-http.js';
import { eventually, mustOpen } from '../support/sockets.js';
import { startTestStack, storeFor } from '../support/stack.js';

/** The contract's rules (docs/player-protocol.md), written out independently of the handlers. */
const ID = /^[A-Za-z0-9._\-:@]{1,128}$/;
const PRINTABLE_LABEL = /^[^\p{C}]{1,128}$/u;
const SINGLE_VALUED = ['userId', 'streamId', 'device', 'token'];
/** Users already at their limit: a valid handshake for them is refused with 429 and writes nothing. */
const FULL_USERS = ['full-a', 'full-b'];
/** A fresh user id, unique in this run, replaces this marker when the request is built. */
const FRESH = '\u0000fresh';

type Expected = { status: 101 | 400 | 401 | 429; code?: string; orLimit?: true };

/** What the contract says a handshake with this query gets. */
function expectedFor(query: string): Expected {
  const params = new URLSearchParams(query);
  if (SINGLE_VALUED.some((name) => params.getAll(name).length > 1)) return { status: 400, code: 'INVALID_PARAMETER' };
  const userId = params.get('userId');
  if (!userId) return { status: 401, code: 'UNAUTHORIZED' };
  if (!ID.test(userId)) return { status: 400, code: 'INVALID_PARAMETER' };
  const streamId = params.get('streamId');
  if (streamId && !ID.test(streamId)) return { status: 400, code: 'INVALID_PARAMETER' };
  const device = params.get('device');
  if (device && !PRINTABLE_LABEL.test(device)) return { status: 400, code: 'INVALID_PARAMETER' };
  if (FULL_USERS.includes(userId)) return { status: 429, code: 'LIMIT_REACHED' };
  // A fresh id holds nothing yet. Any other valid id may be generated twice at once, and then be at its limit.
  return userId.startsWith('fz-') ? { status: 101 } : { status: 101, orLimit: true };
}

/** Characters a query may carry as they are, without changing how it is split or read. */
const SAFE_RAW = /^[A-Za-z0-9._~:@!$'()*,;+-]*$/;
const idChar = fc.constantFrom(...'ABCXYZabcxyz0189._-:@');
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: idChar, minLength: 1, maxLength: 128 }) },
  { weight: 1, arbitrary: fc.string({ unit: idChar, minLength: 129, maxLength: 160 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constantFrom(...BUILT_IN_NAMES) },
);
/** One name or value as it goes on the wire: encoded one of three ways, or pieces with bad escapes. */
const wire = (source: fc.Arbitrary<string>) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(source, fc.constantFrom('component', 'every-byte', 'raw'))
        .map(([t, how]) =>
          how === 'every-byte' ? percentEncodeAll(t) : how === 'raw' && SAFE_RAW.test(t) ? t : encodeComponent(t),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.oneof(fc.constantFrom(...BAD_ESCAPES), fc.string({ unit: idChar, maxLength: 4 })), { maxLength: 4 })
        .map((pieces) => pieces.join('')),
    },
  );
const name = wire(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...SINGLE_VALUED, ...BUILT_IN_NAMES, 'userid', 'UserId', 'user Id') },
    { weight: 1, arbitrary: text },
  ),
);
const pair = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(name, wire(text)).map(([n, v]) => `${n}=${v}`) },
  { weight: 1, arbitrary: name }, // a name without `=`
  { weight: 1, arbitrary: fc.tuple(name, wire(text), wire(text)).map(([n, a, b]) => `${n}=${a}=${b}`) },
  { weight: 1, arbitrary: fc.constant('') }, // `&&`
);
/**
 * Admissions and refusals at the limit cost the store two to four calls each, the rest none: about one in eight
 * inputs is a valid user, so that 10,000 inputs stay within a minute or so on two cores.
 */
const userIdValue = fc.oneof(
  { weight: 1, arbitrary: fc.constant(FRESH) },
  { weight: 1, arbitrary: fc.constantFrom(...FULL_USERS) },
  { weight: 1, arbitrary: wire(text) },
  { weight: 7, arbitrary: wire(text.filter((t) => !ID.test(t))) },
);
const query = fc
  .record({
    userId: fc.option(userIdValue, { freq: 4 }),
    others: fc.array(pair, { maxLength: 5 }),
    at: fc.nat(),
  })
  .map(({ userId, others, at }) => {
    const pairs = [...others];
    if (userId !== null) pairs.splice(at % (pairs.length + 1), 0, `userId=${userId}`);
    return pairs.join('&');
  });

describe('fuzz: handshake query strings', () => {
  let stack: LocalStack;
  let wsPort: number;
  const held: WebSocket[] = [];

  beforeAll(async () => {
    stack = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
    wsPort = portOf(stack.wsUrl);
    for (const userId of FULL_USERS) {
      for (let i = 0; i < 3; i++) held.push(await mustOpen(stack.wsUrl, { userId }));
    }
  });

  afterAll(async () => {
    for (const s of held) s.terminate();
    await stack?.stop();
  });

  it(
    `answers ${FUZZ_INPUTS} handshakes as the contract says, and writes only the admissions`,
    async () => {
      // Prepare
      const before = await tableItems(stack);
      const admitted = new Set<string>();
      let fresh = 0;
      const seen = { 101: 0, 400: 0, 401: 0, 429: 0 };

      // Act and Assess, per input
      const checked = await fuzz(
        query,
        async (generated) => {
          const q = generated.replace(FRESH, () => `fz-${fresh++}`);
          const expected = expectedFor(q);
          const answer = parseAnswer(await rawRequest(wsPort, upgradeRequest(`/?${q}`)));
          const statuses = expected.orLimit ? [101, 429] : [expected.status];
          expect(statuses, `/?${q} answered ${answer.status} ${answer.body}`).toContain(answer.status);
          seen[answer.status as keyof typeof seen]++;
          if (answer.status === 101) {
            admitted.add(new URLSearchParams(q).get('userId')!);
            return;
          }
          const code = answer.status === 429 ? 'LIMIT_REACHED' : expected.code;
          expect(answer.json, `/?${q}`).toEqual({ error: { code, message: expect.any(String) } });
        },
        async () => expect(await answers(wsPort)).toBe(true),
      );

      // Assess: every admitted socket (each hung up at once) was released, and nothing else was written
      const store = storeFor(stack);
      await eventually(async () => {
        for (const userId of admitted) if ((await store.getCounter(userId)).active !== 0) return false;
        return true;
      }, 30_000);
      const after = await tableItems(stack);
      const unexpected = changedKeys(before, after).filter((key) => {
        const item = after.get(key);
        return !admitted.has(String(item?.userId ?? '')) && !admitted.has(key.replace(/^user#(.*) counter$/, '$1'));
      });
      expect(unexpected).toEqual([]);
      for (const userId of FULL_USERS) expect((await store.getCounter(userId)).active).toBe(3);
      expect(checked).toBeGreaterThanOrEqual(FUZZ_INPUTS);
      expect(seen[101] + seen[429]).toBeGreaterThan(0);
      console.info(`[fuzz handshake] ${checked} inputs: ${JSON.stringify(seen)}, ${admitted.size} users admitted`);
    },
    FUZZ_TIMEOUT_MS,
  );
});
