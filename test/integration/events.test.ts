/**
 * The lifecycle events, end to end: real sockets through the local stack, the table's change stream read by the
 * local processor, a webhook receiver on loopback, and `GET /events`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { eventData } from '../../core/events/schema.js';
import type { LocalStack } from '../../local/stack.js';
import { Receiver, SECRET } from '../support/event-receiver.js';
import { closed, eventually, mustOpen, openSocket, request } from '../support/sockets.js';
import { newUserId, startTestStack, supportRequest } from '../support/stack.js';

let stack: LocalStack;
let hookUrl: string;
const receiver = new Receiver();
const sockets: WebSocket[] = [];

beforeAll(async () => {
  hookUrl = await receiver.start();
  stack = await startTestStack({
    eventsProcessor: 'on',
    streamLimit: 2,
    eventsWebhookUrl: hookUrl,
    eventsWebhookSecret: SECRET,
  });
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await stack?.stop();
  await receiver.stop();
});

async function open(userId: string, streamId: string, device = streamId) {
  const socket = await mustOpen(stack.wsUrl, { userId, streamId, device });
  sockets.push(socket);
  const { connectionId } = await request(socket, { action: 'status' });
  return { socket, connectionId: String(connectionId) };
}

describe('When streams start and end', () => {
  it('sends each step of each connection once, signed, in order, with the reason and the count after', async () => {
    // Prepare
    const userId = newUserId('ev');

    // Act: two streams, one ended by closing its socket, one taken over by a reconnect, the new one kicked
    const a = await open(userId, 'a');
    const b = await open(userId, 'b');
    a.socket.close();
    await closed(a.socket);
    await eventually(() => receiver.of(userId).some((e) => e.id === `${a.connectionId}/ended`), 10_000);
    const b2 = await open(userId, 'b', 'tv');
    const kick = await supportRequest(stack, {
      method: 'DELETE',
      path: `/connections/${encodeURIComponent(b2.connectionId)}`,
    });
    expect(kick.status).toBe(204);
    await supportRequest(stack, { method: 'PUT', path: `/users/${userId}/limit`, body: { limit: 5 } });

    // Assess
    await eventually(() => receiver.of(userId).length >= 7, 15_000);
    const steps = receiver
      .of(userId)
      .map((e) => [
        e.type,
        'connectionId' in e.data ? e.data.connectionId : null,
        'reason' in e.data ? e.data.reason : null,
      ]);
    const mine = (id: string) =>
      steps.filter(([, c]) => c === id).map(([type, , reason]) => `${type}${reason ? `:${reason}` : ''}`);
    expect(mine(a.connectionId)).toEqual(['stream.admitted', 'stream.ended:disconnected']);
    expect(mine(b.connectionId)).toEqual(['stream.admitted', 'stream.ended:takenOver']);
    expect(mine(b2.connectionId)).toEqual(['stream.admitted', 'stream.ended:kicked']);
    expect(steps.filter(([type]) => type === 'user.limitChanged')).toHaveLength(1);
    expect(receiver.badSignatures).toEqual([]);
    for (const event of receiver.of(userId)) expect(() => eventData[event.type].parse(event.data)).not.toThrow();
    const admittedB2 = receiver.of(userId).find((e) => e.id === `${b2.connectionId}/admitted`)!;
    expect(admittedB2.data).toMatchObject({ streamId: 'b', device: 'tv', network: '127.0.0.0/24' });
    const endedA = receiver.of(userId).find((e) => e.id === `${a.connectionId}/ended`)!;
    expect(endedA.data).toMatchObject({ active: 1, reason: 'disconnected' });
  });

  it('tells of a refused connect once, with the count and the limit, and writes nothing to the table for it', async () => {
    // Prepare
    const userId = newUserId('ev-refused');
    await open(userId, 'a');
    await open(userId, 'b');

    // Act
    const refused = await openSocket(stack.wsUrl, { userId, streamId: 'c', device: 'phone' });

    // Assess
    expect(refused.status).toBe(429);
    await eventually(() => receiver.of(userId).length >= 3, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const types = receiver.of(userId).map((e) => e.type);
    expect(types.sort()).toEqual(['stream.admitted', 'stream.admitted', 'stream.refused']);
    const refusal = receiver.of(userId).find((e) => e.type === 'stream.refused')!;
    expect(refusal.data).toMatchObject({
      streamId: 'c',
      device: 'phone',
      active: 2,
      limit: 2,
      network: '127.0.0.0/24',
    });
    expect(() => eventData['stream.refused'].parse(refusal.data)).not.toThrow();
  });
});

describe('When staff follow GET /events', () => {
  it('streams the events as server-sent events to a staff caller, and refuses anyone else', async () => {
    // Prepare
    const userId = newUserId('ev-sse');
    const refused = await fetch(`${stack.httpUrl}/events`);
    const controller = new AbortController();
    const response = await fetch(`${stack.httpUrl}/events`, {
      headers: { authorization: `Bearer ${stack.adminToken}` },
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const giveUp = setTimeout(() => controller.abort(), 10_000);
    let text = '';

    // Act
    await open(userId, 'a');

    // Assess
    try {
      expect(refused.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      while (!text.includes(`"subject":"${userId}"`)) text += new TextDecoder().decode((await reader.read()).value);
      expect(text).toMatch(/id: [^\n]+\/admitted\nevent: stream.admitted\ndata: \{/);
    } finally {
      clearTimeout(giveUp);
      controller.abort();
    }
  });
});

describe('When a follower of GET /events comes back with Last-Event-ID', () => {
  it('gets the events it missed, after that one, and nothing from before', async () => {
    // Prepare: an event seen, then two more while away
    const userId = newUserId('ev-resume');
    await open(userId, 'a');
    await eventually(() => stack.events.hub.recentIds().some((id) => receiver.of(userId).some((e) => e.id === id)));
    const seen = receiver.of(userId)[0]!.id;
    await open(userId, 'b');
    await eventually(() => receiver.of(userId).length >= 2);

    // Act
    const controller = new AbortController();
    const response = await fetch(`${stack.httpUrl}/events`, {
      headers: { authorization: `Bearer ${stack.adminToken}`, 'last-event-id': seen },
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let text = '';
    const giveUp = setTimeout(() => controller.abort(), 5_000);
    try {
      while (!text.includes(receiver.of(userId)[1]!.id)) text += new TextDecoder().decode((await reader.read()).value);
    } finally {
      clearTimeout(giveUp);
      controller.abort();
    }

    // Assess
    expect(text).toContain(`id: ${receiver.of(userId)[1]!.id}`);
    expect(text).not.toContain(`id: ${seen}`);
  });
});

describe('When GET /events is attacked', () => {
  it('answers a wrong method, odd resume ids and a hundred abandoned followers, and stays up for everyone', async () => {
    // Prepare
    const auth = { authorization: `Bearer ${stack.adminToken}` };
    const odd = ['__proto__', 'constructor', 'toString', '%E0%A4%A', 'x'.repeat(8_000), "'; DROP TABLE"];

    // Act
    const post = await fetch(`${stack.httpUrl}/events`, { method: 'POST', headers: auth, body: '{}' });
    const resumed = await Promise.all(
      odd.map(async (id) => {
        const controller = new AbortController();
        const res = await fetch(`${stack.httpUrl}/events`, {
          headers: { ...auth, 'last-event-id': id },
          signal: controller.signal,
        });
        controller.abort();
        return res.status;
      }),
    );
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        const controller = new AbortController();
        await fetch(`${stack.httpUrl}/events`, { headers: auth, signal: controller.signal });
        controller.abort();
      }),
    );
    const health = await fetch(`${stack.httpUrl}/health`);

    // Assess
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(resumed).toEqual(odd.map(() => 200));
    expect(health.status).toBe(200);
    await eventually(() => stack.events.hub.subscriberCount === 0, 5_000);
  });
});

describe('When the processor is stopped in the middle of a batch and started again', () => {
  it('loses nothing: every step arrives, at least once, and once by id', async () => {
    // Prepare: the receiver holds its answers, so the batch is in flight when the processor stops
    const userId = newUserId('ev-restart');
    let release!: () => void;
    receiver.hold = new Promise((r) => (release = r));
    const opened = [await open(userId, 'a'), await open(userId, 'b')];
    await new Promise((r) => setTimeout(r, 1_000));

    // Act: stop the stack's processor mid-delivery, let the receiver answer, start another on the same table
    const restarting = stack.restartEvents();
    release();
    receiver.hold = undefined;
    await restarting;
    for (const { socket } of opened) socket.close();

    // Assess
    await eventually(() => receiver.of(userId).length >= 4, 15_000);
    const ids = receiver.of(userId).map((e) => e.id);
    // The event in flight when it stopped came again: the new processor resumed from before it.
    expect(receiver.received.filter((e) => e.subject === userId).length).toBeGreaterThan(ids.length);
    expect(ids.sort()).toEqual(
      opened.flatMap(({ connectionId }) => [`${connectionId}/admitted`, `${connectionId}/ended`]).sort(),
    );
  });
});

describe('When a user streams through the stack with the processor on', () => {
  it("shows this hour's figures for that user and service-wide (eventually)", async () => {
    // Prepare
    const userId = newUserId('ev-usage');
    type Usage = { active: number; hours: Array<Record<string, number | string | null>> };
    const usageOf = async (path: string) =>
      (await (await supportRequest(stack, { method: 'GET', path })).json()) as Usage;
    // Summed over the default range (the last 24 hours): the test may run across the turn of an hour.
    const sum = (u: Usage, field: string) => u.hours.reduce((n, h) => n + Number(h[field] ?? 0), 0);

    // Act: two streams (the limit), one refused, one ended
    const a = await open(userId, 'a');
    await open(userId, 'b');
    expect((await openSocket(stack.wsUrl, { userId, streamId: 'c' })).status).toBe(429);
    a.socket.close();
    await closed(a.socket);
    let usage: Usage | undefined;
    await eventually(
      async () => {
        usage = await usageOf(`/users/${userId}/usage`);
        return sum(usage, 'admissions') === 2 && sum(usage, 'refusals') === 1 && sum(usage, 'ended') === 1;
      },
      15_000,
      200,
    );
    const service = await usageOf('/usage');

    // Assess
    expect(usage!.active).toBe(1);
    expect(Math.max(...usage!.hours.map((h) => Number(h.peak)))).toBe(2);
    expect(usage!.hours.filter((h) => h.medianDurationMs !== null)).toHaveLength(1);
    expect(sum(service, 'admissions')).toBeGreaterThanOrEqual(2);
    expect(sum(service, 'refusals')).toBeGreaterThanOrEqual(1);
    expect(service.active).toBeGreaterThanOrEqual(1);
  });
});
