/**
 * The load tester's takeover accounting against small servers that behave in one chosen way (loopback only): one that
 * takes a reused stream id over as API Gateway + streamgate do, one that forgets to close the replaced socket, and
 * one that closes every socket soon after opening it (to watch reconnects reuse their ids, or not).
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { runLoad } from '../../tools/loadtest/engine.js';
import { parseLoadOptions } from '../../tools/loadtest/options.js';

/** Runs of the load tester take seconds; on a busy 2-core machine, several times that. */
const LOAD_TIMEOUT = 90_000;

interface Fake {
  url: string;
  /** stream ids each user connected with, in order */
  streamIds: Map<string, string[]>;
  /** the most sockets one user had open at once */
  maxOpenPerUser: number;
  close(): Promise<void>;
}

type Behaviour = 'takeover' | 'forget-old' | 'close-soon';

const servers: Fake[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function fakeServer(behaviour: Behaviour): Promise<Fake> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const open = new Map<string, Map<WebSocket, string>>();
  const fake: Fake = {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`,
    streamIds: new Map(),
    maxOpenPerUser: 0,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    },
  };
  wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    const q = new URL(req.url ?? '/', 'ws://x').searchParams;
    const user = q.get('userId') ?? '';
    const stream = q.get('streamId') ?? '';
    fake.streamIds.set(user, [...(fake.streamIds.get(user) ?? []), stream]);
    const mine = open.get(user) ?? new Map<WebSocket, string>();
    open.set(user, mine);
    const replaced = [...mine].filter(([, s]) => s === stream).map(([old]) => old);
    mine.set(socket, stream);
    fake.maxOpenPerUser = Math.max(fake.maxOpenPerUser, mine.size);
    socket.on('close', () => mine.delete(socket));
    socket.on('message', () => socket.send('{"type":"heartbeat"}'));
    socket.on('error', () => {});
    // The replaced socket is closed a little after the new one is admitted, as DeleteConnection does.
    if (behaviour === 'takeover') for (const old of replaced) setTimeout(() => old.close(1000), 50);
    if (behaviour === 'close-soon') setTimeout(() => socket.close(1000), 100);
  });
  servers.push(fake);
  return fake;
}

const options = (url: string, extra: string[]) =>
  parseLoadOptions([
    ...['--url', url, '--users', '3', '--streams-per-user', '3', '--limit', '3', '--heartbeat', '600'],
    ...['--user-prefix', 'tk', ...extra],
  ]);

describe('load tester takeovers', () => {
  it(
    'does not count the socket being replaced as an extra stream',
    async () => {
      // Prepare
      const server = await fakeServer('takeover');

      // Act
      const report = await runLoad(options(server.url, ['--duration', '2', '--takeover', '1']));

      // Assess: users had 4 sockets open at moments, never 4 streams
      expect(server.maxOpenPerUser).toBeGreaterThan(3);
      expect(report).toMatchObject({ violations: 0, maxHeldByOneUser: 3, heldAtEnd: 9 });
      expect(report.takeovers.admitted).toBeGreaterThan(0);
      expect(report.takeovers).toMatchObject({ lingering: 0, closedByServer: report.takeovers.admitted });
      expect(report.verdict).toMatchObject({ pass: true, exitCode: 0 });
    },
    LOAD_TIMEOUT,
  );

  it(
    'fails the run (exit 1) when the server leaves a replaced socket open',
    async () => {
      // Prepare
      const server = await fakeServer('forget-old');

      // Act
      const report = await runLoad(options(server.url, ['--duration', '1', '--takeover', '1']));

      // Assess: still no violation (three streams each), but sockets that outlive their count
      expect(report.violations).toBe(0);
      expect(report.takeovers.lingering).toBeGreaterThan(0);
      expect(report.verdict.exitCode).toBe(1);
      expect(report.verdict.reasons).toContainEqual(expect.stringMatching(/replaced by a takeover were still open/));
    },
    LOAD_TIMEOUT,
  );

  it(
    'counts a fourth stream as a violation, even while takeovers happen',
    async () => {
      // Prepare: the server allows everything; the tool is told the limit is 3 and each user wants 4
      const server = await fakeServer('takeover');

      // Act
      const report = await runLoad(
        parseLoadOptions([
          ...['--url', server.url, '--users', '3', '--streams-per-user', '4', '--limit', '3'],
          ...['--duration', '1', '--takeover', '1', '--heartbeat', '600'],
        ]),
      );

      // Assess
      expect(report).toMatchObject({ violations: 3, maxHeldByOneUser: 4 });
      expect(report.verdict.exitCode).toBe(1);
    },
    LOAD_TIMEOUT,
  );

  it(
    'reconnects with the same stream id by default, and a fresh one with --no-reuse-streams',
    async () => {
      // Prepare
      const server = await fakeServer('close-soon');
      const fresh = await fakeServer('close-soon');

      // Act
      const reused = await runLoad(options(server.url, ['--duration', '1', '--retry', '0.05', '--settle', '0']));
      await runLoad(options(fresh.url, ['--duration', '1', '--retry', '0.05', '--settle', '0', '--no-reuse-streams']));

      // Assess
      expect(reused.reconnects).toBeGreaterThan(0);
      for (const [user, ids] of server.streamIds) {
        expect(ids.length).toBeGreaterThan(3);
        expect(new Set(ids)).toEqual(new Set([`${user}-s0`, `${user}-s1`, `${user}-s2`]));
      }
      for (const ids of fresh.streamIds.values()) {
        expect(ids.length).toBeGreaterThan(3);
        expect(new Set(ids).size).toBe(ids.length);
      }
    },
    LOAD_TIMEOUT,
  );
});
