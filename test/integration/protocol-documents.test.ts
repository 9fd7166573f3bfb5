/**
 * The machine-readable protocol: `/openapi.json` (player and support APIs) and `/asyncapi.json` (the WebSocket
 * protocol) are served by the local stack on HTTP_PORT, generated from the zod schemas of local/protocol/schemas.ts,
 * and those schemas hold for what the running handlers really send: every frame kind and every API answer below is
 * checked against them strictly (no field missing, none unknown).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { PLAYER_ROUTES, SUPPORT_ROUTES } from '../../infra/stack.js';
import { ALL_SCHEMAS, asyncApiDocument, DOCUMENTED_SCHEMAS, openApiDocument } from '../../local/protocol/documents.js';
import * as schema from '../../local/protocol/schemas.js';
import type { LocalStack } from '../../local/stack.js';
import { mustOpen, openSocket, request } from '../support/sockets.js';
import { newUserId, startTestStack, supportRequest } from '../support/stack.js';

let stack: LocalStack;
const VERSION = '0.1.0';

const getJson = async (path: string) => {
  const res = await fetch(`${stack.httpUrl}${path}`);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
};
const staff = async (method: string, path: string, body?: unknown) => {
  const res = await supportRequest(stack, { method, path, body });
  return { status: res.status, body: res.status === 204 ? undefined : await res.json() };
};

describe('the protocol, machine-readable', () => {
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    // A small message bucket, so that a short burst shows API Gateway's throttled frame.
    stack = await startTestStack({ streamLimit: 2, throttleRateLimit: 1, throttleBurstLimit: 6 });
  });

  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await stack?.stop();
  });

  it('serves both documents on the HTTP port, generated from the schemas, naming every route and schema', async () => {
    // Act
    const openapi = await getJson('/openapi.json');
    const asyncapi = await getJson('/asyncapi.json');

    // Assess
    expect(openapi.status).toBe(200);
    expect(openapi.headers.get('access-control-allow-origin')).toBe('*');
    expect(openapi.body).toEqual(JSON.parse(JSON.stringify(openApiDocument(VERSION))));
    expect(asyncapi.body).toEqual(JSON.parse(JSON.stringify(asyncApiDocument(VERSION, stack.wsUrl))));
    expect(openapi.body.openapi).toBe('3.1.0');
    expect(asyncapi.body.asyncapi).toBe('3.0.0');
    const paths = openapi.body.paths as Record<string, Record<string, unknown>>;
    const routes = [...SUPPORT_ROUTES, ...PLAYER_ROUTES, { path: '/health', methods: ['GET'] }];
    for (const route of routes)
      for (const method of route.methods) expect(paths[route.path]?.[method.toLowerCase()], route.path).toBeDefined();
    expect(Object.keys(paths).sort()).toEqual([...new Set(routes.map((r) => r.path))].sort());
    expect([...new Set(DOCUMENTED_SCHEMAS)].sort()).toEqual([...ALL_SCHEMAS].sort());
    // Every reference points at a schema the document holds.
    for (const doc of [openapi.body, asyncapi.body]) {
      const held = Object.keys((doc.components as { schemas: object }).schemas);
      const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]);
      expect(refs.filter((r) => !held.includes(r!))).toEqual([]);
    }
  });

  it('matches what the handlers send: frames both ways, refusals, player and support answers', async () => {
    // Prepare
    const userId = newUserId('spec');
    const socket = await mustOpen(stack.wsUrl, { userId, streamId: 'one', device: 'TV' });
    sockets.push(socket);

    // Act + Assess: the frames a player can get
    schema.HeartbeatMessage.parse({ action: 'heartbeat' });
    schema.HeartbeatFrame.parse(await request(socket, { action: 'heartbeat' }));
    schema.StatusFrame.parse(await request(socket, { action: 'status' }));
    expect(schema.ErrorFrame.parse(await request(socket, { action: 'dance' })).code).toBe('UNKNOWN_ACTION');
    expect(schema.ErrorFrame.parse(await request(socket, 'not json')).code).toBe('INVALID_JSON');
    const flood = collect(socket, 12);
    for (let i = 0; i < 12; i++) socket.send('{"action":"status"}');
    const throttled = (await flood).filter((f) => f.message === 'Too Many Requests');
    expect(throttled.length).toBeGreaterThan(0);
    for (const frame of throttled) schema.ThrottledFrame.parse(frame);

    // Act + Assess: a refused handshake's body, and the player API
    sockets.push(await mustOpen(stack.wsUrl, { userId, streamId: 'two' }));
    const refused = await openSocket(stack.wsUrl, { userId, streamId: 'three' });
    expect(refused.status).toBe(429);
    expect(schema.ErrorBody.parse(JSON.parse(refused.body!)).error.code).toBe('LIMIT_REACHED');
    const own = await getJson(`/me/streams?userId=${userId}`);
    expect(schema.OwnStreams.parse(own.body).streams).toHaveLength(2);
    schema.ErrorBody.parse((await getJson('/me/streams?userId=no%20spaces')).body);

    // Act + Assess: the support API
    schema.UserConnections.parse((await staff('GET', `/users/${userId}/connections`)).body);
    schema.UserLimit.parse((await staff('PUT', `/users/${userId}/limit`, schema.LimitBody.parse({ limit: 5 }))).body);
    schema.UserLimit.parse((await staff('DELETE', `/users/${userId}/limit`)).body);
    const policyBody = schema.PolicyBody.parse({ policy: 'evict-oldest' });
    schema.UserPolicy.parse((await staff('PUT', `/users/${userId}/policy`, policyBody)).body);
    schema.UserPolicy.parse((await staff('DELETE', `/users/${userId}/policy`)).body);
    expect(schema.UserAudit.parse((await staff('GET', `/users/${userId}/audit`)).body).entries).toHaveLength(4);
    schema.Signals.parse((await staff('GET', '/signals')).body);
    expect(schema.ServiceUsage.parse((await staff('GET', '/usage')).body).hours).toHaveLength(24);
    expect(schema.UserUsage.parse((await staff('GET', `/users/${userId}/usage`)).body).userId).toBe(userId);
    schema.HealthOk.parse((await getJson('/health')).body);
    schema.ErrorBody.parse((await staff('PUT', `/users/${userId}/limit`, { limit: 'many' })).body);

    // Act + Assess: the ended frame, when the player ends a stream from the player API
    const ended = nextFrameOfType(socket, 'ended');
    const end = await fetch(`${stack.httpUrl}/me/streams/one?userId=${userId}`, { method: 'DELETE' });
    expect(end.status).toBe(204);
    expect(schema.EndedFrame.parse(await ended)).toEqual({ type: 'ended', reason: 'endedByUser', device: null });
  });
});

/**
 * The next `n` frames, parsed, through one listener: `ws` emits the frames of one TCP read back to back, before a
 * listener added after the first could catch the second.
 */
function collect(socket: WebSocket, n: number): Promise<Record<string, unknown>[]> {
  return new Promise((resolve) => {
    const frames: Record<string, unknown>[] = [];
    const onMessage = (data: Buffer) => {
      frames.push(JSON.parse(data.toString()) as Record<string, unknown>);
      if (frames.length < n) return;
      socket.off('message', onMessage);
      resolve(frames);
    };
    socket.on('message', onMessage);
  });
}

function nextFrameOfType(socket: WebSocket, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      if (frame.type !== type) return;
      socket.off('message', onMessage);
      resolve(frame);
    };
    socket.on('message', onMessage);
  });
}
