/** API Gateway's idle (10 min) and hard (2 h) timeouts, shortened: the socket closes and the stream is released. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';
import { closed, eventually, mustOpen, request } from '../support/sockets.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

let stack: LocalStack;
let store: StreamStore;

beforeAll(async () => {
  stack = await startTestStack({ idleTimeoutSeconds: 0.4, hardTimeoutSeconds: 1.5 });
  store = storeFor(stack);
});

afterAll(async () => stack?.stop());

describe('timeouts', () => {
  it('closes an idle socket with 1001 and releases its stream', async () => {
    const userId = newUserId();
    const socket = await mustOpen(stack.wsUrl, { userId });

    const { code } = await closed(socket);

    expect(code).toBe(1001);
    await eventually(async () => (await store.getCounter(userId)).active === 0);
  });

  it('keeps a socket that talks past the idle timeout, and closes it at the hard limit', async () => {
    const userId = newUserId();
    const socket = await mustOpen(stack.wsUrl, { userId });
    const openedAt = Date.now();
    const keepAlive = setInterval(() => void request(socket, { action: 'heartbeat' }).catch(() => {}), 150);

    const { code } = await closed(socket);
    clearInterval(keepAlive);

    expect(code).toBe(1001);
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(1400);
    await eventually(async () => (await store.getCounter(userId)).active === 0);
  });
});
