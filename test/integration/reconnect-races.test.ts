/**
 * Concurrent reconnects of one stream, racing kicks and faults: whatever the interleaving, the reconnects settle
 * without 503s, and a second later no socket outlives its count (the oracle in test/support/oracle.ts).
 */
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { sleep } from '../../core/retry.js';
import { createConnectHandler } from '../../handlers/routes/connect.js';
import { seeded } from '../../tools/capacity/simulate.js';
import { endedFrames, recordUntilClose } from '../support/ended.js';
import { wsEvent } from '../support/events.js';
import { CLOSES_IN_FLIGHT_MS, invariantViolations } from '../support/oracle.js';
import { useRaceStack } from '../support/race-stack.js';
import { eventually, mustOpen, type OpenResult, openSocket, request } from '../support/sockets.js';
import { newUserId, supportRequest } from '../support/stack.js';

const LIMIT = 3;
/** 24 by default, to keep the suite inside CI's 15 minutes; more with RACE_TRIALS=n. */
const TRIALS = Number(process.env.RACE_TRIALS ?? 24);
const WAVE = 8;
/** Forty trials under a loaded machine take a while; nothing here is timed. */
const TRIALS_TIMEOUT_MS = 180_000;

const race = useRaceStack({ streamLimit: LIMIT });
const { sockets } = race;

/** A handshake that may fail outright (a lost handshake is a fault the tests inject): status 0 then. */
async function tryOpen(params: Record<string, string>): Promise<OpenResult> {
  const result = await openSocket(race.stack.wsUrl, params).catch(() => ({ status: 0 }) as OpenResult);
  if (result.socket) sockets.push(result.socket);
  return result;
}

/** Opens a stream that must be admitted, trying again when an injected fault loses the handshake. */
async function holdStream(params: Record<string, string>): Promise<WebSocket> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const result = await tryOpen(params);
    if (result.socket) return result.socket;
    if (result.status !== 0) throw new Error(`expected 101, got ${result.status} ${result.body}`);
  }
  throw new Error('20 handshakes in a row were lost');
}

interface Trial {
  userId: string;
  statuses: number[];
  kicks: number[];
}

/**
 * One user holds s1, s2 and s3; then `reconnects` connects of s1 arrive at once, and with `kicks` support staff end
 * the first s1 and a random other stream at the same moment.
 */
async function trial(next: () => number, options: { reconnects: number; kicks: boolean }): Promise<Trial> {
  const userId = newUserId('race');
  const held = await Promise.all(
    ['s1', 's2', 's3'].map(async (streamId) => {
      const socket = await holdStream({ userId, streamId, device: `tv-${streamId}` });
      const { connectionId } = await request(socket, { action: 'status' });
      return connectionId as string;
    }),
  );
  const reconnects = Array.from({ length: options.reconnects }, (_, i) =>
    tryOpen({ userId, streamId: 's1', device: `phone-${i}` }),
  );
  const victims = options.kicks ? [held[0]!, held[1 + Math.floor(next() * 2)]!] : [];
  const kicks = victims.map(async (connectionId) => {
    const res = await supportRequest(race.stack, {
      method: 'DELETE',
      path: `/connections/${encodeURIComponent(connectionId)}`,
    });
    return res.status;
  });
  const [statuses, kickStatuses] = await Promise.all([Promise.all(reconnects), Promise.all(kicks)]);
  return { userId, statuses: statuses.map((r) => r.status), kicks: kickStatuses };
}

async function waves(seed: number, options: { kicks: (next: () => number) => boolean }): Promise<Trial[]> {
  const next = seeded(seed);
  const trials: Trial[] = [];
  for (let start = 0; start < TRIALS; start += WAVE) {
    const wave = Array.from({ length: Math.min(WAVE, TRIALS - start) }, () =>
      trial(next, { reconnects: 2 + Math.floor(next() * 9), kicks: options.kicks(next) }),
    );
    trials.push(...(await Promise.all(wave)));
  }
  return trials;
}

/** A second after the last burst, then as long as sockets are still closing: the invariants must hold. */
async function expectInvariants(users: string[]) {
  await sleep(CLOSES_IN_FLIGHT_MS);
  let violations = await invariantViolations(race.stack, race.store, { limit: LIMIT, users });
  // Closing sockets finish their close handshake; what is still wrong after that is a violation.
  await eventually(async () => {
    violations = await invariantViolations(race.stack, race.store, { limit: LIMIT, users });
    return violations.length === 0;
  }, 5000).catch(() => undefined);
  expect(violations).toEqual([]);
}

