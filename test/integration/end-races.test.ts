/**
 * Two enders of one stream at once (player end + kick, kick + kick, player end + player end): the socket is told
 * once. `StreamStore.release` is two conditional writes (uncount, then close), and each ender can win one of them
 * (A uncounts, B's uncount fails, B closes first): only the one whose close succeeded tells the socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { endOwnStream } from '../../core/player.js';
import { sleep } from '../../core/retry.js';
import { createDocumentClient } from '../../core/store/dynamodb/store.js';
import type { StreamStore } from '../../core/store/port.js';
import { endConnection } from '../../core/support.js';
import type { LocalStack } from '../../local/stack.js';
import { endedFrames, openAdmittedRecording } from '../support/ended.js';
import { invariantViolations } from '../support/oracle.js';
import { newUserId, startTestStack, storeFor, supportRequest } from '../support/stack.js';

const TRIALS = 30;
let stack: LocalStack;
let store: StreamStore;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
  store = storeFor(stack);
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await stack?.stop();
});

const openRecorded = (params: Record<string, string>) => openAdmittedRecording(stack.wsUrl, params, sockets);

const kick = (connectionId: string) =>
  supportRequest(stack, { method: 'DELETE', path: `/connections/${encodeURIComponent(connectionId)}` });
const playerEnd = (userId: string, streamId: string) =>
  fetch(`${stack.httpUrl}/me/streams/${streamId}?userId=${userId}`, { method: 'DELETE' });

type Ender = (ctx: { userId: string; connectionId: string }) => Promise<Response>;
const enders: Record<string, [Ender, Ender]> = {
  'player end vs kick': [({ userId }) => playerEnd(userId, 'movie'), ({ connectionId }) => kick(connectionId)],
  'kick vs kick': [({ connectionId }) => kick(connectionId), ({ connectionId }) => kick(connectionId)],
  'player end vs player end': [({ userId }) => playerEnd(userId, 'movie'), ({ userId }) => playerEnd(userId, 'movie')],
};

describe('two enders at once', () => {
  for (const [name, [a, b]] of Object.entries(enders)) {
    it(`${name}: the socket gets exactly one ended frame, last`, async () => {
      const failures: string[] = [];
      const users: string[] = [];
      for (let trial = 0; trial < TRIALS; trial++) {
        const userId = newUserId('dbl');
        users.push(userId);
        const { connectionId, ending } = await openRecorded({ userId, streamId: 'movie', device: 'tv' });
        // The player end reads twice before its release, a kick once: stagger so their writes meet.
        const lead = trial % 4;
        const responses = await Promise.all([
          a({ userId, connectionId }),
          sleep(lead).then(() => b({ userId, connectionId })),
        ]);
        const end = await ending;
        const ended = endedFrames(end);
        if (ended.length !== 1 || end.frames.at(-1)?.type !== 'ended')
          failures.push(
            `trial ${trial}: ${ended.length} ended frames ${JSON.stringify(ended)}; answers ${responses.map((r) => r.status)}`,
          );
      }
      expect(await invariantViolations(stack, store, { limit: 3, users })).toEqual([]);
      expect(failures).toEqual([]);
    }, 60_000);
  }
});

/**
 * The same race made deterministic: the first ender's store holds back its second write (closing the item) for
 * 150 ms, so the second ender runs entirely between the first one's two writes.
 */
describe("two enders, one between the other's two writes", () => {
  function slowClosingStore() {
    const db = createDocumentClient(stack.dynamodbEndpoint);
    const send = db.send.bind(db);
    // biome-ignore lint/suspicious/noExplicitAny: a test double around the SDK's overloaded send
    (db as any).send = async (command: any, ...rest: any[]) => {
      if (String(command?.input?.UpdateExpression ?? '').startsWith('SET #state = :closed')) await sleep(150);
      return send(command, ...rest);
    };
    return storeFor(stack, db);
  }
  // DeleteConnection held back 300 ms (a slow @connections call), so both `ended` frames go out before the close.
  const slowGateway = () => {
    const g = stack.runtime.gateway;
    return {
      probe: (id: string) => g.probe(id),
      lastActive: (id: string) => g.lastActive(id),
      send: (id: string, m: unknown) => g.send(id, m),
      disconnect: async (id: string) => {
        await sleep(300);
        return g.disconnect(id);
      },
    };
  };
  const deps = (s: StreamStore) => ({
    ...stack.runtime.deps,
    gateway: slowGateway(),
    store: s,
    audit: stack.runtime.audit,
  });

  it('player end (slow) then kick: one ended frame', async () => {
    const userId = newUserId('det');
    const { connectionId, ending } = await openRecorded({ userId, streamId: 'movie', device: 'tv' });
    const first = endOwnStream(deps(slowClosingStore()), userId, 'movie');
    await sleep(60);
    const second = await endConnection(deps(store), 'staff-b', connectionId);
    const outcome = await first;
    const end = await ending;
    expect(endedFrames(end), JSON.stringify({ first: outcome, second })).toHaveLength(1);
  });

  it('kick (slow) then kick: one ended frame', async () => {
    const userId = newUserId('det');
    const { connectionId, ending } = await openRecorded({ userId, streamId: 'movie', device: 'tv' });
    const first = endConnection(deps(slowClosingStore()), 'staff-a', connectionId);
    await sleep(60);
    const second = await endConnection(deps(store), 'staff-b', connectionId);
    const end = await ending;
    expect(endedFrames(end), JSON.stringify({ first: await first, second })).toHaveLength(1);
  });
});
