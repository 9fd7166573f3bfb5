/**
 * The policy at the limit per user, set by support staff: `PUT /users/{userId}/policy` and `DELETE` (audit action
 * `setPolicy`), shown in the support connections view and in the player's `GET /me/streams`, and obeyed by `$connect`.
 * The service's default here is `block-new`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { endedFrames, recordUntilClose } from '../support/ended.js';
import { Players } from '../support/players.js';
import { newUserId, startTestStack, storeFor, supportRequest } from '../support/stack.js';

let stack: LocalStack;
let store: StreamStore;
const players = new Players(() => stack);

const api = (method: string, path: string, body?: unknown, token?: string | null) =>
  supportRequest(stack, { method, path, body, token });

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 2, sweepIntervalSeconds: 0 });
  store = storeFor(stack);
});

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

describe('PUT and DELETE /users/{userId}/policy', () => {
  it('switches one user to evict-oldest and back, each change in the history as setPolicy', async () => {
    // Prepare: a user at the limit (2), and another user left alone
    const userId = newUserId();
    const other = newUserId();
    const first = await players.openWithId({ userId, streamId: 'a', device: 'TV' });
    await players.openWithId({ userId, streamId: 'b', device: 'Phone' });
    await players.openWithId({ userId: other, streamId: 'a' });
    await players.openWithId({ userId: other, streamId: 'b' });
    const ending = recordUntilClose(first.socket);

    // Act: evict-oldest for this user only
    const set = await api('PUT', `/users/${userId}/policy`, { policy: 'evict-oldest' });
    const third = await players.open({ userId, streamId: 'c', device: 'Tablet' });
    const othersThird = await players.open({ userId: other, streamId: 'c' });

    // Assess
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ userId, policy: 'evict-oldest', policyOverride: 'evict-oldest' });
    expect(third.status).toBe(101);
    expect((await ending).frames.at(-1)).toEqual({ type: 'ended', reason: 'evicted', device: 'Tablet' });
    expect(othersThird.status).toBe(429);

    // Act: back to the service's default
    const cleared = await api('DELETE', `/users/${userId}/policy`);
    const fourth = await players.open({ userId, streamId: 'd', device: 'Laptop' });

    // Assess
    expect(await cleared.json()).toEqual({ userId, policy: 'block-new', policyOverride: null });
    expect(fourth.status).toBe(429);
    const history = await (await api('GET', `/users/${userId}/audit`)).json();
    expect(history.entries).toEqual([
      { at: expect.any(String), staff: 'local:admin-token', action: 'setPolicy', detail: { policy: null } },
      { at: expect.any(String), staff: 'local:admin-token', action: 'setPolicy', detail: { policy: 'evict-oldest' } },
    ]);
  });

  it('shows the policy in force and the override in the support view, and the policy to the player', async () => {
    // Prepare
    const userId = newUserId();
    await players.openWithId({ userId, streamId: 'a' });

    // Act
    const before = await (await api('GET', `/users/${userId}/connections`)).json();
    await api('PUT', `/users/${userId}/policy`, { policy: 'evict-oldest' });
    const after = await (await api('GET', `/users/${userId}/connections`)).json();
    const playerView = await (await fetch(`${stack.httpUrl}/me/streams?userId=${userId}`)).json();

    // Assess
    expect(before).toMatchObject({ policy: 'block-new', policyOverride: null });
    expect(after).toMatchObject({ policy: 'evict-oldest', policyOverride: 'evict-oldest', limit: 2, active: 1 });
    expect(playerView).toMatchObject({ userId, policy: 'evict-oldest' });
  });

  it.each([
    ['an unknown policy', { policy: 'evict-newest' }],
    ['a built-in name', { policy: '__proto__' }],
    ['a policy that is not a string', { policy: 1 }],
    ['an extra key', { policy: 'evict-oldest', limit: 1 }],
    ['no policy', {}],
    ['a body that is not JSON', '{"policy":'],
  ])('refuses %s with 400 and writes nothing', async (_name, body) => {
    // Prepare
    const userId = newUserId();

    // Act
    const res = await api('PUT', `/users/${userId}/policy`, body);

    // Assess
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toMatch(/^INVALID_(POLICY|BODY)$/);
    expect(await store.getCounter(userId)).toMatchObject({ active: 0, policyOverride: undefined });
    expect((await (await api('GET', `/users/${userId}/audit`)).json()).entries).toEqual([]);
  });

  it('needs the admin token, and checks the user id', async () => {
    expect((await api('PUT', '/users/alice/policy', { policy: 'evict-oldest' }, null)).status).toBe(401);
    expect((await api('DELETE', '/users/alice/policy', undefined, 'wrong')).status).toBe(401);
    expect((await api('PUT', '/users/a%20b/policy', { policy: 'evict-oldest' })).status).toBe(400);
    expect(await store.getCounter('alice')).toMatchObject({ policyOverride: undefined });
  });

  it('tells the evicted socket once, last, and keeps the count at the limit', async () => {
    // Prepare
    const userId = newUserId();
    await api('PUT', `/users/${userId}/policy`, { policy: 'evict-oldest' });
    const a = await players.openWithId({ userId, streamId: 'a', device: 'TV' });
    await players.openWithId({ userId, streamId: 'b', device: 'Phone' });
    const ending = recordUntilClose(a.socket);

    // Act
    await players.open({ userId, streamId: 'c', device: 'Tablet' });

    // Assess
    const end = await ending;
    expect(endedFrames(end)).toEqual([{ type: 'ended', reason: 'evicted', device: 'Tablet' }]);
    expect(end.frames.at(-1)?.type).toBe('ended');
    const counter = await store.getCounter(userId);
    expect({ active: counter.active, members: counter.counted.size }).toEqual({ active: 2, members: 2 });
  });
});
