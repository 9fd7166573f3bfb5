/** A user's history of staff actions: written by the support API with the action, kept in the table, read back. */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../core/store/dynamodb/store.js';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { Players } from '../support/players.js';
import { newUserId, startTestStack, storeFor, supportRequest } from '../support/stack.js';

let stack: LocalStack;
let store: StreamStore;
const players = new Players(() => stack);

const api = (method: string, path: string, body?: unknown, token?: string | null) =>
  supportRequest(stack, { method, path, body, token });

async function history(userId: string) {
  const res = await api('GET', `/users/${encodeURIComponent(userId)}/audit`);
  expect(res.status).toBe(200);
  return (await res.json()) as {
    userId: string;
    entries: Array<{ at: string; staff: string; action: string; detail: Record<string, unknown> }>;
  };
}

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3 });
  store = storeFor(stack);
});

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

describe('GET /users/{userId}/audit', () => {
  it('records who did what and when, newest first', async () => {
    // Prepare
    const userId = newUserId();
    const { connectionId } = await players.openWithId({ userId, streamId: 'match', device: 'Living room TV' });
    const before = Date.now();

    // Act
    expect((await api('PUT', `/users/${userId}/limit`, { limit: 5 })).status).toBe(200);
    expect((await api('DELETE', `/connections/${encodeURIComponent(connectionId)}`)).status).toBe(204);
    expect((await api('DELETE', `/users/${userId}/limit`)).status).toBe(200);
    const body = await history(userId);

    // Assess
    expect(body.userId).toBe(userId);
    expect(body.entries).toEqual([
      { at: expect.any(String), staff: 'local:admin-token', action: 'clearLimit', detail: {} },
      {
        at: expect.any(String),
        staff: 'local:admin-token',
        action: 'endConnection',
        detail: { connectionId, streamId: 'match', device: 'Living room TV' },
      },
      { at: expect.any(String), staff: 'local:admin-token', action: 'setLimit', detail: { limit: 5 } },
    ]);
    const times = body.entries.map((e) => Date.parse(e.at));
    expect(times.every((t) => t >= before - 1000 && t <= Date.now() + 1000)).toBe(true);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('answers an empty history for a user nobody touched, and for hostile-looking ids', async () => {
    for (const userId of [newUserId(), '__proto__', 'constructor']) {
      expect(await history(userId)).toEqual({ userId, entries: [] });
    }
  });

  it('reading connections is not an action: it leaves no entry', async () => {
    const userId = newUserId();
    await players.open({ userId });

    await api('GET', `/users/${userId}/connections`);

    expect((await history(userId)).entries).toEqual([]);
  });

  it('shows the latest 50 entries', async () => {
    // Prepare: 55 entries a millisecond apart, written as the support API writes them
    const userId = newUserId();
    const start = Date.now() - 60_000;
    for (let i = 0; i < 55; i++) {
      await store.recordAudit({
        userId,
        at: start + i,
        staff: 'ops@example',
        action: 'setLimit',
        detail: { limit: i },
      });
    }

    // Act
    const { entries } = await history(userId);

    // Assess
    expect(entries).toHaveLength(50);
    expect(entries[0]).toMatchObject({ at: new Date(start + 54).toISOString(), detail: { limit: 54 } });
    expect(entries.at(-1)).toMatchObject({ detail: { limit: 5 } });
  });

  it('keeps entries under the user with a 90-day TTL', async () => {
    // Prepare
    const userId = newUserId();
    await api('PUT', `/users/${userId}/limit`, { limit: 2 });

    // Act
    const { Items = [] } = await createDocumentClient(stack.dynamodbEndpoint).send(
      new QueryCommand({
        TableName: stack.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :audit)',
        ExpressionAttributeValues: { ':pk': `user#${userId}`, ':audit': 'audit#' },
      }),
    );

    // Assess
    expect(Items).toHaveLength(1);
    const item = Items[0]!;
    expect(String(item.sk)).toMatch(/^audit#\d{4}-\d\d-\d\dT[\d:.]+Z#[\w-]+$/);
    const ninetyDays = 90 * 24 * 3600;
    expect(Number(item.expiresAt) - Math.ceil(Number(item.at) / 1000)).toBe(ninetyDays);
  });

  it('writes no entry for a refused change', async () => {
    const userId = newUserId();

    const statuses = [
      (await api('PUT', `/users/${userId}/limit`, { limit: 101 })).status,
      (await api('PUT', `/users/${userId}/limit`, '{"limit":')).status,
      (await api('PUT', `/users/${userId}/limit`, { limit: 2 }, 'wrong-token')).status,
      (await api('DELETE', '/connections/unknown-connection')).status,
    ];

    expect(statuses).toEqual([400, 400, 401, 404]);
    expect((await history(userId)).entries).toEqual([]);
  });

  it('needs the token, and checks the user id', async () => {
    expect((await api('GET', '/users/alice/audit', undefined, null)).status).toBe(401);
    const bad = await api('GET', `/users/${encodeURIComponent('a b')}/audit`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: 'INVALID_USER_ID', message: expect.any(String) } });
  });
});
