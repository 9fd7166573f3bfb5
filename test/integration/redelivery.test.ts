/** Lambda and API Gateway may deliver an event twice: nothing is counted or released twice. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamStore } from '../../core/store/port.js';
import type { WebSocketHandler } from '../../handlers/lib/events.js';
import { createConnectHandler } from '../../handlers/routes/connect.js';
import { createDisconnectHandler } from '../../handlers/routes/disconnect.js';
import type { LocalStack } from '../../local/stack.js';
import { wsEvent } from '../support/events.js';
import { newUserId, startTestStack } from '../support/stack.js';

let stack: LocalStack;
let store: StreamStore;
let connectHandler: WebSocketHandler;
let disconnectHandler: WebSocketHandler;

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3 });
  store = stack.runtime.store;
  // The same handlers the gateway runs, on the stack's runtime.
  connectHandler = createConnectHandler(stack.runtime);
  disconnectHandler = createDisconnectHandler(stack.runtime);
});

afterAll(async () => stack?.stop());

const connectEvent = (userId: string, id: string, at: number, streamId?: string) =>
  wsEvent('CONNECT', id, at, { queryStringParameters: { userId, ...(streamId ? { streamId } : {}) } });

describe('redelivered events', () => {
  it('counts a $connect delivered twice once', async () => {
    const userId = newUserId();
    const event = connectEvent(userId, 'dup-connect-1', Date.now());

    const first = await connectHandler(event);
    const second = await connectHandler(event);

    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect((await store.getCounter(userId)).active).toBe(1);
  });

  it('counts two $connects delivered at the same moment once', async () => {
    const userId = newUserId();
    const event = connectEvent(userId, 'dup-connect-2', Date.now(), 'movie-1');

    const results = await Promise.all([connectHandler(event), connectHandler(event), connectHandler(event)]);

    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect((await store.getCounter(userId)).active).toBe(1);
  });

  it('releases a $disconnect delivered twice once', async () => {
    const userId = newUserId();
    const at = Date.now();
    await connectHandler(connectEvent(userId, 'dup-a', at));
    await connectHandler(connectEvent(userId, 'dup-b', at));
    const disconnect = wsEvent('DISCONNECT', 'dup-a', at);

    await disconnectHandler(disconnect);
    await disconnectHandler(disconnect);
    await Promise.all([disconnectHandler(disconnect), disconnectHandler(disconnect)]);

    expect((await store.getCounter(userId)).active).toBe(1);
  });

  it('does not count a $connect redelivered after its $disconnect', async () => {
    const userId = newUserId();
    const at = Date.now();
    const connect = connectEvent(userId, 'late-connect', at);
    await connectHandler(connect);
    await disconnectHandler(wsEvent('DISCONNECT', 'late-connect', at));

    const late = await connectHandler(connect);

    expect(late.statusCode).toBe(200);
    expect((await store.getCounter(userId)).active).toBe(0);
  });

  it('ignores a $disconnect for a connection it never counted', async () => {
    const result = await disconnectHandler(wsEvent('DISCONNECT', 'never-seen', Date.now()));
    expect(result.statusCode).toBe(200);
  });
});
