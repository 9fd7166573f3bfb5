/**
 * Admission, reclaim, eviction and ending, one behaviour at a time, in virtual time (test/support/simulation.ts): the
 * core on the in-memory store and a model of API Gateway, with the store calls of each story as slow as it needs.
 * The model test (lifecycle-model.test.ts) covers their interleavings; these say what each one does.
 */
import { describe, expect, it } from 'vitest';
import { admitting, answerBy, chase, openByOf, REGISTRATION_MARGIN_MS } from '../../core/lifecycle.js';
import {
  runAsActor as run,
  type SimSocket,
  QUIET_WINDOW_MS as WINDOW,
  quietWorld as world,
} from '../support/simulation.js';

const endedReasons = (s: SimSocket) => s.frames.map((f) => f.reason);

describe('When a user under the limit connects', () => {
  it('admits with one store write, and the socket opens', async () => {
    // Prepare
    const w = world();

    // Act
    const socket = await run(w, () => w.open('alice', 'movie'));

    // Assess
    expect(socket).toMatchObject({ status: 200, state: 'open' });
    expect(Object.fromEntries(w.store.calls)).toEqual({ admit: 1 });
    expect((await run(w, () => w.store.getCounter('alice'))).active).toBe(1);
  });

  it('refuses (503) and withdraws the connection when the write answers too late for the socket to open in time', async () => {
    // Prepare: the admitting write answers after the window (minus the margin) has passed
    const w = world({ storeDelay: (call, phase) => (call === 'admit' && phase === 'response' ? WINDOW : undefined) });

    // Act
    const socket = await run(w, () => w.open('alice', 'movie'));

    // Assess: never opened, and its slot is free again: the write, then the item read, closed and uncounted
    expect(socket).toMatchObject({ status: 503, state: 'refused' });
    expect(Object.fromEntries(w.store.calls)).toEqual({ admit: 1, getConnection: 1, closeItem: 1, uncount: 1 });
    const item = await run(w, () => w.store.getConnection(socket.connectionId));
    expect(item).toMatchObject({ state: 'closed', closeReason: 'withdrawn' });
    expect((await run(w, () => w.store.getCounter('alice'))).active).toBe(0);
  });

  it('answers in time when the write is slow but inside the window', async () => {
    // Prepare
    const slow = WINDOW - REGISTRATION_MARGIN_MS - 100;
    const w = world({ storeDelay: (call, phase) => (call === 'admit' && phase === 'response' ? slow : undefined) });

    // Act
    const socket = await run(w, () => w.open('alice', 'movie'));

    // Assess
    expect(socket).toMatchObject({ status: 200, state: 'open' });
  });
});

describe('When a player reconnects with the stream id it holds', () => {
  it('takes the stream over: the old socket is told takenOver and closed before the new one opens', async () => {
    // Prepare
    const w = world({ limit: 1 });
    const old = await run(w, () => w.open('alice', 'movie'));

    // Act
    const replacement = await run(w, () => w.open('alice', 'movie'));

    // Assess
    expect(replacement).toMatchObject({ status: 200, state: 'open' });
    expect(old).toMatchObject({ state: 'closed', closedByServer: true });
    expect(endedReasons(old)).toEqual(['takenOver']);
    expect(w.violations).toEqual([]);
  });

  it('closes the old socket once it opens, when the takeover came while it was still in its handshake', async () => {
    // Prepare: the first connect's socket registers late (slow answer), the reconnect arrives meanwhile
    const w = world({ limit: 1 });
    let first: SimSocket | undefined;
    let second: SimSocket | undefined;
    w.at(0, async () => {
      first = await w.open('alice', 'movie');
    });
    w.at(1, async () => {
      second = await w.open('alice', 'movie');
    });

    // Act
    await w.settle();

    // Assess: one open, the other told why
    expect(second).toMatchObject({ status: 200, state: 'open' });
    expect(first?.state).not.toBe('open');
    expect(w.violations).toEqual([]);
  });

  it('waits for a socket a kick is ending, then takes its place without telling it a second time', async () => {
    // Prepare: closing the socket takes API Gateway 2 s; the reconnect arrives in the middle of the kick
    const w = world({ limit: 1, gatewayLatency: 'none' });
    const old = await run(w, () => w.open('alice', 'movie'));
    const slowGateway = w.gateway.disconnect;
    w.gateway.disconnect = async (id) => {
      await w.clock.sleep(2_000);
      return slowGateway(id);
    };
    let replacement: SimSocket | undefined;

    // Act
    w.at(0, () => w.kick(old.connectionId));
    w.at(10, async () => {
      replacement = await w.open('alice', 'movie');
    });
    await w.settle();

    // Assess: the takeover found the stream ending, waited, and was admitted in its place
    expect(endedReasons(old)).toEqual(['kicked']);
    expect(replacement).toMatchObject({ status: 200, state: 'open' });
    expect(w.store.calls.get('takeOver')).toBe(1);
    expect(w.violations).toEqual([]);
  });
});

