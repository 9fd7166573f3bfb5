/** `@connections` as API Gateway serves it, driven by the real ApiGatewayManagementApiClient. */
import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManagementClient } from '../../core/gateway.js';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { Players } from '../support/players.js';
import { closed, eventually, nextMessage } from '../support/sockets.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

let stack: LocalStack;
let client: ApiGatewayManagementApiClient;
let store: StreamStore;
const players = new Players(() => stack);

beforeAll(async () => {
  stack = await startTestStack();
  client = createManagementClient(stack.callbackUrl);
  store = storeFor(stack);
});

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

describe('@connections', () => {
  it('answers a broken escape in the id with 404, and keeps serving', async () => {
    const response = await fetch(`${stack.callbackUrl}/@connections/%E0%A4%A`);

    expect(response.status).toBe(404);
    expect((await fetch(`${stack.callbackUrl}/@connections/nobody`)).status).toBe(410);
  });

  it('GET describes a live connection', async () => {
    const { connectionId } = await players.openWithId({ userId: newUserId() });

    const info = await client.send(new GetConnectionCommand({ ConnectionId: connectionId }));

    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(Date.now() - info.ConnectedAt!.getTime()).toBeLessThan(60_000);
    expect(info.Identity?.SourceIp).toMatch(/127\.0\.0\.1/);
    expect(info.LastActiveAt).toBeInstanceOf(Date);
  });

  it('POST sends the body to the socket as a text frame', async () => {
    const { socket, connectionId } = await players.openWithId({ userId: newUserId() });
    const received = nextMessage(socket);

    await client.send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify({ hello: 'player' }) }),
    );

    expect(await received).toEqual({ hello: 'player' });
  });

  it('DELETE closes the socket with 1000 and $disconnect releases the stream', async () => {
    const userId = newUserId();
    const { socket, connectionId } = await players.openWithId({ userId });
    const done = closed(socket);

    await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));

    expect((await done).code).toBe(1000);
    await eventually(async () => (await store.getCounter(userId)).active === 0);
  });

  it.each([
    ['GET', (id: string) => new GetConnectionCommand({ ConnectionId: id })],
    ['POST', (id: string) => new PostToConnectionCommand({ ConnectionId: id, Data: '{}' })],
    ['DELETE', (id: string) => new DeleteConnectionCommand({ ConnectionId: id })],
  ] as const)('%s answers 410 Gone for a closed connection', async (_method, command) => {
    const { socket, connectionId } = await players.openWithId({ userId: newUserId() });
    socket.close();
    await closed(socket);

    await expect(client.send(command(connectionId) as never)).rejects.toBeInstanceOf(GoneException);
  });
});
