/**
 * The player SDK's stream against a fake socket and a fake clock (no I/O): admission, heartbeats at half the lease,
 * jittered backoff after a close the server did not decide, never coming back after a final `ended`, refusals
 * explained by the player API, and `close()` stopping everything.
 */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, endStream, listStreams, openStream } from '../../client/index.js';
import type { StreamEventName, StreamEvents, StreamOptions } from '../../client/types.js';
import { FakeClock, FakeSocket, fakePlayerApi, settle, sockets } from '../support/sdk-fakes.js';

let clock: FakeClock;

beforeEach(() => {
  sockets.length = 0;
  clock = new FakeClock();
});

/** A stream on fakes; every event it emits is recorded in order. */
function fakeStream(options: Partial<StreamOptions> = {}) {
  const events: Array<{ event: StreamEventName; payload: unknown }> = [];
  const stream = openStream({
    url: 'ws://gate.test',
    playerApi: 'http://api.test',
    userId: 'alice',
    streamId: 'movie-1',
    device: 'TV',
    WebSocket: FakeSocket,
    clock,
    random: () => 0.5,
    fetch: fakePlayerApi({
      status: 200,
      body: { userId: 'alice', limit: 3, active: 1, policy: 'block-new', streams: [] },
    }),
    ...options,
  } as StreamOptions);
  for (const event of ['admitted', 'refused', 'ended', 'reconnecting', 'renewed', 'error'] as const)
    stream.on(event, (payload) => events.push({ event, payload }));
  return { stream, events, names: () => events.map((e) => e.event) };
}

/** The latest socket, opened and admitted as `connectionId`. */
function admitLatest(connectionId: string, leaseMs?: number): FakeSocket {
  const socket = sockets.at(-1)!;
  socket.open();
  socket.answerHeartbeat(connectionId, clock.now(), leaseMs);
  return socket;
}

const payloadOf = <E extends StreamEventName>(events: Array<{ event: string; payload: unknown }>, event: E) =>
  events.filter((e) => e.event === event).map((e) => e.payload as StreamEvents[E]);

describe('backoff', () => {
  it('waits from 0 up to a ceiling that doubles per try and never passes maxMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        (attempt, r, initialMs, maxMs) => {
          const options = { initialMs, maxMs };
          const ceiling = backoffCeiling(attempt, options);
          const delay = backoffDelay(attempt, () => r, options);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(ceiling);
          expect(ceiling).toBeLessThanOrEqual(maxMs);
          expect(backoffCeiling(attempt + 1, options)).toBeGreaterThanOrEqual(ceiling);
          if (ceiling < maxMs) expect(backoffCeiling(attempt + 1, options)).toBe(Math.min(maxMs, ceiling * 2));
        },
      ),
    );
  });
});

