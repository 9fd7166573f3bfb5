/**
 * A player's streams: each slot keeps trying to hold one stream, holds it with heartbeats until churn, a drop, the
 * server or the viewer ends it, and reconnects in place (a takeover) when churn says so.
 */
import WebSocket from 'ws';
import { sleep } from '../../core/retry.js';
import type { Player } from './crowd.js';
import { exponentialMs, handshake, jitter, noteSettled, type Outcome, type Run } from './run.js';

/** What one stream of a player is: its id, and (open model) when the viewer stops watching. */
export interface Stream {
  player: Player;
  id: string;
  /** ms since the start; the stream is closed then and its slot ends */
  endsAt?: number;
}

/** How a held socket's time ended: closed (the slot decides what next), or replaced by a socket for the same stream. */
type Held = { kind: 'closed' } | { kind: 'replaced'; socket: WebSocket };

/** Registers an admitted socket as holding its stream. */
function admit(run: Run, stream: Stream, socket: WebSocket) {
  run.sockets.live.add(socket);
  run.crowd.gained(stream.player, stream.id);
  run.tally.admittedNow();
  if (run.options.reuseStreams && stream.player.seen.has(stream.id)) run.tally.reconnects++;
  stream.player.seen.add(stream.id);
  noteSettled(run);
}

/**
 * Holds an admitted socket until churn, a drop, the server, the viewer (open model) or the end of the run closes it,
 * or an in-place reconnect replaces it.
 */
function holdOne(run: Run, stream: Stream, socket: WebSocket): Promise<Held> {
  return new Promise((resolve) => {
    let replacing: Promise<Outcome> | undefined;
    let done = false;
    const finish = (held: Held) => {
      if (done) return;
      done = true;
      clearInterval(beat);
      clearTimeout(lifetime);
      clearTimeout(ending);
      resolve(held);
    };
    const beat = heartbeat(run, socket);
    const lifetime = churn(run, socket, async () => {
      // A player that lost faith in its socket opens a new one for the same stream; the server closes the old one.
      run.tally.takeoverStarted();
      replacing = handshake(run, stream.player, stream.id);
      const outcome = await replacing;
      replacing = undefined;
      if (outcome.kind === 'refused') run.tally.takeoverRefused(outcome.status);
      if (outcome.kind !== 'open') {
        if (socket.readyState === WebSocket.CLOSED) finish({ kind: 'closed' });
        return;
      }
      run.tally.takeovers.admitted++;
      if (run.phases.stopping) {
        outcome.socket.terminate();
        return;
      }
      admit(run, stream, outcome.socket);
      // streamgate closes the replaced socket before the new one's `$connect` answers, so usually it is gone already.
      if (socket.readyState === WebSocket.CLOSED) run.tally.takeovers.closedBeforeOpen++;
      else if (!done) run.sockets.replaced.set(socket, run.elapsed());
      finish({ kind: 'replaced', socket: outcome.socket });
    });
    const ending =
      stream.endsAt === undefined
        ? undefined
        : setTimeout(() => run.sockets.close(socket), Math.max(0, stream.endsAt - run.elapsed()));
    socket.once('close', () => {
      const replacedAt = run.sockets.replaced.get(socket);
      run.crowd.lost(stream.player, stream.id);
      const byServer = run.sockets.forget(socket);
      if (byServer) run.tally.closedByServer++;
      if (replacedAt !== undefined && byServer) run.tally.replacedClosed(run.elapsed() - replacedAt);
      if (done) return;
      clearInterval(beat);
      // The server closes the old socket as it admits the new one: wait for the in-place reconnect's answer.
      if (replacing) return;
      finish({ kind: 'closed' });
    });
  });
}

/** `{"type":"heartbeat",...}`, the service's answer to `{"action":"heartbeat"}`. */
export function isHeartbeatAnswer(text: string): boolean {
  try {
    return (JSON.parse(text) as { type?: unknown } | null)?.type === 'heartbeat';
  } catch {
    return false;
  }
}

function heartbeat(run: Run, socket: WebSocket): NodeJS.Timeout {
  // Only a heartbeat's answer counts as one: the same socket also gets `ended` frames and throttled answers.
  socket.on('message', (data) => {
    if (isHeartbeatAnswer(String(data))) run.tally.heartbeats.answered++;
  });
  socket.on('error', () => {});
  return setInterval(
    () => {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send('{"action":"heartbeat"}');
      run.tally.heartbeats.sent++;
    },
    jitter(run.options.heartbeatS * 1000),
  );
}

/** Closes, drops and in-place reconnects arrive as a Poisson process per stream, while the run lasts. */
function churn(run: Run, socket: WebSocket, reconnectInPlace: () => Promise<void>): NodeJS.Timeout | undefined {
  const { churn: close, drop, takeover } = run.options;
  const rate = close + drop + takeover;
  if (rate <= 0 || run.phases.phase !== 'run') return undefined;
  return setTimeout(() => {
    if (run.phases.phase !== 'run' || socket.readyState !== WebSocket.OPEN) return;
    const pick = Math.random() * rate;
    if (pick < takeover) void reconnectInPlace();
    else run.sockets.close(socket, pick < takeover + drop);
  }, exponentialMs(rate));
}

/** Holds a stream across in-place reconnects, until its socket closes without a successor. */
async function hold(run: Run, stream: Stream, socket: WebSocket) {
  let current = socket;
  admit(run, stream, current);
  for (;;) {
    const held = await holdOne(run, stream, current);
    if (held.kind === 'closed') return;
    current = held.socket;
  }
}

const over = (run: Run, stream: Stream) =>
  run.phases.stopping || (stream.endsAt !== undefined && run.elapsed() >= stream.endsAt);

/**
 * One stream a player tries to hold, reconnecting (with the same stream id unless `--no-reuse-streams`) after every
 * close, until the run stops or (open model) the viewer stops watching. Past its share, a slot only keeps trying to
 * catch slots churn frees up. `giveUp`: an open-model viewer refused at the start does not try again.
 */
export async function slot(run: Run, stream: Stream, giveUp = false) {
  let admittedOnce = false;
  let tried = false;
  // Every stream tries at least once, even one whose viewer would already have left (a late timer on a busy machine).
  while (!run.phases.stopping && (!tried || !over(run, stream))) {
    tried = true;
    const outcome = await handshake(run, stream.player, stream.id);
    if (outcome.kind !== 'open') {
      if (giveUp && !admittedOnce) return;
      await sleep(jitter(run.options.retryS * 1000));
      continue;
    }
    if (run.phases.stopping) {
      outcome.socket.terminate();
      return;
    }
    admittedOnce = true;
    await hold(run, stream, outcome.socket);
    noteSettled(run);
  }
}
