/**
 * Fuzz target (c), issue 9: message frames. Any bytes, any text, any JSON, deep nesting, Object built-ins and route
 * keys as actions: every frame gets the contract's answer (a status or heartbeat for those actions, else an error
 * frame with one of the documented codes), the socket stays open, and nothing but the sockets' own items changes.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LocalStack } from '../../local/stack.js';
import {
  BUILT_IN_NAMES,
  changedKeys,
  FUZZ_CONCURRENCY,
  FUZZ_INPUTS,
  FUZZ_TIMEOUT_MS,
  fuzz,
  tableItems,
  within,
} from '../support/fuzz.js';
import { answers, portOf } from '../support/raw-http.js';
import { mustOpen, nextMessage, request } from '../support/sockets.js';
import { newUserId, startTestStack } from '../support/stack.js';

type Frame = { binary: true; bytes: Uint8Array } | { binary: false; text: string };

/** What the contract says a frame gets (docs/player-protocol.md), from what the server receives. */
function expectedFor(frame: Frame): { type: 'status' | 'heartbeat' } | { type: 'error'; code: string } {
  if (frame.binary) return { type: 'error', code: 'INVALID_MESSAGE' };
  // A text frame travels as UTF-8: a lone surrogate arrives as U+FFFD.
  const received = Buffer.from(frame.text, 'utf8').toString('utf8');
  let message: unknown;
  try {
    message = JSON.parse(received);
  } catch {
    return { type: 'error', code: 'INVALID_JSON' };
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return { type: 'error', code: 'INVALID_MESSAGE' };
  }
  const action = Object.hasOwn(message, 'action') ? (message as { action: unknown }).action : undefined;
  if (action === 'status' || action === 'heartbeat') return { type: action };
  return { type: 'error', code: 'UNKNOWN_ACTION' };
}

const actionName = fc.oneof(
  fc.constantFrom('status', 'heartbeat', '$default', '$connect', '$disconnect', 'Status', 'status ', ...BUILT_IN_NAMES),
  fc.string({ maxLength: 12 }),
);
const action = fc.oneof({ weight: 4, arbitrary: actionName }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) });
/** Nested up to thousands of levels deep, kept under API Gateway's 32 KB frame (a bigger one closes the socket). */
const nested = fc
  .record({ share: fc.double({ min: 0, max: 1, noNaN: true }), inner: actionName, kind: fc.constantFrom(0, 1, 2) })
  .map(({ share, inner, kind }) => {
    const [open, close] = (
      [
        ['[', ']'],
        ['{"a":', '}'],
        ['{"action":', '}'],
      ] as const
    )[kind];
    const depth = 1 + Math.floor(share * ((30_000 - 100) / (open.length + close.length)));
    const core = kind === 2 ? '"status"' : JSON.stringify({ action: inner });
    return `${kind === 2 ? '{"action":' : ''}${open.repeat(depth)}${core}${close.repeat(depth)}${kind === 2 ? '}' : ''}`;
  });
const text = fc.oneof(
  { weight: 3, arbitrary: fc.record({ action }, { requiredKeys: [] }).map((o) => JSON.stringify(o)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'a', 'action'), fc.jsonValue({ maxDepth: 2 })),
        action,
      )
      .map(([extra, a]) => {
        // Written by hand, so that `__proto__` is a key of the JSON text (an object literal would set a prototype).
        const members = Object.entries(extra).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
        return `{${[...members, `"action":${JSON.stringify(a)}`].join(',')}}`;
      }),
  },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: nested },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', '[]', '{}', '{"action":"status"', '{"action":"status"}}') },
);
const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 9, arbitrary: text.map((t) => ({ binary: false as const, text: t })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ binary: true as const, bytes })) },
);

describe('fuzz: message frames', () => {
  let stack: LocalStack;
  const sockets: Array<{ socket: WebSocket; connectionId: string; userId: string }> = [];

  beforeAll(async () => {
    // Limits high enough that no frame is throttled: this target is about what the routes answer.
    stack = await startTestStack({
      streamLimit: 3,
      sweepIntervalSeconds: 0,
      throttleRateLimit: 10_000,
      throttleBurstLimit: 5_000,
    });
    for (let i = 0; i < FUZZ_CONCURRENCY; i++) {
      const userId = newUserId('frames');
      const socket = await mustOpen(stack.wsUrl, { userId });
      const { connectionId } = await request(socket, { action: 'status' });
      sockets.push({ socket, connectionId: connectionId as string, userId });
    }
  });

  afterAll(async () => {
    for (const { socket } of sockets) socket.terminate();
    await stack?.stop();
  });

  it(
    `answers ${FUZZ_INPUTS} frames as the contract says, keeps every socket open, and writes nothing else`,
    async () => {
      // Prepare
      const before = await tableItems(stack);
      let next = 0;
      const seen: Record<string, number> = {};

      // Act and Assess, per input: each socket has one frame in flight, so answers pair with frames
      const checked = await fuzz(
        frame,
        async (f) => {
          const { socket, connectionId, userId } = sockets[next++ % sockets.length]!;
          const expected = expectedFor(f);
          const reply = nextMessage(socket);
          socket.send(f.binary ? Buffer.from(f.bytes) : f.text, { binary: f.binary });
          const answer = await within(
            reply,
            15_000,
            `no answer to ${f.binary ? 'a binary frame' : JSON.stringify(f.text.slice(0, 300))}`,
          );
          const label = `${f.binary ? 'binary' : JSON.stringify(f.text.slice(0, 300))} -> ${JSON.stringify(answer)}`;
          seen[String(answer.code ?? answer.type)] = (seen[String(answer.code ?? answer.type)] ?? 0) + 1;
          if (expected.type === 'error') {
            expect(answer, label).toEqual({ type: 'error', code: expected.code, message: expect.any(String) });
          } else if (expected.type === 'status') {
            expect(answer, label).toEqual({ type: 'status', userId, active: 1, limit: 3, connectionId });
          } else {
            expect(answer, label).toEqual({ type: 'heartbeat', connectionId, leaseExpiresAt: expect.any(String) });
          }
          expect(socket.readyState).toBe(WebSocket.OPEN);
        },
        async () => expect(await answers(portOf(stack.wsUrl))).toBe(true),
      );

      // Assess: only the fuzzing sockets' own connection items may change (heartbeats renew their leases)
      const own = new Set(sockets.map((s) => `conn#${s.connectionId} conn`));
      expect(changedKeys(before, await tableItems(stack)).filter((k) => !own.has(k))).toEqual([]);
      expect(checked).toBeGreaterThanOrEqual(FUZZ_INPUTS);
      console.info(`[fuzz frames] ${checked} inputs, by answer: ${JSON.stringify(seen)}`);
    },
    FUZZ_TIMEOUT_MS,
  );
});
