/**
 * The two ways to load. Closed model: every user keeps trying to hold its streams, churning for `--duration`. Open
 * model (`--rate`): new streams arrive at a fixed rate on random users whatever the answers. Both end with the settle
 * phase: every user must hold its share again.
 */
import { sleep } from '../../core/retry.js';
import type { Player } from './crowd.js';
import { exponentialMs, noteSettled, type Run } from './run.js';
import { slot } from './streams.js';

/** Starts `count` slots for every player, spread over `rampS` (with 0: everyone's first, then everyone's second...). */
async function ramp(run: Run, count: number, rampS: number): Promise<Promise<void>[]> {
  const { players } = run.crowd;
  const slots: Promise<void>[] = [];
  const start = (player: Player) => slots.push(slot(run, { player, id: player.nextSlotStream() }));
  if (rampS === 0) {
    // Players do not open all their streams in one instant.
    for (let s = 0; s < count; s++) for (const player of players) start(player);
    return slots;
  }
  await Promise.all(
    players.map(async (player) => {
      await sleep((player.index / players.length) * rampS * 1000);
      for (let s = 0; s < count; s++) start(player);
    }),
  );
  return slots;
}

/**
 * Open model: `rate` new streams per second on random users until the run's end, each watched for an exponential
 * time of mean `--hold` (at most until the run's end). An arrival that finds every handshake slot busy is skipped
 * (counted), not queued: queueing would turn the open model back into a closed one.
 */
async function arrivals(run: Run, rate: number): Promise<Promise<void>[]> {
  const { durationS, holdS } = run.options;
  const endMs = durationS * 1000;
  const sessions: Promise<void>[] = [];
  const { players } = run.crowd;
  let next = 0;
  while (next < endMs) {
    const now = run.elapsed();
    while (next <= now && next < endMs) {
      next += 1000 / rate;
      run.tally.arrivals++;
      if (run.gate.full) {
        run.tally.skipped++;
        continue;
      }
      const player = players[Math.floor(Math.random() * players.length)]!;
      const endsAt = Math.min(endMs, now + exponentialMs(1 / holdS));
      sessions.push(slot(run, { player, id: run.addresses.fresh(player), endsAt }, true));
    }
    await sleep(Math.min(Math.max(next - run.elapsed(), 1), 50));
  }
  return sessions;
}

/** After the run, waits (up to --settle) for every player to hold its share again. */
async function settle(run: Run) {
  run.phases.phase = 'settle';
  noteSettled(run);
  await run.phases.waitSettled(run.options.settleS * 1000);
}

/** Closed model: everyone's slots from the start; churn for `duration` seconds (at least until the ramp is done). */
export async function closedModel(run: Run): Promise<Promise<void>[]> {
  const slots = await ramp(run, run.options.streamsPerUser, run.options.rampS);
  await sleep(Math.max(run.options.durationS * 1000 - run.elapsed(), 0));
  await settle(run);
  return slots;
}

/** Open model: arrivals for `duration` seconds, their streams closed by then; then every user must get its share. */
export async function openModel(run: Run, rate: number): Promise<Promise<void>[]> {
  const sessions = await arrivals(run, rate);
  const { timeoutMs, retryS } = run.options;
  await Promise.race([Promise.all(sessions), sleep(timeoutMs + retryS * 1500 + 1000)]);
  // No churn on the streams that check every user can get its share again.
  run.phases.phase = 'settle';
  const slots = await ramp(run, run.crowd.share, 0);
  await settle(run);
  return [...sessions, ...slots];
}