describe('When a user at the limit connects (block-new)', () => {
  it('keeps a sibling that is still opening and refuses, without writing anything', async () => {
    // Prepare: two of three slots open; the third's socket registers after its answer
    const w = world({ limit: 2 });
    await run(w, () => w.open('alice', 'a'));
    let sibling: SimSocket | undefined;
    let refused: SimSocket | undefined;
    w.at(0, async () => {
      sibling = await w.open('alice', 'b');
    });
    // Act: a third connect while the sibling's socket is not yet known to API Gateway
    w.at(1, async () => {
      refused = await w.open('alice', 'c');
    });
    await w.settle();

    // Assess
    expect(sibling).toMatchObject({ status: 200, state: 'open' });
    expect(refused).toMatchObject({ status: 429 });
    expect(w.store.calls.get('releaseGhosts')).toBeUndefined();
  });

  it('releases a ghost past its window (its $disconnect lost) in one counter write and admits', async () => {
    // Prepare
    const w = world({ limit: 1, dropDisconnect: 1 });
    const ghost = await run(w, () => w.open('alice', 'a'));
    w.close(ghost);
    await run(w, () => w.clock.sleep(WINDOW));

    // Act
    const next = await run(w, () => w.open('alice', 'b'));

    // Assess
    expect(next).toMatchObject({ status: 200, state: 'open' });
    expect(w.store.calls.get('releaseGhosts')).toBe(1);
    expect(await run(w, () => w.store.getConnection(ghost.connectionId))).toMatchObject({ closeReason: 'reclaimed' });
  });

  it('admits a player who closed a young stream and reopened at once, once that stream\u2019s window has passed', async () => {
    // Prepare: the closed stream's $disconnect is lost, and it is younger than its window
    const w = world({ limit: 1, dropDisconnect: 1 });
    const closed = await run(w, () => w.open('alice', 'a'));
    w.close(closed);
    const closedAt = w.clock.now();

    // Act
    const reopened = await run(w, () => w.open('alice', 'b'));

    // Assess: admitted, after waiting out the window (a 410 is final only after it)
    expect(reopened).toMatchObject({ status: 200, state: 'open' });
    expect(w.clock.now() - closedAt).toBeLessThanOrEqual(WINDOW + 1_000);
  });
});

describe('When a user at the limit connects (evict-oldest)', () => {
  it('ends the least recently active stream, naming the new device, before the new one opens', async () => {
    // Prepare
    const w = world({ limit: 2, policy: 'evict-oldest' });
    const oldest = await run(w, () => w.open('alice', 'a'));
    await run(w, () => w.clock.sleep(1_000));
    const active = await run(w, () => w.open('alice', 'b'));

    // Act
    const newest = await run(w, () => w.open('alice', 'c'));

    // Assess
    expect(newest).toMatchObject({ status: 200, state: 'open' });
    expect(oldest.frames).toEqual([{ type: 'ended', reason: 'evicted', device: `d-${newest.connectionId}` }]);
    expect(active.state).toBe('open');
    expect(w.violations).toEqual([]);
  });

  it('waits for a victim a kick is ending instead of evicting a second stream', async () => {
    // Prepare
    const w = world({ limit: 2, policy: 'evict-oldest' });
    const kicked = await run(w, () => w.open('alice', 'a'));
    await run(w, () => w.clock.sleep(1_000));
    const kept = await run(w, () => w.open('alice', 'b'));
    const slowGateway = w.gateway.disconnect;
    w.gateway.disconnect = async (id) => {
      await w.clock.sleep(1_500);
      return slowGateway(id);
    };
    let newest: SimSocket | undefined;

    // Act
    w.at(0, () => w.kick(kicked.connectionId));
    w.at(10, async () => {
      newest = await w.open('alice', 'c');
    });
    await w.settle();

    // Assess
    expect(endedReasons(kicked)).toEqual(['kicked']);
    expect(w.store.calls.get('evict')).toBe(1);
    expect(kept.state).toBe('open');
    expect(newest).toMatchObject({ status: 200, state: 'open' });
    expect(w.violations).toEqual([]);
  });
});

