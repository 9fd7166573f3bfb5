/**
 * The SDK's public types: what a player passes to `openStream`, the events it hears, and the frames and player API
 * answers of the service (docs/player-protocol.md, docs/player-api.md). Kept free of DOM and Node types, so the same
 * module type-checks in a page, in Node with `ws`, and in tests with a fake socket.
 */

/** Why the server ended a socket: the `reason` of its one `ended` frame. */
export type EndedReason = 'takenOver' | 'kicked' | 'endedByUser' | 'evicted' | 'uncounted' | 'idle' | 'maxDuration';

/** What happens at the limit: the player API's `policy`. */
export type LimitPolicy = 'block-new' | 'evict-oldest';

/** The part of a WebSocket the SDK uses: the browser's and `ws`'s both have it (`on…` handlers, `send`, `close`). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = new (url: string) => SocketLike;

/** Timers and time, injectable so tests drive them (a fake clock) instead of waiting. */
export interface Clock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Who the player is: `userId` in dev mode, a token (the socket's `?token=`, the API's bearer) in jwt mode. */
export type Identity = { userId: string; token?: undefined } | { token: string; userId?: undefined };

/** How the player API is reached: its base URL (`''` or a relative one in a page on the same origin) and identity. */
export type PlayerApiOptions = Identity & {
  playerApi: string;
  /** defaults to the global `fetch` */
  fetch?: FetchLike;
};

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string> },
) => Promise<{ status: number; json(): Promise<unknown> }>;

export interface BackoffOptions {
  /** the first retry waits up to this long (full jitter: anywhere from 0) */
  initialMs?: number;
  /** no wait is longer than this */
  maxMs?: number;
}

export type StreamOptions = PlayerApiOptions & {
  /** the WebSocket API: `ws://HOST:WS_PORT` locally, the deployed `WebSocketUrl` in AWS */
  url: string;
  /** the playback's id, kept across reconnects and renewals; random when omitted */
  streamId?: string;
  /** the label other screens see */
  device?: string;
  /** the WebSocket implementation (Node: `ws`); the global one when omitted */
  WebSocket?: SocketFactory;
  /** API Gateway's cap on a socket's life: 2 hours */
  maxDurationMs?: number;
  /** renew this long before the cap: 60 s */
  renewMarginMs?: number;
  backoff?: BackoffOptions;
  /** for tests: time and timers, and the jitter's random numbers in [0, 1) */
  clock?: Clock;
  random?: () => number;
};

/** One of the user's streams, as the player API lists it. */
export interface OwnStream {
  streamId: string | null;
  device: string | null;
  connectedAt: string;
  lastSeenAt: string;
}

/** `GET /me/streams`. */
export interface OwnStreams {
  userId: string;
  limit: number;
  active: number;
  policy: LimitPolicy;
  streams: OwnStream[];
}

/** A holder of a slot, as a refusal names it. */
export interface Holder {
  device: string | null;
  streamId: string | null;
  /** when it connected (ISO 8601) */
  since: string;
}

/**
 * Why the stream could not open. `status` is the handshake's (429, 401, 400; a browser cannot read it, so it is
 * inferred from the player API there); at the limit, the rest says who holds the slots.
 */
export interface Refusal {
  status: number;
  code: string;
  message: string;
  limit?: number;
  active?: number;
  policy?: LimitPolicy;
  streams?: Holder[];
}

export interface Ended {
  reason: EndedReason;
  /** the device that took the slot (`takenOver`, `evicted`), else null */
  device: string | null;
}

export interface StreamEvents {
  /** the socket is open and counted (its first heartbeat was answered); also after each reconnect */
  admitted: { connectionId: string; streamId: string; reconnected: boolean };
  refused: Refusal;
  /**
   * the server ended the stream for good (kicked, evicted, ended by the user, taken over by another player): nothing
   * reconnects. `idle`, `maxDuration` and `uncounted` are not final: they come as `reconnecting`
   */
  ended: Ended;
  /** the socket closed without a final reason (`cause`): the next try is in `delayMs` */
  reconnecting: { attempt: number; delayMs: number; cause: string };
  /** a replacement socket took over before API Gateway's cap: same stream, same slot */
  renewed: { connectionId: string; previousConnectionId: string | undefined };
  error: { code: string; message: string };
  /**
   * every frame the server sent on the stream's socket, parsed (for a log of what the server said; the events above
   * are what a player acts on). The `ended` frame of a socket the SDK's own renewal took over is not among them.
   */
  frame: Record<string, unknown>;
}

export type StreamEventName = keyof StreamEvents;

export interface Stream {
  readonly streamId: string;
  /** the current socket's id, once the server has said it (the first heartbeat's answer) */
  readonly connectionId: string | undefined;
  on<E extends StreamEventName>(event: E, handler: (payload: StreamEvents[E]) => void): Stream;
  off<E extends StreamEventName>(event: E, handler: (payload: StreamEvents[E]) => void): Stream;
  /** sends a heartbeat now (the SDK sends them on its own; this is for a tab coming back into view) */
  heartbeat(): void;
  /** ends the stream on purpose: the socket closes, every timer stops, nothing reconnects */
  close(): void;
  readonly closed: boolean;
}
