/**
 * Requests an attacker would send, one at a time, against both ports: each gets a clear answer, nothing is written,
 * and the stack keeps serving (issue 9, defects 1, 4 and 7). An unhandled rejection here fails the run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { Players } from '../support/players.js';
import { answers, jsonOf, portOf, rawRequest, upgradeRequest } from '../support/raw-http.js';
import { eventually, nextMessage, request } from '../support/sockets.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

let stack: LocalStack;
let store: StreamStore;
let wsPort: number;
let httpPort: number;
const players = new Players(() => stack);

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3 });
  store = storeFor(stack);
  wsPort = portOf(stack.wsUrl);
  httpPort = portOf(stack.httpUrl);
});

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

const bothAnswer = async () => (await answers(wsPort)) && (await answers(httpPort));
const active = async (userId: string) => (await store.getCounter(userId)).active;
const BUILT_INS = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
];

describe('query parameters named like Object built-ins (defect 1)', () => {
  it.each(BUILT_INS)('admits ?userId=U&%s=1 as a plain name, and keeps serving', async (name) => {
    // Prepare
    const userId = newUserId();

    // Act
    const answer = await rawRequest(wsPort, upgradeRequest(`/?userId=${userId}&${name}=1&${name}=2`));

    // Assess
    expect(answer.status).toBe(101);
    await eventually(async () => (await active(userId)) === 0); // the raw socket hung up: released
    expect(await bothAnswer()).toBe(true);
  });

  it.each(BUILT_INS)('reads userId=%s as an id, with the contract answer', async (name) => {
    const answer = await rawRequest(wsPort, upgradeRequest(`/?${name}=x&userId=${encodeURIComponent(name)}`));

    // `__proto__` and friends are valid ids by the alphabet; `__defineGetter__` too: all plain strings.
    expect(answer.status).toBe(101);
    expect(await bothAnswer()).toBe(true);
  });
});

describe('request targets that are not URL paths (defect 1)', () => {
  it.each([
    ['//', 'ws', 404],
    ['//', 'http', 401],
    ['http://[', 'ws', 400],
    ['http://[', 'http', 400],
    ['/@connections/%E0%A4%A', 'ws', 404],
    ['/@connections/%', 'ws', 404],
    ['*', 'ws', 400],
    ['*', 'http', 400],
  ])('GET %s on the %s port answers %i and the stack keeps serving', async (target, which, status) => {
    const port = which === 'ws' ? wsPort : httpPort;

    const answer = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);

    expect(answer.status).toBe(status);
    expect(await bothAnswer()).toBe(true);
  });

  it('answers a support request with a target that is not a path with the error shape', async () => {
    const answer = await rawRequest(httpPort, `GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);

    expect(jsonOf(answer)).toEqual({ error: { code: 'INVALID_PATH', message: expect.any(String) } });
  });

  it.each([
    ['http://[', 400],
    ['*', 400],
    ['//', 401],
    ['//?userId=x', 101],
  ])('answers an upgrade to %s with %i', async (target, status) => {
    const answer = await rawRequest(wsPort, upgradeRequest(target));

    expect(answer.status).toBe(status);
    expect(await bothAnswer()).toBe(true);
  });
});

describe('bodies the client aborts mid-way (defect 1)', () => {
  const partial = (method: string, path: string, auth = '') =>
    `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`;

  it.each([
    ['POST /@connections/x', 'ws', partial('POST', '/@connections/x')],
    ['POST /health', 'http', partial('POST', '/health')],
    ['PUT /users/u/limit with the admin token', 'http', ''],
    ['DELETE /connections/x with the admin token', 'http', ''],
  ])('%s, then the client hangs up: the stack keeps serving', async (label, which, text) => {
    const auth = `Authorization: Bearer ${stack.adminToken}\r\n`;
    const [method, path] = label.split(' ') as [string, string];
    const port = which === 'ws' ? wsPort : httpPort;

    await rawRequest(port, text || partial(method, path, auth), { abortAfterMs: 100 });

    await new Promise((r) => setTimeout(r, 100));
    expect(await bothAnswer()).toBe(true);
  });
});

describe('message routing by own properties only (defect 4)', () => {
  it.each(['toString', 'valueOf', 'hasOwnProperty', 'constructor', '__proto__', 'isPrototypeOf', '__lookupGetter__'])(
    'answers {"action":"%s"} with UNKNOWN_ACTION and keeps the socket',
    async (action) => {
      const { socket } = await players.openWithId({ userId: newUserId() });

      const reply = await request(socket, JSON.stringify({ action }));

      expect(reply).toEqual({ type: 'error', code: 'UNKNOWN_ACTION', message: expect.any(String) });
      expect(socket.readyState).toBe(WebSocket.OPEN);
    },
  );

  it.each([
    ['an action nested 10,000 arrays deep', `{"action":${'['.repeat(10_000)}${']'.repeat(10_000)}}`],
    ['an action nested 10,000 objects deep', `{"action":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`],
    ['a frame nested 10,000 levels deep', `${'{"action":'.repeat(10_000)}"status"${'}'.repeat(10_000)}`],
  ])('answers %s with an error frame, not "Internal server error"', async (_label, frame) => {
    const { socket } = await players.openWithId({ userId: newUserId() });
    const reply = nextMessage(socket);

    // In frames under API Gateway's 32 KB (the message stays under 128 KB).
    const parts = Math.ceil(frame.length / 30_000);
    for (let i = 0; i < parts; i++) socket.send(frame.slice(i * 30_000, (i + 1) * 30_000), { fin: i === parts - 1 });

    expect(await reply).toEqual({
      type: 'error',
      code: expect.stringMatching(/^[A-Z_]+$/),
      message: expect.any(String),
    });
    expect((await request(socket, { action: 'status' })).type).toBe('status');
  });
});

describe('handshakes API Gateway would refuse are refused before $connect (defect 7)', () => {
  it.each([
    ['a POST upgrade', {}, 'POST'],
    ['a Sec-WebSocket-Key that is not base64', { 'Sec-WebSocket-Key': 'not a key!' }, 'GET'],
    ['a Sec-WebSocket-Key of 15 bytes', { 'Sec-WebSocket-Key': Buffer.alloc(15).toString('base64') }, 'GET'],
    ['no Sec-WebSocket-Key', { 'Sec-WebSocket-Key': undefined }, 'GET'],
    ['Sec-WebSocket-Version 8', { 'Sec-WebSocket-Version': '8' }, 'GET'],
    ['no Sec-WebSocket-Version', { 'Sec-WebSocket-Version': undefined }, 'GET'],
    ['Upgrade: h2c', { Upgrade: 'h2c' }, 'GET'],
    ['a malformed Sec-WebSocket-Protocol', { 'Sec-WebSocket-Protocol': 'a,,b' }, 'GET'],
  ])('refuses %s with 400 and counts nothing', async (_label, headers, method) => {
    const userId = newUserId();

    const answer = await rawRequest(wsPort, upgradeRequest(`/?userId=${userId}`, headers, method));

    expect(answer.status).toBe(400);
    expect(jsonOf(answer)).toEqual({ error: { code: 'INVALID_HANDSHAKE', message: expect.any(String) } });
    const counter = await store.getCounter(userId);
    expect(counter.active).toBe(0);
    expect(counter.counted.size).toBe(0);
  });
});
