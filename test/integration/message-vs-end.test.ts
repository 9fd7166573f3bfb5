/**
 * A socket that speaks while it is being ended: the ender (takeover, kick, player end, eviction) has released it and
 * is about to tell it why; the message handler meanwhile finds it no longer counted and tells it `uncounted`.
 * One `ended` frame is promised; only the answer to a message already on its way may follow it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { LocalStack } from '../../local/stack.js';
import { endedFrames, openAdmittedRecording } from '../support/ended.js';
import { openSocket } from '../support/sockets.js';
import { newUserId, startTestStack, supportRequest } from '../support/stack.js';

let stack: LocalStack;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 1, sweepIntervalSeconds: 0, limitPolicy: 'evict-oldest' });
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await stack?.stop();
});

const openRecorded = (params: Record<string, string>) => openAdmittedRecording(stack.wsUrl, params, sockets);

const enders: Record<string, (ctx: { userId: string; connectionId: string }) => Promise<unknown>> = {
  takeover: ({ userId }) => openSocket(stack.wsUrl, { userId, streamId: 'movie', device: 'phone' }),
  eviction: ({ userId }) => openSocket(stack.wsUrl, { userId, streamId: 'other', device: 'phone' }),
  kick: ({ connectionId }) =>
    supportRequest(stack, { method: 'DELETE', path: `/connections/${encodeURIComponent(connectionId)}` }),
  'player end': ({ userId }) => fetch(`${stack.httpUrl}/me/streams/movie?userId=${userId}`, { method: 'DELETE' }),
};

describe('heartbeats while the stream is ended', () => {
  for (const [name, end] of Object.entries(enders)) {
    it(`${name}: a heartbeating socket gets one ended frame`, async () => {
      const failures: string[] = [];
      for (let trial = 0; trial < 30; trial++) {
        const userId = newUserId('hb');
        const { socket, connectionId, ending } = await openRecorded({ userId, streamId: 'movie', device: 'tv' });
        // One heartbeat, sent 0 to 9 ms after the ender starts (a player heartbeats every few minutes; one lands here)
        const beat = setTimeout(() => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ action: 'heartbeat' }));
        }, trial % 10);
        const opened = (await end({ userId, connectionId })) as { socket?: WebSocket } | undefined;
        if (opened?.socket) sockets.push(opened.socket);
        const result = await ending;
        clearTimeout(beat);
        const ended = endedFrames(result);
        // After `ended`, only the answer to the heartbeat already on its way may come (docs/player-protocol.md)
        const after = result.frames.slice(result.frames.findIndex((f) => f.type === 'ended') + 1);
        if (ended.length !== 1 || after.some((f) => f.type !== 'heartbeat' && f.type !== 'error') || after.length > 1)
          failures.push(`trial ${trial}: ${JSON.stringify(ended)}, then ${JSON.stringify(after)}`);
        opened?.socket?.terminate();
      }
      expect(failures).toEqual([]);
    }, 60_000);
  }
});
