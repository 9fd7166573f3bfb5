/**
 * The resume hold (core/lifecycle.ts, held), one behaviour at a time, in virtual time (test/support/simulation.ts): a
 * player that opts in with `resume=1` keeps a dropped stream's slot for its reconnect, and only then. The model test
 * (lifecycle-model.test.ts) runs it in its interleavings too.
 */
import { describe, expect, it } from 'vitest';
import { disconnect } from '../../core/admission.js';
import { DELIBERATE_END_CODE } from '../../core/lifecycle.js';
import {
  runAsActor as run,
  QUIET_WINDOW_MS as WINDOW,
  type WorldOptions,
  quietWorld as world,
} from '../support/simulation.js';

describe('When a socket of a player that reconnects by itself (resume=1) closes without anyone ending it', () => {
  const HOLD = 10_000;
  /** Two of two slots taken by a `resume` player; the first one's socket has just dropped (a delete, the network). */
  async function dropped(options: Partial<WorldOptions> = {}) {
    const w = world({ limit: 2, resume: true, resumeHoldMs: HOLD, ...options });
    const a = await run(w, () => w.open('alice', 'a'));
    await run(w, () => w.open('alice', 'b'));
    w.close(a);
    await w.settle();
    return { w, a };
  }

  it('keeps its slot counted, held for the hold, without uncounting it', async () => {
    // Act
    const { w, a } = await dropped();

    // Assess
    const item = await run(w, () => w.store.getConnection(a.connectionId));
    expect(item).toMatchObject({ state: 'open', heldUntil: expect.any(Number) });
    expect(item!.heldUntil! - w.clock.now()).toBeGreaterThan(HOLD - 1_000);
    expect((await run(w, () => w.store.getCounter('alice'))).active).toBe(2);
    expect(w.store.calls.get('uncount')).toBeUndefined();
  });

  it('refuses another stream of the user while the hold lasts, without asking API Gateway about the held one', async () => {
    // Prepare
    const { w } = await dropped();

    // Act
    const other = await run(w, () => w.open('alice', 'c'));

    // Assess
    expect(other).toMatchObject({ status: 429 });
    expect(w.store.calls.get('releaseGhosts')).toBeUndefined();
    expect(w.store.calls.get('forgetMissing')).toBeUndefined();
  });

  it('gives the slot back to the same stream at once, in one takeover, counting it once', async () => {
    // Prepare: dropped young, inside its opening window: its `$disconnect` says it is gone, no wait on the window
    const { w, a } = await dropped({ openingWindowMs: 60_000 });
    const before = w.clock.now();

    // Act
    const back = await run(w, () => w.open('alice', 'a'));

    // Assess
    expect(back).toMatchObject({ status: 200, state: 'open' });
    expect(w.clock.now() - before).toBeLessThan(1_000);
    const counter = await run(w, () => w.store.getCounter('alice'));
    expect(counter.active).toBe(2);
    expect(counter.streams.get('a')).toBe(back.connectionId);
    expect(counter.counted.has(a.connectionId)).toBe(false);
    expect(await run(w, () => w.store.getConnection(a.connectionId))).toMatchObject({ closeReason: 'takenOver' });
    await w.checkSettled(['alice']);
    expect(w.violations).toEqual([]);
  });

  it('lets another stream in once the hold is over: the next refused connect releases it as a ghost', async () => {
    // Prepare
    const { w, a } = await dropped();
    await run(w, () => w.clock.sleep(HOLD + 1));

    // Act
    const other = await run(w, () => w.open('alice', 'c'));

    // Assess
    expect(other).toMatchObject({ status: 200, state: 'open' });
    expect(await run(w, () => w.store.getConnection(a.connectionId))).toMatchObject({ closeReason: 'reclaimed' });
    await w.checkSettled(['alice']);
    expect(w.violations).toEqual([]);
  });

  it('is released by the sweep at a check age past the hold, and kept by one inside it', async () => {
    // Prepare: dropped just before its first check age (the lease, 300 s)
    const w = world({ limit: 2, resume: true, resumeHoldMs: HOLD });
    const a = await run(w, () => w.open('alice', 'a'));
    await run(w, () => w.clock.sleep(300_000 - 2_000));
    w.close(a);
    await w.settle();

    // Act: a sweep inside the hold once it is past that age, then one at the next check age
    await run(w, () => w.clock.sleep(3_000));
    const inside = await run(w, () => w.sweep());
    await run(w, () => w.clock.sleep(300_000));
    const after = await run(w, () => w.sweep());

    // Assess
    expect(inside).toMatchObject({ checked: 1, released: 0 });
    expect(after.released).toBe(1);
    expect(await run(w, () => w.store.getCounter('alice'))).toMatchObject({ active: 0 });
  });

  it('keeps the hold when its $disconnect comes twice', async () => {
    // Prepare
    const { w, a } = await dropped();

    // Act: the same `$disconnect` delivered again
    const again = await run(w, () => disconnect(w.deps, a.connectionId, w.clock.now(), 1000));

    // Assess
    expect(again.kind).toBe('held');
    expect((await run(w, () => w.store.getCounter('alice'))).counted.has(a.connectionId)).toBe(true);
  });

  it('frees the slot at once when its player ends it on purpose (close code 4000)', async () => {
    // Prepare
    const w = world({ limit: 2, resume: true, resumeHoldMs: HOLD });
    const a = await run(w, () => w.open('alice', 'a'));
    await run(w, () => w.open('alice', 'b'));

    // Act
    w.close(a, DELIBERATE_END_CODE);
    await w.settle();
    const other = await run(w, () => w.open('alice', 'c'));

    // Assess
    expect(await run(w, () => w.store.getConnection(a.connectionId))).toMatchObject({ closeReason: 'disconnected' });
    expect(other).toMatchObject({ status: 200, state: 'open' });
  });

  it('frees the slot at once for a player that did not opt in, as before', async () => {
    // Prepare + Act
    const { w, a } = await dropped({ resume: false });
    const other = await run(w, () => w.open('alice', 'c'));

    // Assess
    expect(await run(w, () => w.store.getConnection(a.connectionId))).toMatchObject({ closeReason: 'disconnected' });
    expect(other).toMatchObject({ status: 200, state: 'open' });
  });

  it('is held, not released, by a refused connect that finds it gone before its $disconnect (late or lost)', async () => {
    // Prepare: the first socket drops and its `$disconnect` never comes
    const w = world({ limit: 2, resume: true, resumeHoldMs: HOLD, dropDisconnect: 1 });
    const a = await run(w, () => w.open('alice', 'a'));
    await run(w, () => w.open('alice', 'b'));
    await run(w, () => w.clock.sleep(WINDOW));
    w.close(a);

    // Act: another stream at once, and again once the hold it started is over
    const during = await run(w, () => w.open('alice', 'c'));
    const item = await run(w, () => w.store.getConnection(a.connectionId));
    await run(w, () => w.clock.sleep(HOLD + 1));
    const after = await run(w, () => w.open('alice', 'c'));

    // Assess
    expect(during).toMatchObject({ status: 429 });
    expect(item).toMatchObject({ state: 'open', heldUntil: expect.any(Number) });
    expect(after).toMatchObject({ status: 200, state: 'open' });
    expect(await run(w, () => w.store.getConnection(a.connectionId))).toMatchObject({ closeReason: 'reclaimed' });
  });

  it('holds its admission that answered too late, for its next try, instead of withdrawing it', async () => {
    // Prepare: the first admitting write answers after the window (minus the margin) has passed
    let slow = true;
    const w = world({
      limit: 1,
      resume: true,
      resumeHoldMs: HOLD,
      storeDelay: (call, phase) => {
        if (call !== 'admit' || phase !== 'response' || !slow) return undefined;
        slow = false;
        return WINDOW;
      },
    });
    const late = await run(w, () => w.open('alice', 'a'));

    // Act: another device, then the player's next try
    const other = await run(w, () => w.open('alice', 'b'));
    const again = await run(w, () => w.open('alice', 'a'));

    // Assess
    expect(late).toMatchObject({ status: 503, state: 'refused' });
    expect(other).toMatchObject({ status: 429 });
    expect(again).toMatchObject({ status: 200, state: 'open' });
    expect(await run(w, () => w.store.getConnection(late.connectionId))).toMatchObject({ closeReason: 'takenOver' });
    const counter = await run(w, () => w.store.getCounter('alice'));
    expect({ active: counter.active, counted: [...counter.counted.keys()] }).toEqual({
      active: 1,
      counted: [again.connectionId],
    });
  });

  it('frees the slot at once when staff kick the held stream', async () => {
    // Prepare
    const { w, a } = await dropped();

    // Act
    await run(w, () => w.kick(a.connectionId));
    const other = await run(w, () => w.open('alice', 'c'));

    // Assess
    expect(other).toMatchObject({ status: 200, state: 'open' });
    expect(await run(w, () => w.store.getConnection(a.connectionId))).toMatchObject({ closeReason: 'kicked' });
  });
});