describe('a stream on a fake socket', () => {
  it('is admitted once its first heartbeat is answered, and heartbeats at half the lease, at most every 5 minutes', () => {
    // Prepare
    const { stream, events } = fakeStream();

    // Act
    const socket = sockets[0]!;
    socket.open();
    const beforeAnswer = socket.sent.length;
    socket.answerHeartbeat('c1', clock.now(), 300_000);
    clock.advance(149_999);
    const beforeHalfLease = socket.sent.length;
    clock.advance(1);

    // Assess
    expect(socket.params.get('userId')).toBe('alice');
    expect(socket.params.get('streamId')).toBe('movie-1');
    expect(socket.params.get('device')).toBe('TV');
    expect(socket.params.get('resume')).toBe('1');
    expect(beforeAnswer).toBe(1);
    expect(payloadOf(events, 'admitted')).toEqual([{ connectionId: 'c1', streamId: 'movie-1', reconnected: false }]);
    expect(stream.connectionId).toBe('c1');
    expect(beforeHalfLease).toBe(1);
    expect(socket.sent.length).toBe(2);

    // Act + Assess: a 20-minute lease still heartbeats every 5 minutes (API Gateway's idle timeout is 10)
    socket.answerHeartbeat('c1', clock.now(), 20 * 60_000);
    clock.advance(5 * 60_000);
    expect(socket.sent.length).toBe(3);
    stream.close();
  });

  it('heartbeats once a minute when the lease is over by the device clock (a clock set ahead), not in a loop', () => {
    fakeStream();
    const socket = sockets[0]!;
    socket.open();
    socket.answerHeartbeat('c1', clock.now() - 10 * 60_000, 300_000);

    clock.advance(59_999);
    expect(socket.sent.length).toBe(1);
    clock.advance(1);
    expect(socket.sent.length).toBe(2);
  });

  it('sends the first heartbeat again until it is answered (throttled by API Gateway)', () => {
    const { events } = fakeStream();
    const socket = sockets[0]!;
    socket.open();
    socket.receive({ message: 'Too Many Requests', connectionId: 'c1', requestId: 'r' });
    clock.advance(2_000);

    expect(socket.sent).toEqual(['{"action":"heartbeat"}', '{"action":"heartbeat"}']);
    expect(events).toEqual([]);
  });

  it('reconnects a close without an ended frame under the same streamId, with growing jittered waits', () => {
    // Prepare
    const { events } = fakeStream({ random: () => 0.999 });
    admitLatest('c1');

    // Act: the socket drops (1006), then two tries open and drop before one is admitted
    sockets[0]!.serverClose(1006);
    clock.advance(100);
    sockets[1]!.open();
    sockets[1]!.serverClose(1006);
    clock.advance(200);
    sockets[2]!.open();
    sockets[2]!.serverClose(1000);
    clock.advance(400);
    admitLatest('c4');

    // Assess
    expect(sockets.map((s) => s.params.get('streamId'))).toEqual(['movie-1', 'movie-1', 'movie-1', 'movie-1']);
    expect(payloadOf(events, 'reconnecting').map((r) => [r.attempt, r.delayMs])).toEqual([
      [1, 99],
      [2, 199],
      [3, 399],
    ]);
    expect(payloadOf(events, 'admitted').at(-1)).toEqual({
      connectionId: 'c4',
      streamId: 'movie-1',
      reconnected: true,
    });
    expect(payloadOf(events, 'ended')).toEqual([]);
  });

  it('says so and tries again later when a socket cannot even be made', () => {
    const { events, names } = fakeStream({ random: () => 0.999 });
    admitLatest('c1');
    sockets[0]!.serverClose(1006);
    FakeSocket.failNext = 1;

    clock.advance(100);
    clock.advance(200);

    expect(names()).toEqual(['admitted', 'reconnecting', 'error', 'reconnecting']);
    expect(payloadOf(events, 'error')).toEqual([{ code: 'CONNECT_FAILED', message: 'Error: cannot open a socket' }]);
    expect(sockets.length).toBe(2);
  });

  it('starts the backoff over after an admission', () => {
    const { events } = fakeStream({ random: () => 0.999 });
    admitLatest('c1');
    sockets[0]!.serverClose(1006);
    clock.advance(100);
    admitLatest('c2');
    sockets[1]!.serverClose(1006);

    expect(payloadOf(events, 'reconnecting').map((r) => r.delayMs)).toEqual([99, 99]);
  });

  it.each([
    ['takenOver', 'Phone'],
    ['kicked', null],
    ['endedByUser', null],
    ['evicted', 'Tablet'],
  ])('never reconnects after ended with %s, and stops every timer', (reason, device) => {
    // Prepare
    const { stream, events } = fakeStream();
    admitLatest('c1');

    // Act
    sockets[0]!.serverClose(1000, { reason, device });
    clock.advance(10 * 60_000);

    // Assess
    expect(payloadOf(events, 'ended')).toEqual([{ reason, device }]);
    expect(sockets.length).toBe(1);
    expect(payloadOf(events, 'reconnecting')).toEqual([]);
    expect(stream.closed).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it.each(['idle', 'maxDuration', 'uncounted'])(
    'reconnects after ended with %s (no one ended it on purpose)',
    (reason) => {
      const { events } = fakeStream();
      admitLatest('c1');
      sockets[0]!.serverClose(1001, { reason });
      clock.advance(100);

      expect(sockets.length).toBe(2);
      expect(payloadOf(events, 'ended')).toEqual([]);
      expect(payloadOf(events, 'reconnecting')[0]?.cause).toBe(reason);
    },
  );

  it('explains a refused handshake with the player API: the holders, and no retry', async () => {
    // Prepare
    const holders = [
      { streamId: 'a', device: 'TV', connectedAt: '2026-01-01T10:00:00.000Z', lastSeenAt: '2026-01-01T10:01:00.000Z' },
      { streamId: 'b', device: null, connectedAt: '2026-01-01T09:00:00.000Z', lastSeenAt: '2026-01-01T10:01:00.000Z' },
    ];
    const api = fakePlayerApi({
      status: 200,
      body: { userId: 'alice', limit: 2, active: 2, policy: 'block-new', streams: holders },
    });
    const { events } = fakeStream({ fetch: api });

    // Act: a browser sees only error and 1006
    sockets[0]!.refuse();
    await settle();
    clock.advance(60_000);

    // Assess
    expect(api.calls).toEqual(['GET http://api.test/me/streams?userId=alice']);
    expect(payloadOf(events, 'refused')).toEqual([
      {
        status: 429,
        code: 'LIMIT_REACHED',
        message: 'already watching on 2 of 2 screens',
        limit: 2,
        active: 2,
        policy: 'block-new',
        streams: [
          { device: 'TV', streamId: 'a', since: '2026-01-01T10:00:00.000Z' },
          { device: null, streamId: 'b', since: '2026-01-01T09:00:00.000Z' },
        ],
      },
    ]);
    expect(sockets.length).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("takes the status from ws's error (401 in Node) and retries a 503 or a failure below the limit", async () => {
    const unauthorized = fakeStream({ token: 'expired', userId: undefined });
    sockets[0]!.refuse('Unexpected server response: 401');
    await settle();
    expect(payloadOf(unauthorized.events, 'refused').map((r) => [r.status, r.code])).toEqual([[401, 'UNAUTHORIZED']]);
    expect(sockets[0]!.params.get('token')).toBe('expired');

    const busy = fakeStream();
    sockets[1]!.refuse('Unexpected server response: 503');
    await settle();
    const belowLimit = fakeStream();
    sockets[2]!.refuse();
    await settle();

    expect(busy.names()).toEqual(['reconnecting']);
    expect(belowLimit.names()).toEqual(['reconnecting']);
  });

  it('refuses a parameter the service would refuse at once, without opening a socket', () => {
    const { events, stream } = fakeStream({ streamId: 'no spaces allowed' });
    clock.advance(0);

    expect(payloadOf(events, 'refused')).toEqual([
      { status: 400, code: 'INVALID_STREAM_ID', message: 'streamId must be 1 to 128 of A-Z a-z 0-9 . _ - : @' },
    ]);
    expect(sockets.length).toBe(0);
    expect(stream.closed).toBe(true);
  });

  it('stops every timer and closes the socket as ended on purpose on close(), and nothing reconnects', () => {
    const { stream, events } = fakeStream();
    admitLatest('c1');

    stream.close();
    clock.advance(3 * 60 * 60_000);

    // 4000: the server frees the slot at once instead of holding it for a reconnect.
    expect(sockets[0]!.closedByClient).toBe(4000);
    expect(clock.pending).toBe(0);
    expect(sockets.length).toBe(1);
    expect(events.map((e) => e.event)).toEqual(['admitted']);
  });

  it('calls the player API with the bearer token in jwt mode, and names an error as the service did', async () => {
    // Prepare
    const api = fakePlayerApi({
      status: 404,
      body: { error: { code: 'STREAM_NOT_FOUND', message: 'no such stream' } },
    });
    const options = { playerApi: 'http://api.test/', token: 'T0K', fetch: api };

    // Act
    const listed = await listStreams({ ...options, fetch: fakePlayerApi({ status: 200, body: { streams: [] } }) });
    const ended = await endStream(options, 'a b');

    // Assess
    expect(listed).toEqual({ ok: true, status: 200, body: { streams: [] } });
    expect(api.calls).toEqual(['DELETE http://api.test/me/streams/a%20b']);
    expect(api.headers).toEqual([{ authorization: 'Bearer T0K' }]);
    expect(ended).toEqual({ ok: false, status: 404, code: 'STREAM_NOT_FOUND', message: 'no such stream' });
  });

  it('makes up a random streamId when none is given, and keeps it', () => {
    const { stream } = fakeStream({ streamId: undefined });
    admitLatest('c1');
    sockets[0]!.serverClose(1006);
    clock.advance(1_000);

    expect(stream.streamId).toMatch(/^[A-Za-z0-9._\-:@]{1,128}$/);
    expect(sockets.map((s) => s.params.get('streamId'))).toEqual([stream.streamId, stream.streamId]);
  });
});
