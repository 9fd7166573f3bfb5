/** Domain errors. Handlers map these to status codes; anything else is an outage (503) or a bug. */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The user already holds as many streams as their limit allows, and none of them is a ghost. */
export class LimitReachedError extends Error {
  override name = 'LimitReachedError';
  constructor(
    readonly userId: string,
    readonly active: number,
    readonly limit: number,
  ) {
    super(`user ${userId} already holds ${active} of ${limit} streams`);
  }
}

/**
 * A newer connection of the same stream arrived while this one was being admitted, and holds the stream: the player
 * reconnected again, so this attempt is the stale one. Refusing it (instead of taking the stream back) is what lets
 * a burst of reconnects of one stream settle on the newest.
 */
export class StreamReplacedError extends Error {
  override name = 'StreamReplacedError';
  constructor(
    readonly userId: string,
    readonly streamId: string,
  ) {
    super(`a newer connection holds stream ${streamId} of user ${userId}`);
  }
}

/**
 * The admitting write answered too late for the socket to open within its window (a slow or throttled store): the
 * handshake is refused (503) rather than open a socket after enders stop looking for it.
 */
export class AdmissionTooLateError extends Error {
  override name = 'AdmissionTooLateError';
  constructor(readonly connectionId: string) {
    super(`the store answered too late for connection ${connectionId} to open in time`);
  }
}

export class ConnectionNotFoundError extends Error {
  override name = 'ConnectionNotFoundError';
  constructor(readonly connectionId: string) {
    super(`connection ${connectionId} is not open`);
  }
}

/** The store kept answering with conflicts or throttling after every retry. */
export class StoreContentionError extends Error {
  override name = 'StoreContentionError';
}
