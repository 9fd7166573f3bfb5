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
