/**
 * The player SDK's renewal before API Gateway's cap, on a fake socket and a fake clock: the replacement opens at
 * `maxDurationMs - renewMarginMs` after the socket opened, with the same streamId; the old socket's takeover is not
 * news (`renewed`, never `ended`); a failed replacement is tried again while the old socket plays.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { openStream } from '../../client/index.js';
import type { StreamEventName, StreamOptions } from '../../client/types.js';
import { FakeClock, FakeSocket, fakePlayerApi, sockets } from '../support/sdk-fakes.js';

let clock: FakeClock;

beforeEach(() => {
  sockets.length = 0;
  clock = new FakeClock();
});

const MAX = 6_000;
const MARGIN = 2_000;

function renewingStream(options: Partial<StreamOptions> = {}) {
  const events: Array<{ event: StreamEventName; payload: unknown }> = [];
  const stream = openStream({
    url: 'ws://gate.test',
    playerApi: 'http://api.test',
    userId: 'alice',
    streamId: 'film',
    device: 'TV',
    WebSocket: FakeSocket,
    clock,
    random: () => 0.5,
    maxDurationMs: MAX,
    renewMarginMs: MARGIN,
    fetch: fakePlayerApi({
      status: 200,
      body: { userId: 'alice', limit: 3, active: 3, policy: 'block-new', streams: [] },
    }),
    ...options,
  } as StreamOptions);
  for (const event of ['admitted', 'refused', 'ended', 'reconnecting', 'renewed', 'error'] as const)
    stream.on(event, (payload) => events.push({ event, payload }));
  return { stream, events, names: () => events.map((e) => e.event) };
}

function admit(socket: FakeSocket, connectionId: string) {
  socket.open();
  socket.answerHeartbeat(connectionId, clock.now());
}

/** What the server does when the replacement is admitted: the old socket is told `takenOver`, then closed. */
const takeOver = (old: FakeSocket) => old.serverClose(1000, { reason: 'takenOver', device: 'TV' });

