/**
 * Fakes for the player SDK's unit tests: a clock whose timers run only when the test moves time, a socket the test
 * opens, answers and closes as the server would, and a player API answering from a fixed view. No I/O.
 */
import type { Clock, FetchLike, SocketLike } from '../../client/types.js';

export class FakeClock implements Clock {
  private at = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { due: number; run: () => void }>();

  now(): number {
    return this.at;
  }

  setTimeout(run: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { due: this.at + Math.max(0, ms), run });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers still waiting: none after a stream is closed. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running each timer that falls due on the way, in order. */
  advance(ms: number): void {
    const end = this.at + ms;
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.due <= end).sort((a, b) => a[1].due - b[1].due || a[0] - b[0]);
      const first = due[0];
      if (!first) break;
      this.timers.delete(first[0]);
      this.at = first[1].due;
      first[1].run();
    }
    this.at = end;
  }
}

/** Every socket the SDK opened, in order. */
export const sockets: FakeSocket[] = [];

export class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  readonly sent: string[] = [];
  closedByClient?: number;

  /** how many of the next sockets fail to construct (a browser's SyntaxError, a `ws` that cannot start) */
  static failNext = 0;

  constructor(readonly url: string) {
    if (FakeSocket.failNext > 0) {
      FakeSocket.failNext -= 1;
      throw new Error('cannot open a socket');
    }
    sockets.push(this);
  }

  get params(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(code = 1000): void {
    if (this.readyState === 3) return;
    this.closedByClient = code;
    this.readyState = 3;
    this.onclose?.({ code });
  }

  // --- what the server does ---

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** Answers the heartbeat as the service does, with a lease of `leaseMs` from `now`. */
  answerHeartbeat(connectionId: string, now: number, leaseMs = 300_000): void {
    const leaseExpiresAt = new Date(now + leaseMs).toISOString();
    this.receive({ type: 'heartbeat', connectionId, leaseExpiresAt });
  }

  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The server closes it: with an `ended` frame first when it decided to. */
  serverClose(code = 1000, ended?: { reason: string; device?: string | null }): void {
    if (ended) this.receive({ type: 'ended', reason: ended.reason, device: ended.device ?? null });
    this.readyState = 3;
    this.onclose?.({ code });
  }

  /** The handshake is refused: `error` then a `1006` close; `message` is what `ws` says (a browser says nothing). */
  refuse(message?: string): void {
    this.onerror?.(message ? { message } : {});
    this.readyState = 3;
    this.onclose?.({ code: 1006 });
  }
}

/** A player API that answers `GET /me/streams` with `view` (or a status), and records what it was asked. */
export function fakePlayerApi(answer: { status: number; body?: unknown }): FetchLike & {
  calls: string[];
  headers: Record<string, string>[];
} {
  const calls: string[] = [];
  const headers: Record<string, string>[] = [];
  const f = async (url: string, init: { method: string; headers: Record<string, string> }) => {
    calls.push(`${init.method} ${url}`);
    headers.push(init.headers);
    return { status: answer.status, json: async () => answer.body };
  };
  return Object.assign(f, { calls, headers });
}

/** Lets the SDK's awaited player API answer land. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
