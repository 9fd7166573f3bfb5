/** Shared by the fuzz targets (test/integration/fuzz-*.test.ts): batches of inputs, table snapshots, raw HTTP. */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { createDocumentClient } from '../../core/store/dynamodb/store.js';
import { isEventsItem } from '../../core/store/schema.js';
import type { LocalStack } from '../../local/stack.js';
import { jsonOf, type RawAnswer, rawRequest } from './raw-http.js';

/** Inputs per target, as issue 9 asks. */
export const FUZZ_INPUTS = 10_000;
/** Inputs sent at once: a few, so the stack sees concurrency without the machine's two cores being swamped. */
export const FUZZ_CONCURRENCY = 4;
/** Per target: 10,000 inputs at a few hundred a second, on a busy machine. */
export const FUZZ_TIMEOUT_MS = 240_000;

/** How many batches go by between two explicit "does it still answer" checks; the inputs between are requests too. */
const CHECK_EVERY = 5;

/**
 * Checks `FUZZ_INPUTS` inputs, `FUZZ_CONCURRENCY` at a time, with fast-check (so a failure is shrunk and its seed
 * printed); `between` (the server must still answer) runs every few batches and after the last, so the request after
 * any input is either the next input, whose answer is checked, or that check. Returns how many inputs were checked.
 */
export async function fuzz<T>(
  input: fc.Arbitrary<T>,
  check: (input: T) => Promise<void>,
  between: () => Promise<void>,
): Promise<number> {
  let checked = 0;
  let batches = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(input, { minLength: FUZZ_CONCURRENCY, maxLength: FUZZ_CONCURRENCY }), async (batch) => {
      try {
        await Promise.all(batch.map(check));
      } finally {
        checked += batch.length;
      }
      if (++batches % CHECK_EVERY === 0) await between();
    }),
    { numRuns: FUZZ_INPUTS / FUZZ_CONCURRENCY },
  );
  await between();
  return checked;
}

/** Every item of the stack's table, by key. */
export async function tableItems(stack: LocalStack): Promise<Map<string, Record<string, unknown>>> {
  const db = createDocumentClient(stack.dynamodbEndpoint);
  const items = new Map<string, Record<string, unknown>>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new ScanCommand({ TableName: stack.tableName, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    // The events processor writes beside the requests (checkpoints, signals): not what a request wrote.
    for (const item of page.Items ?? []) if (!isEventsItem(item)) items.set(`${item.pk} ${item.sk}`, item);
    start = page.LastEvaluatedKey;
  } while (start);
  db.destroy();
  return items;
}

/** Keys whose item is new or different after, compared with before. */
export function changedKeys(
  before: Map<string, Record<string, unknown>>,
  after: Map<string, Record<string, unknown>>,
): string[] {
  const changed: string[] = [];
  for (const [key, item] of after) {
    if (JSON.stringify(item) !== JSON.stringify(before.get(key))) changed.push(key);
  }
  for (const key of before.keys()) if (!after.has(key)) changed.push(key);
  return changed;
}

/** A raw answer's head and body, split; the body parsed (chunks joined) when it says it is JSON. */
export function parseAnswer(answer: RawAnswer): {
  status: number;
  headers: Record<string, string>;
  body: string;
  json?: unknown;
} {
  // `Expect: 100-continue` gets an interim `100 Continue` first; the answer is what follows.
  answer = { ...answer, text: answer.text.replace(/^(HTTP\/1\.[01] 100 [^\r]*\r\n\r\n)+/, '') };
  answer.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer.text)?.[1] ?? 0);
  const end = answer.text.indexOf('\r\n\r\n');
  const head = end < 0 ? answer.text : answer.text.slice(0, end);
  const body = end < 0 ? '' : answer.text.slice(end + 4);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const json = /application\/json/.test(headers['content-type'] ?? '') && body ? jsonOf(answer) : undefined;
  return { status: answer.status, headers, body, json };
}

/** One HTTP request over a fresh socket, closed after; `abort` hangs up before the body is all sent. */
export function http1(
  port: number,
  request: { method: string; target: string; headers?: string[]; body?: Buffer | string; abort?: boolean },
): Promise<RawAnswer> {
  const body = typeof request.body === 'string' ? Buffer.from(request.body) : (request.body ?? Buffer.alloc(0));
  const declared = request.abort ? body.length + 1000 : body.length;
  const head =
    `${request.method} ${request.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
    (request.headers ?? []).map((h) => `${h}\r\n`).join('') +
    (body.length || request.abort ? `Content-Length: ${declared}\r\n` : '') +
    '\r\n';
  // A busy machine (two cores, DynamoDB Local, other suites) can take seconds to answer: wait long enough.
  return rawRequest(
    port,
    Buffer.concat([Buffer.from(head, 'latin1'), body]),
    request.abort ? { abortAfterMs: 20 } : { waitMs: 15_000 },
  );
}

/** Every byte as %XX: a name or value that decodes to exactly `text` (UTF-8). */
export function percentEncodeAll(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/** `encodeURIComponent`, or every byte encoded when the text holds a lone surrogate it refuses. */
export function encodeComponent(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return percentEncodeAll(text);
  }
}

/** Names every JavaScript object has, which must stay plain names wherever a client can choose a name. */
export const BUILT_IN_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'toLocaleString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  '__defineGetter__',
  '__lookupSetter__',
  'prototype',
  'then',
] as const;

/** Percent sequences that are not valid escapes, or escape invalid UTF-8. */
export const BAD_ESCAPES = ['%', '%%', '%E0%A4%A', '%G1', '%ZZ', '%C0%AF', '%ED%A0%80', '%FF', '%2', '%00', '%0A'];

/** `promise`, or a failure naming `what` after `ms`: a fuzz input that gets no answer fails, it does not hang. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