describe('renewal', () => {
  it('opens the replacement exactly maxDurationMs - renewMarginMs after the socket opened, with the same streamId', () => {
    // Prepare
    const { stream, names } = renewingStream();
    clock.advance(300); // the handshake takes a while: the cap counts from the open
    admit(sockets[0]!, 'c1');

    // Act + Assess
    clock.advance(MAX - MARGIN - 1);
    expect(sockets.length).toBe(1);
    clock.advance(1);
    expect(sockets.length).toBe(2);
    expect(sockets[1]!.params.get('streamId')).toBe('film');
    expect(stream.connectionId).toBe('c1');
    expect(names()).toEqual(['admitted']);
  });

  it('emits renewed and never ended when the old socket is taken over, whichever comes first', () => {
    // Prepare
    const { stream, events, names } = renewingStream();
    admit(sockets[0]!, 'c1');

    // Act: first renewal, the old socket's takeover arriving after the replacement's admission
    clock.advance(MAX - MARGIN);
    admit(sockets[1]!, 'c2');
    takeOver(sockets[0]!);
    // second renewal, the takeover arriving before the replacement's first heartbeat is answered
    clock.advance(MAX - MARGIN);
    sockets[2]!.open();
    takeOver(sockets[1]!);
    sockets[2]!.answerHeartbeat('c3', clock.now());

    // Assess
    expect(names()).toEqual(['admitted', 'renewed', 'renewed']);
    expect(events.filter((e) => e.event === 'renewed').map((e) => e.payload)).toEqual([
      { connectionId: 'c2', previousConnectionId: 'c1' },
      { connectionId: 'c3', previousConnectionId: 'c2' },
    ]);
    expect(stream.connectionId).toBe('c3');
    expect(sockets.length).toBe(3);
  });

  it('keeps renewing, each renewal timed from its own socket', () => {
    const { names } = renewingStream();
    admit(sockets[0]!, 'c0');
    for (let i = 1; i <= 5; i++) {
      clock.advance(MAX - MARGIN);
      clock.advance(150); // the replacement's handshake
      admit(sockets[i]!, `c${i}`);
      takeOver(sockets[i - 1]!);
    }

    expect(names()).toEqual(['admitted', 'renewed', 'renewed', 'renewed', 'renewed', 'renewed']);
    expect(sockets.length).toBe(6);
  });

  it('tries a failed replacement again while the old socket plays, telling nobody', () => {
    // Prepare
    const { names } = renewingStream();
    admit(sockets[0]!, 'c1');
    clock.advance(MAX - MARGIN);

    // Act: the replacement drops before it is admitted; the next one is admitted
    sockets[1]!.open();
    sockets[1]!.serverClose(1006);
    clock.advance(100);
    admit(sockets[2]!, 'c2');
    takeOver(sockets[0]!);

    // Assess
    expect(names()).toEqual(['admitted', 'renewed']);
  });

  it('closes an old socket the server has not closed 10 s after its replacement took over', () => {
    const { names } = renewingStream();
    admit(sockets[0]!, 'c1');
    clock.advance(MAX - MARGIN);
    admit(sockets[1]!, 'c2');

    clock.advance(10_000);

    expect(sockets[0]!.closedByClient).toBe(1000);
    expect(sockets[1]!.closedByClient).toBeUndefined();
    expect(names()).toEqual(['admitted', 'renewed']);
  });

  it('reconnects when the old socket is closed by the cap before a replacement got in', () => {
    // Prepare: the replacement's handshake hangs
    const { names } = renewingStream();
    admit(sockets[0]!, 'c1');
    clock.advance(MAX - MARGIN);

    // Act: the cap closes the old socket (1001, no frame in AWS), then the replacement fails
    sockets[0]!.serverClose(1001);
    sockets[1]!.open();
    sockets[1]!.serverClose(1006);

    // Assess
    expect(names()).toEqual(['admitted', 'reconnecting']);
    clock.advance(100);
    admit(sockets[2]!, 'c3');
    expect(names()).toEqual(['admitted', 'reconnecting', 'admitted']);
  });

  it('ends for good when the old socket is kicked during a renewal, and closes the replacement', () => {
    const { stream, events, names } = renewingStream();
    admit(sockets[0]!, 'c1');
    clock.advance(MAX - MARGIN);

    sockets[0]!.serverClose(1000, { reason: 'kicked' });

    expect(names()).toEqual(['admitted', 'ended']);
    expect(events[1]!.payload).toEqual({ reason: 'kicked', device: null });
    expect(sockets[1]!.closedByClient).toBe(4000);
    expect(stream.closed).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('heartbeats at once and renews an overdue renewal when a hidden tab is shown again', () => {
    // Prepare: a page whose timers did not run while hidden (the fake clock moves without running them)
    const listeners = new Set<() => void>();
    const page = {
      visibilityState: 'hidden',
      addEventListener: (_: string, l: () => void) => listeners.add(l),
      removeEventListener: (_: string, l: () => void) => listeners.delete(l),
    };
    Object.assign(globalThis, { document: page });
    try {
      const { stream } = renewingStream();
      admit(sockets[0]!, 'c1');
      const sent = sockets[0]!.sent.length;
      for (const id of [...Array(1000).keys()]) clock.clearTimeout(id);
      clock.advance(MAX - MARGIN + 500);

      // Act
      page.visibilityState = 'visible';
      for (const l of listeners) l();

      // Assess
      expect(sockets[0]!.sent.length).toBe(sent + 1);
      expect(sockets.length).toBe(2);
      stream.close();
      expect(listeners.size).toBe(0);
    } finally {
      Reflect.deleteProperty(globalThis, 'document');
    }
  });

  it('refuses a renewal margin that leaves no time to play', () => {
    expect(() => renewingStream({ maxDurationMs: 1_000, renewMarginMs: 1_000 })).toThrow(RangeError);
  });
});
