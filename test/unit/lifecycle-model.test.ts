/**
 * The lifecycle against its invariants, over random interleavings (fast-check): connects, takeovers, closes and
 * reopens, drops with their `$disconnect` lost, failed handshakes, kicks, a player's own ends, messages and sweeps,
 * players that opt in to the resume hold (`resume=1`) or not, and their deliberate closes (code 4000),
 * at random virtual times, with store and API Gateway latencies fast or heavy-tailed (up to 2.5 s a call). The core
 * runs unchanged on the in-memory store and a model of API Gateway, in virtual time (test/support/simulation.ts).
 *
 * At every step: no user has more sockets open than the limit. Once settled: every open socket counted, every
 * counter equal to its members, each socket the server closed told why once, nobody told `uncounted` whose stream
 * nobody ended. Then no lockout: with every socket dropped, each user opens the limit again.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DELIBERATE_END_CODE } from '../../core/lifecycle.js';
import { type SimSocket, World } from '../support/simulation.js';

const USERS = ['u0', 'u1'];
/** Shorter than the default, so that holds end inside a scenario's 4 s as well as after it. */
const RESUME_HOLD_MS = 2_000;

const action = fc.record({
  at: fc.integer({ min: 0, max: 4_000 }),
  kind: fc.constantFrom(
    'open',
    'reconnect',
    'close',
    'closeOnPurpose',
    'closeAndReopen',
    'kick',
    'kickAndOpen',
    'endOwn',
    'endOwnAndOpen',
    'message',
    'sweep',
  ),
  user: fc.integer({ min: 0, max: USERS.length - 1 }),
  stream: fc.integer({ min: 0, max: 3 }),
  pick: fc.nat(),
});

const scenario = fc.record({
  seed: fc.integer(),
  limit: fc.integer({ min: 1, max: 3 }),
  policy: fc.constantFrom('block-new' as const, 'evict-oldest' as const),
  storeLatency: fc.constantFrom('fast' as const, 'heavy' as const),
  gatewayLatency: fc.constantFrom('fast' as const, 'heavy' as const),
  dropDisconnect: fc.constantFrom(0, 0.5, 1),
  failHandshake: fc.constantFrom(0, 0.3),
  // Players that reconnect by themselves (the SDK): a socket nobody ended keeps its slot for the hold.
  resume: fc.boolean(),
  actions: fc.array(action, { minLength: 1, maxLength: 24 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

async function play(s: Scenario): Promise<string[]> {
  const world = new World({ ...s, resumeHoldMs: RESUME_HOLD_MS });
  const pickOpen = (userId: string, pick: number): SimSocket | undefined => {
    const open = world.openSockets(userId);
    return open.length > 0 ? open[pick % open.length] : undefined;
  };
  s.actions.forEach((a, i) => {
    const userId = USERS[a.user]!;
    const streamId = `s${a.stream}`;
    world.at(a.at, async () => {
      switch (a.kind) {
        case 'open':
          return world.open(userId, streamId);
        case 'reconnect': {
          // A network blip: the player's socket of this stream drops and it reconnects with the same stream id.
          const old = world.openSockets(userId).find((x) => x.streamId === streamId);
          if (old) world.close(old);
          return world.open(userId, streamId);
        }
        case 'close': {
          const socket = pickOpen(userId, a.pick);
          return socket && world.close(socket);
        }
        case 'closeOnPurpose': {
          // The player's own end (the SDK's close()): freed at once, never held.
          const socket = pickOpen(userId, a.pick);
          return socket && world.close(socket, DELIBERATE_END_CODE);
        }
        case 'closeAndReopen': {
          const socket = pickOpen(userId, a.pick);
          if (socket) world.close(socket);
          return world.open(userId, `n${i}`);
        }
        case 'kick': {
          const socket = pickOpen(userId, a.pick);
          return socket && world.kick(socket.connectionId);
        }
        case 'kickAndOpen': {
          // Staff end a stream while another device of the user opens one: the slot is not free until it is closed.
          const socket = pickOpen(userId, a.pick);
          return Promise.all([socket && world.kick(socket.connectionId), world.open(userId, `k${i}`)]);
        }
        case 'endOwn':
          return world.endOwn(userId, streamId);
        case 'endOwnAndOpen':
          return Promise.all([world.endOwn(userId, streamId), world.open(userId, `e${i}`)]);
        case 'message': {
          const socket = pickOpen(userId, a.pick);
          return socket && world.message(socket);
        }
        case 'sweep':
          return world.sweep();
      }
    });
  });
  await world.settle();
  await world.checkSettled(USERS);

  // No lockout: every socket dropped (its `$disconnect` lost or not), then, once any hold is over, each user opens the
  // limit again (with `resume`, a refusal is tried again once the holds its own tries started are over).
  for (const socket of world.sockets.values()) world.close(socket);
  await world.settle();
  if (s.resume) {
    world.at(RESUME_HOLD_MS + 1, async () => {});
    await world.settle();
  }
  for (const userId of USERS) {
    for (let k = 0; k < s.limit; k++) {
      world.at(0, async () => {
        // As a player would: "the store is slow, connect again" (503) is tried again.
        let again = await world.open(userId, `again${k}`);
        for (let retry = 0; again.status === 503 && retry < 5; retry++) again = await world.open(userId, `again${k}`);
        if (s.resume && again.status === 429) {
          // A dropped stream whose `$disconnect` was lost is held from when a refused connect finds it gone: once.
          await world.clock.sleep(RESUME_HOLD_MS + 1);
          again = await world.open(userId, `again${k}`);
          for (let retry = 0; again.status === 503 && retry < 5; retry++) again = await world.open(userId, `again${k}`);
        }
        if (again.status !== 200)
          world.violations.push({ at: world.clock.now(), what: `${userId} locked out: ${again.status}` });
      });
      await world.settle();
    }
  }
  await world.checkSettled(USERS);
  return world.violations.map((v) => `${v.at} ms: ${v.what}`);
}

describe('the lifecycle, over random interleavings in virtual time', () => {
  it('never lets a user hold more open sockets than the limit, leaves everything counted, never locks out', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        expect(await play(s)).toEqual([]);
      }),
      { numRuns: Number(process.env.MODEL_RUNS ?? 1_500), seed: numberOr(process.env.MODEL_SEED) },
    );
  }, 60_000);
});

function numberOr(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}
