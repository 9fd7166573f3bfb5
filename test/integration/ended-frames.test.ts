/** Every close the server decides is preceded by one `ended` frame saying why (contract section 2). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../core/retry.js';
import type { LocalStack } from '../../local/stack.js';
import { endedFrames, recordUntilClose } from '../support/ended.js';
import { Players } from '../support/players.js';
import { request } from '../support/sockets.js';
import { newUserId, startTestStack } from '../support/stack.js';

let stack: LocalStack;
let shortTimeouts: LocalStack;
const players = new Players(() => stack);
const timedPlayers = new Players(() => shortTimeouts);

beforeAll(async () => {
  [stack, shortTimeouts] = await Promise.all([
    startTestStack(),
    startTestStack({ idleTimeoutSeconds: 1, hardTimeoutSeconds: 3 }),
  ]);
});

afterAll(async () => {
  players.endAll();
  timedPlayers.endAll();
  await Promise.all([stack?.stop(), shortTimeouts?.stop()]);
});

describe('ended frames', () => {
  it('tells a taken-over socket, naming the device that took it, before closing it', async () => {
    const userId = newUserId();
    const { socket: old } = await players.openWithId({ userId, streamId: 'movie', device: 'tv' });
    const ending = recordUntilClose(old);

    await players.openWithId({ userId, streamId: 'movie', device: 'phone' });
    const end = await ending;

    expect(end.frames.at(-1)).toEqual({ type: 'ended', reason: 'takenOver', device: 'phone' });
    expect(endedFrames(end)).toHaveLength(1);
    expect(end.code).toBe(1000);
  });

  it('tells a socket support staff ended, before closing it', async () => {
    const userId = newUserId();
    const { socket, connectionId } = await players.openWithId({ userId, device: 'tv' });
    const ending = recordUntilClose(socket);

    const res = await fetch(`${stack.httpUrl}/connections/${connectionId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    const end = await ending;

    expect(res.status).toBe(204);
    expect(end.frames.at(-1)).toEqual({ type: 'ended', reason: 'kicked', device: null });
    expect(endedFrames(end)).toHaveLength(1);
  });

  it('tells a socket once when a takeover, its player and support staff end it at the same moment', async () => {
    // Each trial starts the three enders in a different order and spacing: every interleaving ends the socket once
    const reasons = new Set<unknown>();
    for (let trial = 0; trial < 12; trial++) {
      // Prepare
      const userId = newUserId(`race${trial}`);
      const { socket, connectionId } = await players.openWithId({ userId, streamId: 'movie', device: 'tv' });
      const ending = recordUntilClose(socket);
      const enders: Array<() => Promise<unknown>> = [
        () => players.open({ userId, streamId: 'movie', device: 'phone' }),
        () => fetch(`${stack.httpUrl}/me/streams/movie?userId=${userId}`, { method: 'DELETE' }),
        () =>
          fetch(`${stack.httpUrl}/connections/${connectionId}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${stack.adminToken}` },
          }),
      ];

      // Act
      await Promise.all(enders.map((end, i) => sleep(((trial + i) % 3) * (trial % 4)).then(end)));
      const end = await ending;

      // Assess
      expect(endedFrames(end), `trial ${trial}`).toHaveLength(1);
      expect(end.frames.at(-1)?.type, `trial ${trial}`).toBe('ended');
      reasons.add(end.frames.at(-1)?.reason);
    }
    expect([...reasons].every((r) => ['takenOver', 'endedByUser', 'kicked'].includes(String(r)))).toBe(true);
  });

  it('tells an idle socket before the idle timeout closes it', async () => {
    const { socket } = await timedPlayers.openWithId({ userId: newUserId() });

    const end = await recordUntilClose(socket);

    expect(end.frames.at(-1)).toEqual({ type: 'ended', reason: 'idle', device: null });
    expect(end.code).toBe(1001);
  });

  it('tells a busy socket before the 2-hour limit (shortened) closes it', async () => {
    const { socket } = await timedPlayers.openWithId({ userId: newUserId() });
    const ending = recordUntilClose(socket);
    const keepAlive = setInterval(() => void request(socket, { action: 'heartbeat' }).catch(() => {}), 300);

    const end = await ending;
    clearInterval(keepAlive);

    expect(end.frames.at(-1)).toEqual({ type: 'ended', reason: 'maxDuration', device: null });
    expect(endedFrames(end)).toHaveLength(1);
    expect(end.code).toBe(1001);
  });
});
