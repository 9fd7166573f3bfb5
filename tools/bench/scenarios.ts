/**
 * The moments that matter in production, each measured beside the raw rate of the same work straight to DynamoDB
 * Local: a burst (everyone connects at once), a refusal (a player at the limit retrying) and a ghost storm (sockets
 * lost without `$disconnect`, all reconnecting at once). Real `ws` clients, loopback only.
 */
import WebSocket from 'ws';
import type { StreamStore } from '../../core/store/port.js';
import type { LatencySummary } from '../loadtest/engine.js';
import { histogram, micros, summary } from '../loadtest/tally.js';

export interface Handshake {
  status: number;
  ms: number;
  /** when the answer came, ms since the scenario started */
  at: number;
  socket?: WebSocket;
}

/** One handshake, as a player's first byte to the answer. */
export function handshake(url: string, started: number): Promise<Handshake> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const done = (status: number, s?: WebSocket) => {
      const now = performance.now();
      resolve({ status, ms: now - t0, at: now - started, socket: s });
    };
    socket.once('open', () => done(101, socket));
    socket.once('unexpected-response', (_req, res) => {
      res.resume();
      done(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', () => done(0));
  });
}

export function latency(values: number[]): LatencySummary {
  const h = histogram();
  for (const v of values) h.recordValue(micros(v));
  return summary(h);
}

const url = (base: string, userId: string, streamId?: string) => {
  const u = new URL(base);
  u.searchParams.set('userId', userId);
  if (streamId) u.searchParams.set('streamId', streamId);
  return u.toString();
};

export async function closeAll(results: Handshake[]) {
  await Promise.all(
    results.map(
      (r) =>
        new Promise<void>((resolve) => {
          const s = r.socket;
          if (!s || s.readyState === WebSocket.CLOSED) return resolve();
          s.once('close', () => resolve());
          s.close(1000);
        }),
    ),
  );
}

/** Admissions per second over the window from the start to the last admission (`at`, ms since the start). */
export const perSecond = (admitted: Array<{ at: number }>) => {
  const last = Math.max(0, ...admitted.map((r) => r.at));
  return last > 0 ? Math.round((admitted.length / last) * 1000) : 0;
};

export interface BurstResult {
  handshakes: number;
  admitted: number;
  refused: number;
  errors: number;
  admittedPerSecond: number;
  admittedMs: LatencySummary;
  refusedMs: LatencySummary;
  results: Handshake[];
}

/** `users` x `perUser` handshakes started at the same moment. */
export async function burst(base: string, prefix: string, users: number, perUser: number): Promise<BurstResult> {
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: users * perUser }, (_, i) => handshake(url(base, `${prefix}-${i % users}`), started)),
  );
  const admitted = results.filter((r) => r.status === 101);
  const refused = results.filter((r) => r.status === 429);
  return {
    handshakes: results.length,
    admitted: admitted.length,
    refused: refused.length,
    errors: results.length - admitted.length - refused.length,
    admittedPerSecond: perSecond(admitted),
    admittedMs: latency(admitted.map((r) => r.ms)),
    refusedMs: latency(refused.map((r) => r.ms)),
    results,
  };
}

/** The same burst straight to the store: the guard's transaction for each handshake, all at once. */
export async function rawBurst(store: StreamStore, prefix: string, users: number, perUser: number) {
  const at = Date.now();
  const started = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: users * perUser }, async (_, i) => {
      const outcome = await store.admit(
        { connectionId: `${prefix}-c${i}`, userId: `${prefix}-${i % users}`, connectedAt: at, leaseExpiresAt: at },
        { defaultLimit: 3, maxConnectionMs: 7_200_000 },
      );
      return { kind: outcome.kind, at: performance.now() - started };
    }),
  );
  const admitted = outcomes.filter((o) => o.kind === 'admitted');
  return { admitted: admitted.length, admittedPerSecond: perSecond(admitted) };
}

/** A player holding its limit retries `tries` times, one after the other: each retry is refused. */
export async function refusals(base: string, userId: string, limit: number, tries: number) {
  const started = performance.now();
  const held = await Promise.all(
    Array.from({ length: limit }, (_, i) => handshake(url(base, userId, `h${i}`), started)),
  );
  if (held.some((h) => h.status !== 101)) throw new Error(`refusal set-up: ${held.map((h) => h.status)}`);
  const times: number[] = [];
  const statuses: Record<string, number> = {};
  for (let i = 0; i < tries; i++) {
    const r = await handshake(url(base, userId, `retry${i}`), started);
    times.push(r.ms);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.socket) r.socket.terminate();
  }
  await closeAll(held);
  return { tries, statuses, refusedMs: latency(times) };
}

/** How long the streams of a storm or a dead-stream run had been playing, and how long after the loss they come back. */
export interface Timing {
  /** from their admission to their loss: past the opening window (lifecycle.ts), streams that had been playing */
  playedMs: number;
  /** from their loss to their players' reconnect */
  settleMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Ghost storm, on a stack that drops every `$disconnect`: `users` x `perUser` streams are opened, play for a while, are
 * lost without a close frame, then all reconnect at the same moment.
 */
export async function ghostStorm(base: string, prefix: string, users: number, perUser: number, timing: Timing) {
  const setUp = await burst(base, prefix, users, perUser);
  if (setUp.admitted !== users * perUser)
    throw new Error(`ghost storm set-up admitted ${setUp.admitted}: ${setUp.results.map((r) => r.status).join(',')}`);
  await sleep(timing.playedMs);
  for (const r of setUp.results) r.socket?.terminate();
  await sleep(timing.settleMs);
  const storm = await burst(base, prefix, users, perUser);
  return { ghosts: setUp.admitted, ...storm };
}

export interface DeadStreamRun {
  users: number;
  /** new streams admitted in the dead one's place */
  admitted: number;
  /** from the dead socket's loss to the new socket's open, each user's */
  slotFreeMs: LatencySummary;
}

/**
 * The dead-stream bound, on a stack that drops every `$disconnect`: each user holds `limit` streams that have played
 * for `ageMs`; one dies without `$disconnect` and its player opens another at once. Measured: from the death to the new
 * socket being open, which is when the dead stream's slot serves a new connect.
 */
export async function deadStreams(
  base: string,
  prefix: string,
  users: number,
  { limit, ageMs }: { limit: number; ageMs: number },
): Promise<DeadStreamRun> {
  const held = await Promise.all(
    Array.from({ length: users }, (_, u) =>
      Promise.all(Array.from({ length: limit }, (_, i) => handshake(url(base, `${prefix}-${u}`, `s${i}`), 0))),
    ),
  );
  if (held.flat().some((h) => h.status !== 101)) throw new Error('dead streams: the set-up was not all admitted');
  await sleep(ageMs);
  const runs = await Promise.all(
    held.map(async (streams, u) => {
      const died = performance.now();
      streams[0]!.socket!.terminate();
      const next = await handshake(url(base, `${prefix}-${u}`, 'next'), died);
      next.socket?.terminate();
      return next;
    }),
  );
  for (const h of held.flat()) h.socket?.terminate();
  const admitted = runs.filter((r) => r.status === 101);
  return { users, admitted: admitted.length, slotFreeMs: latency(admitted.map((r) => r.at)) };
}
