/**
 * The events under the chaos suite's interleavings: seeded opens, takeovers, refusals, closes, drops and kicks of a few
 * users at once, with lost `$disconnect`s and failed handshakes, and the processor stopped in the middle of a batch
 * and started again halfway. The oracle is the table itself: each connection's item was written by the write that
 * counted it, so every item is one `stream.admitted`, and every item closed and no longer counted one `stream.ended`
 * with the item's reason, after it; nothing else. And one `stream.refused` per connect refused at the limit.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { LocalStack } from '../../local/stack.js';
import { seeded } from '../../tools/capacity/simulate.js';
import { Receiver, SECRET } from '../support/event-receiver.js';
import { eventually, openSocket } from '../support/sockets.js';
import { FAST_STORE_OPENING_WINDOW_SECONDS, newUserId, startTestStack, supportRequest } from '../support/stack.js';

const USERS = 3;
const STEPS = Number(process.env.EVENTS_CHAOS_STEPS ?? 30);
let stack: LocalStack;
let hookUrl: string;
const receiver = new Receiver();
const sockets: WebSocket[] = [];

beforeAll(async () => {
  hookUrl = await receiver.start();
  stack = await startTestStack({
    eventsProcessor: 'on',
    streamLimit: 1,
    openingWindowSeconds: FAST_STORE_OPENING_WINDOW_SECONDS,
    eventsWebhookUrl: hookUrl,
    eventsWebhookSecret: SECRET,
  });
});

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await stack?.stop();
  await receiver.stop();
});

/** What the table says each connection of `users` must have produced, by connection. */
async function expectedSteps(users: Set<string>): Promise<Map<string, string[]>> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await stack.runtime.store.db.send(new ScanCommand({ TableName: stack.tableName, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  const counted = new Set<string>();
  for (const item of items) {
    if (item.sk !== 'counter' || !users.has(String(item.pk).slice('user#'.length))) continue;
    for (const name of Object.keys(item)) if (name.startsWith('c:')) counted.add(name.slice(2));
  }
  const expected = new Map<string, string[]>();
  for (const item of items) {
    if (item.sk !== 'conn' || !users.has(String(item.userId))) continue;
    const id = String(item.connectionId);
    const ended = item.state === 'closed' && !counted.has(id);
    expected.set(id, ended ? ['stream.admitted', `stream.ended:${item.closeReason}`] : ['stream.admitted']);
  }
  return expected;
}

function receivedSteps(users: Set<string>): Map<string, string[]> {
  const got = new Map<string, string[]>();
  for (const e of receiver.unique()) {
    if (!users.has(e.subject) || !('connectionId' in e.data) || e.type === 'stream.refused') continue;
    const step = 'reason' in e.data ? `${e.type}:${e.data.reason}` : e.type;
    got.set(e.data.connectionId, [...(got.get(e.data.connectionId) ?? []), step]);
  }
  return got;
}

describe('When streams come and go in every order, and the processor restarts mid-batch', () => {
  it('gives every step of every connection exactly once by id, in order, as the table recorded it', async () => {
    // Prepare
    const next = seeded(Number(process.env.CHAOS_SEED ?? 7));
    const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!;
    const users = Array.from({ length: USERS }, () => newUserId('evc'));
    const open: Array<{ userId: string; socket: WebSocket }> = [];
    let refusedAtLimit = 0;
    stack.emulator.setFaults({ dropDisconnectRate: 0.3, failHandshakeRate: 0.2 });

    // Act
    for (let step = 0; step < STEPS; step++) {
      if (step === Math.floor(STEPS / 2)) {
        // The processor stops with a delivery in flight; another one starts on the same table.
        let release!: () => void;
        receiver.hold = new Promise((r) => (release = r));
        await new Promise((r) => setTimeout(r, 300));
        const restarting = stack.restartEvents();
        release();
        receiver.hold = undefined;
        await restarting;
      }
      const action = open.length === 0 ? 'open' : pick(['open', 'open', 'open', 'close', 'drop', 'kick']);
      if (action === 'open') {
        const userId = pick(users);
        // A handshake the fault fails hangs up: the player saw nothing open.
        const result = await openSocket(stack.wsUrl, { userId, streamId: pick(['a', 'b', 'c', 'd']) }).catch(() => ({
          socket: undefined,
        }));
        if ('status' in result && result.status === 429) refusedAtLimit++;
        if (result.socket) {
          sockets.push(result.socket);
          open.push({ userId, socket: result.socket });
        }
        continue;
      }
      const [victim] = open.splice(Math.floor(next() * open.length), 1);
      if (action === 'close') victim!.socket.close();
      else if (action === 'drop') victim!.socket.terminate();
      else {
        const listed = await supportRequest(stack, { method: 'GET', path: `/users/${victim!.userId}/connections` });
        const { connections } = (await listed.json()) as { connections: Array<{ connectionId: string }> };
        if (connections.length > 0) {
          const id = encodeURIComponent(pick(connections).connectionId);
          await supportRequest(stack, { method: 'DELETE', path: `/connections/${id}` });
        }
      }
    }
    stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 });
    for (const { socket } of open) socket.close();

    const acted = Date.now();

    // Assess: once the table is quiet, the events agree with it
    const mine = new Set(users);
    let expected = new Map<string, string[]>();
    await eventually(
      async () => {
        expected = await expectedSteps(mine);
        return JSON.stringify([...receivedSteps(mine)].sort()) === JSON.stringify([...expected].sort());
      },
      20_000,
      250,
    ).catch(() => undefined);
    console.info(
      `events under chaos: ${expected.size} connections, ${refusedAtLimit} refused at the limit, agreed ${Date.now() - acted} ms after the last step`,
    );
    expect(Object.fromEntries(receivedSteps(mine))).toEqual(Object.fromEntries(expected));
    expect(expected.size).toBeGreaterThan(10);
    // Refusals write nothing to the table: their events are held to the answers the players saw.
    const refusals = receiver.unique().filter((e) => mine.has(e.subject) && e.type === 'stream.refused');
    expect(refusals).toHaveLength(refusedAtLimit);
    expect(receiver.badSignatures).toEqual([]);
  }, 90_000);
});