describe('concurrent reconnects of one stream', () => {
  it(
    `settles ${TRIALS} bursts of 2 to 10 reconnects on one socket per stream, without 503`,
    async () => {
      // Act
      const trials = await waves(1, { kicks: () => false });

      // Assess
      const statuses = trials.flatMap((t) => t.statuses);
      expect(statuses.filter((s) => s !== 101 && s !== 409)).toEqual([]);
      await expectInvariants(trials.map((t) => t.userId));
      // Every user is back to exactly their three streams: one socket for s1, whichever reconnect won.
      for (const t of trials) expect((await race.store.getCounter(t.userId)).active).toBe(LIMIT);
    },
    TRIALS_TIMEOUT_MS,
  );

  it(
    `keeps every socket counted when kicks race ${TRIALS} bursts`,
    async () => {
      // Act
      const trials = await waves(2, { kicks: (next) => next() < 0.7 });

      // Assess
      expect(trials.flatMap((t) => t.statuses).filter((s) => s !== 101 && s !== 409 && s !== 429)).toEqual([]);
      expect(trials.flatMap((t) => t.kicks).filter((s) => s !== 204 && s !== 404)).toEqual([]);
      await expectInvariants(trials.map((t) => t.userId));
    },
    TRIALS_TIMEOUT_MS,
  );

  it(
    `keeps every socket counted through ${TRIALS} bursts with lost handshakes and dropped $disconnects`,
    async () => {
      // Prepare
      race.stack.emulator.setFaults({ dropDisconnectRate: 0.3, failHandshakeRate: 0.2 });

      // Act
      const trials = await waves(3, { kicks: (next) => next() < 0.3 });

      // Assess: a lost handshake is status 0 (the fault); never a 503.
      expect(trials.flatMap((t) => t.statuses).filter((s) => ![0, 101, 409, 429].includes(s))).toEqual([]);
      race.stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 });
      await expectInvariants(trials.map((t) => t.userId));
    },
    TRIALS_TIMEOUT_MS,
  );
});

describe('a socket that no longer counts', () => {
  it('is told `uncounted` and closed on its next message', async () => {
    // Prepare: the stream stops counting behind the socket's back (as a reclaim racing its handshake would do).
    const userId = newUserId('uncounted');
    const socket = await mustOpen(race.stack.wsUrl, { userId, streamId: 'a' });
    sockets.push(socket);
    const { connectionId } = await request(socket, { action: 'status' });
    await race.store.release(connectionId as string, 'reclaimed', Date.now());
    const end = recordUntilClose(socket);

    // Act
    socket.send(JSON.stringify({ action: 'heartbeat' }));

    // Assess
    const ended = await end;
    expect(endedFrames(ended)).toEqual([{ type: 'ended', reason: 'uncounted', device: null }]);
    expect(ended.frames.at(-1)?.type).toBe('ended');
    expect(await invariantViolations(race.stack, race.store, { limit: LIMIT, users: [userId] })).toEqual([]);
  });

  it('refuses the stale one of two reconnects with 409 REPLACED and keeps the newer', async () => {
    // Prepare: a newer connection of s1 already holds the stream.
    const userId = newUserId('stale');
    const newer = await mustOpen(race.stack.wsUrl, { userId, streamId: 's1', device: 'newer' });
    sockets.push(newer);
    const { connectionId } = await request(newer, { action: 'status' });
    const heldSince = (await race.store.getCounter(userId)).counted.get(connectionId as string)!;
    const connect = createConnectHandler(race.stack.runtime);

    // Act: a connect API Gateway saw arrive earlier (an older connectedAt) reaches `$connect` late.
    const stale = await connect(
      wsEvent('CONNECT', 'stale-connection', heldSince - 1, { queryStringParameters: { userId, streamId: 's1' } }),
      {} as never,
    );

    // Assess
    expect(stale?.statusCode).toBe(409);
    expect(JSON.parse(stale!.body!).error.code).toBe('REPLACED');
    const counter = await race.store.getCounter(userId);
    expect(counter.streams.get('s1')).toBe(connectionId);
    expect(counter.active).toBe(1);
    expect(await race.store.getConnection('stale-connection')).toBeUndefined();
    expect(newer.readyState).toBe(newer.OPEN);
  });
});
