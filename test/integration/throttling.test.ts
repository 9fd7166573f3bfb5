/**
 * One socket must not starve everyone (issue 9, defect 3): the emulator throttles messages as API Gateway does
 * (token buckets, stage-wide and per route, answered with `Too Many Requests` frames) and bounds the messages in
 * flight per connection and in total.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LocalStack } from '../../local/stack.js';
import { Players } from '../support/players.js';
import { jsonOf, portOf, rawRequest, upgradeRequest } from '../support/raw-http.js';
import { eventually, request } from '../support/sockets.js';
import { newUserId, startTestStack, supportRequest } from '../support/stack.js';

const FLOOD_FRAMES = 20_000;
const THROTTLED = { message: 'Too Many Requests', connectionId: expect.any(String), requestId: expect.any(String) };

/** Collects the next `count` frames of a socket, parsed. */
function collect(socket: WebSocket, count: number): Promise<Array<Record<string, unknown>>> {
  const frames: Array<Record<string, unknown>> = [];
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error(`socket closed after ${frames.length} of ${count} frames`));
    socket.on('message', (data) => {
      frames.push(JSON.parse(String(data)) as Record<string, unknown>);
      if (frames.length === count) {
        socket.off('close', onClose);
        resolve(frames);
      }
    });
    socket.once('close', onClose);
  });
}

describe('a flood of frames from one socket (defect 3), with the default limits', () => {
  let stack: LocalStack;
  const players = new Players(() => stack);

  beforeAll(async () => {
    stack = await startTestStack({ streamLimit: 3 });
  });

  afterAll(async () => {
    players.endAll();
    await stack?.stop();
  });

  it('throttles the flooder while another user connects, /health and support answer, in bounded memory', async () => {
    // Prepare
    const flooderId = newUserId('flooder');
    const otherId = newUserId('other');
    const flooder = await players.openWithId({ userId: flooderId, streamId: 'f1' });
    const answers = collect(flooder.socket, FLOOD_FRAMES);
    const routedBefore = stack.emulator.invocations('$default');
    const heapBefore = process.memoryUsage().heapUsed;

    // Act: the whole flood is written at once; the probes go out while the server is still working through it.
    for (let i = 0; i < FLOOD_FRAMES; i++) flooder.socket.send('{"action":"status"}');
    const [other, health, listing] = await Promise.all([
      players.openWithId({ userId: otherId, streamId: 'o1' }),
      fetch(`${stack.httpUrl}/health`),
      supportRequest(stack, { method: 'GET', path: `/users/${flooderId}/connections` }),
    ]);
    const frames = await answers;
    const heapAfter = process.memoryUsage().heapUsed;

    // Assess: the others were served, correctly
    expect(other.connectionId).toEqual(expect.any(String));
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', storeLatencyMs: expect.any(Number) });
    expect(listing.status).toBe(200);
    const listed = (await listing.json()) as { active: number; connections: Array<{ connectionId: string }> };
    expect(listed.active).toBe(1);
    expect(listed.connections.map((c) => c.connectionId)).toEqual([flooder.connectionId]);

    // Every frame was answered: a status, or API Gateway's throttle frame that never reached a route
    const throttled = frames.filter((f) => f.message === 'Too Many Requests');
    const statuses = frames.filter((f) => f.type === 'status');
    expect(throttled.length + statuses.length).toBe(FLOOD_FRAMES);
    expect(throttled.length).toBeGreaterThan(0);
    for (const f of throttled) expect(f).toEqual({ ...THROTTLED, connectionId: flooder.connectionId });
    for (const f of statuses) expect(f).toMatchObject({ userId: flooderId, connectionId: flooder.connectionId });
    const routed = stack.emulator.invocations('$default') - routedBefore;
    // The flooder's frames that were routed, plus the other player's one status.
    expect(routed).toBe(statuses.length + 1);

    // The bounds held, and nothing is left in flight
    const stats = stack.emulator.throttleStats;
    expect(stats.maxInFlightPerConnection).toBeLessThanOrEqual(10);
    expect(stats.maxInFlight).toBeLessThanOrEqual(100);
    expect(Object.values(stats.throttled).reduce((a, b) => a + b, 0)).toBe(throttled.length);
    await eventually(() => stack.emulator.throttleStats.inFlight === 0);
    expect(flooder.socket.readyState).toBe(WebSocket.OPEN);

    console.info(
      `[flood] ${FLOOD_FRAMES} frames: ${statuses.length} routed, ${throttled.length} throttled ` +
        `(${JSON.stringify(stats.throttled)}); max in flight ${stats.maxInFlight} ` +
        `(${stats.maxInFlightPerConnection} on one socket); test process heap ` +
        `${Math.round(heapBefore / 2 ** 20)} -> ${Math.round(heapAfter / 2 ** 20)} MiB`,
    );
  }, 120_000);
});

describe('per-route limits', () => {
  let stack: LocalStack;
  const players = new Players(() => stack);

  beforeAll(async () => {
    // A token every 1,000 s: within a test, a bucket holds exactly its burst.
    stack = await startTestStack({
      streamLimit: 3,
      throttleRoutes: [
        { route: '$connect', rateLimit: 0.001, burstLimit: 2 },
        { route: '$default', rateLimit: 0.001, burstLimit: 3 },
      ],
    });
  });

  afterAll(async () => {
    players.endAll();
    await stack?.stop();
  });

  it('throttles messages past the $default route burst with the error frame, and keeps the socket', async () => {
    // Prepare: the socket's own status (one token of three)
    const { socket, connectionId } = await players.openWithId({ userId: newUserId() });

    // Act
    const second = await request(socket, { action: 'heartbeat' });
    const third = await request(socket, { action: 'status' });
    const fourth = await request(socket, { action: 'status' });

    // Assess
    expect(second.type).toBe('heartbeat');
    expect(third.type).toBe('status');
    expect(fourth).toEqual({ ...THROTTLED, connectionId });
    expect(socket.readyState).toBe(WebSocket.OPEN);
  });

  it('refuses a $connect past its route burst with 429 before $connect runs', async () => {
    // Prepare: the first test's connect took one token of two
    await players.openWithId({ userId: newUserId() });
    const connects = stack.emulator.invocations('$connect');

    // Act
    const answer = await rawRequest(portOf(stack.wsUrl), upgradeRequest(`/?userId=${newUserId()}`));

    // Assess
    expect(answer.status).toBe(429);
    expect(jsonOf(answer)).toEqual({ message: 'Too Many Requests' });
    expect(stack.emulator.invocations('$connect')).toBe(connects);
  });
});
