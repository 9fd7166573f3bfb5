/**
 * Sharing signals end to end: streams from several networks at once (sockets opened from different loopback
 * addresses: 127.0.1.1 and 127.0.2.1 are other /24s of the same machine), refusals past the day's threshold, the
 * `user.sharingSuspected` event once per user, reason and day, and `GET /signals`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LocalStack } from '../../local/stack.js';
import { Receiver, SECRET } from '../support/event-receiver.js';
import { eventually, openSocket } from '../support/sockets.js';
import { newUserId, startTestStack, supportRequest } from '../support/stack.js';

let stack: LocalStack;
const receiver = new Receiver();
const sockets: WebSocket[] = [];

beforeAll(async () => {
  const hookUrl = await receiver.start();
  stack = await startTestStack({
    eventsProcessor: 'on',
    streamLimit: 3,
    sharingNetworks: 2,
    sharingRefusalsPerDay: 3,
    eventsWebhookUrl: hookUrl,
    eventsWebhookSecret: SECRET,
  });
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await stack?.stop();
  await receiver.stop();
});

/** Opens a stream from `localAddress`: the stack sees that address as the player's. */
function openFrom(localAddress: string, userId: string, streamId: string): Promise<WebSocket> {
  const url = new URL(stack.wsUrl);
  url.searchParams.set('userId', userId);
  url.searchParams.set('streamId', streamId);
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { localAddress });
    socket.once('open', () => {
      sockets.push(socket);
      resolve(socket);
    });
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
  });
}

const signalsOf = (userId: string) =>
  receiver.unique().filter((e) => e.subject === userId && e.type === 'user.sharingSuspected');

describe('When one account plays from several networks at once', () => {
  it('flags a user streaming from three networks, once, and not one streaming three times from one', async () => {
    // Prepare
    const shared = newUserId('sig-shared');
    const household = newUserId('sig-home');

    // Act
    await openFrom('127.0.0.1', shared, 'a');
    await openFrom('127.0.1.1', shared, 'b');
    await openFrom('127.0.2.1', shared, 'c');
    for (const s of ['a', 'b', 'c']) await openFrom('127.0.0.1', household, s);
    await eventually(() => receiver.unique().filter((e) => e.subject === household).length >= 3, 10_000);
    await eventually(() => signalsOf(shared).length >= 1, 10_000);
    // One more admission of the shared account: the signal is not raised twice in a day.
    sockets.find((s) => s.url.includes(shared))?.close();
    await openFrom('127.0.3.1', shared, 'd');
    await new Promise((r) => setTimeout(r, 1_000));

    // Assess
    expect(signalsOf(household)).toEqual([]);
    expect(signalsOf(shared)).toHaveLength(1);
    expect(signalsOf(shared)[0]!.data).toMatchObject({
      reason: 'networks',
      seen: 3,
      threshold: 2,
      networks: ['127.0.0.0/24', '127.0.1.0/24', '127.0.2.0/24'],
    });
    const listed = await supportRequest(stack, { method: 'GET', path: '/signals' });
    const { signals } = (await listed.json()) as { signals: Array<{ userId: string; reason: string }> };
    expect(signals.filter((s) => s.userId === shared)).toEqual([expect.objectContaining({ reason: 'networks' })]);
    expect(signals.filter((s) => s.userId === household)).toEqual([]);
  });
});

describe('When one account is refused again and again', () => {
  it("flags it once past the day's threshold, counting each refused connect once", async () => {
    // Prepare: the user holds the limit
    const userId = newUserId('sig-refused');
    for (const s of ['a', 'b', 'c']) await openFrom('127.0.0.1', userId, s);

    // Act: five refused connects (the threshold is three a day)
    for (let i = 0; i < 5; i++) expect((await openSocket(stack.wsUrl, { userId, streamId: `x${i}` })).status).toBe(429);

    // Assess
    await eventually(() => signalsOf(userId).length >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(signalsOf(userId)).toHaveLength(1);
    expect(signalsOf(userId)[0]!.data).toMatchObject({ reason: 'refusals', seen: 4, threshold: 3 });
  });
});

describe('When GET /signals is asked for a day', () => {
  it('answers a real day, and refuses anything else with 400 and writes nothing', async () => {
    // Act
    const answers = await Promise.all(
      ['2026-12-07', '2026-02-30', 'yesterday', '__proto__', '2026-12-07%00', `${'9'.repeat(5000)}`].map(
        async (day) => {
          const res = await supportRequest(stack, { method: 'GET', path: `/signals?day=${day}` });
          return [day.slice(0, 12), res.status];
        },
      ),
    );
    const unauthenticated = await supportRequest(stack, { method: 'GET', path: '/signals', token: null });

    // Assess
    expect(answers).toEqual([
      ['2026-12-07', 200],
      ['2026-02-30', 400],
      ['yesterday', 400],
      ['__proto__', 400],
      ['2026-12-07%0', 400],
      ['999999999999', 400],
    ]);
    expect(unauthenticated.status).toBe(401);
  });
});