describe('When staff end a stream', () => {
  it('tells the socket once, closes it, and only then frees the slot', async () => {
    // Prepare: the socket's close takes API Gateway a second; another device tries to open meanwhile
    const w = world({ limit: 1 });
    const watching = await run(w, () => w.open('alice', 'a'));
    const slowGateway = w.gateway.disconnect;
    w.gateway.disconnect = async (id) => {
      await w.clock.sleep(1_000);
      return slowGateway(id);
    };
    let other: SimSocket | undefined;
    let otherOpenedAt = 0;

    // Act
    const kickedAt = w.clock.now();
    w.at(0, () => w.kick(watching.connectionId));
    w.at(500, async () => {
      other = await w.open('alice', 'b');
      otherOpenedAt = w.clock.now();
    });
    await w.settle();

    // Assess: the other device got the slot, but only once the kicked socket was closed
    expect(endedReasons(watching)).toEqual(['kicked']);
    expect(other).toMatchObject({ status: 200, state: 'open' });
    expect(otherOpenedAt - kickedAt).toBeGreaterThanOrEqual(1_000);
    expect(w.violations).toEqual([]);
  });

  it('tells the socket once when two enders race (staff and the player)', async () => {
    // Prepare
    const w = world({ limit: 1, storeLatency: 'heavy' });
    const watching = await run(w, () => w.open('alice', 'a'));

    // Act
    w.at(0, () => w.kick(watching.connectionId));
    w.at(0, () => w.endOwn('alice', 'a'));
    await w.settle();

    // Assess
    expect(endedReasons(watching)).toEqual([expect.stringMatching(/kicked|endedByUser/)]);
    expect((await run(w, () => w.store.getCounter('alice'))).active).toBe(0);
  });
});

describe('The answer deadline', () => {
  it('comes a margin before the connection must be known to API Gateway', () => {
    expect(answerBy({ openBy: 10_000 })).toBe(10_000 - REGISTRATION_MARGIN_MS);
  });

  it('starts a connection\u2019s window as its admitting write is sent', () => {
    const times = { openingWindowMs: WINDOW, handshakeGraceMs: 30_000, leaseMs: 300_000 };
    const request = { connectionId: 'c', userId: 'u', connectedAt: 0 };

    expect(admitting(times, request, 100).openBy).toBe(100 + WINDOW);
  });
});

describe('The chase of a socket that may still open', () => {
  it('asks again until an answer comes to a question asked after the window, and no longer', async () => {
    // Prepare: every answer takes 300 ms to come back; the window ends at 1000
    const w = world();
    const asked: number[] = [];
    const ask = async () => {
      asked.push(w.clock.now());
      await w.clock.sleep(300);
      return 'gone' as const;
    };

    // Act
    await run(w, () => chase(w.clock, 1_000, ask, (a) => a !== 'gone'));

    // Assess: the last question was asked after 1000, none after it
    expect(asked.at(-1)).toBeGreaterThan(1_000);
    expect(asked.filter((t) => t > 1_000)).toHaveLength(1);
  });

  it('stops at the first answer that settles it', async () => {
    const w = world();
    let n = 0;

    const result = await run(w, () =>
      chase(
        w.clock,
        10_000,
        async () => ++n,
        (k) => k === 3,
      ),
    );

    expect(result).toBe(3);
    expect(w.clock.now()).toBeLessThan(200);
  });
});

describe('An item written by an older version', () => {
  const times = { openingWindowMs: WINDOW, handshakeGraceMs: 30_000 };

  it('opens by its stamp plus the window, or by its handshake grace plus the window without one', () => {
    expect(openByOf({ connectedAt: 0, handshakeAt: 200 }, times)).toBe(200 + WINDOW);
    expect(openByOf({ connectedAt: 0 }, times)).toBe(30_000 + WINDOW);
    expect(openByOf({ connectedAt: 0, openBy: 42 }, times)).toBe(42);
  });
});
