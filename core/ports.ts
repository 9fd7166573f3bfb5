/** What the core needs from the world outside it; handlers pass in the real ones, tests may pass their own. */

/** The slice of a structured logger the core uses (Powertools' Logger fits it). */
export interface Logger {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

/** Whether API Gateway still knows a connection. */
export type Liveness = 'alive' | 'gone';

/** What the core needs from API Gateway's `@connections` API. */
export interface ConnectionGateway {
  /** 'gone' when API Gateway no longer knows the connection (410). */
  probe(connectionId: string): Promise<Liveness>;
  /**
   * When the socket was last active (its `lastActiveAt`: the last message from the player, else its connect), ms;
   * 'gone' when API Gateway no longer knows the connection. What `evict-oldest` ranks streams by.
   */
  lastActive(connectionId: string): Promise<number | 'gone'>;
  /** Closes the socket; 'gone' when it was already closed. */
  disconnect(connectionId: string): Promise<'closed' | 'gone'>;
  /** Sends a frame to the socket; 'gone' when it was already closed. Kept for the `ended` frame sent before a close. */
  send(connectionId: string, message: unknown): Promise<'sent' | 'gone'>;
}

/** Something worth counting that happened inside the core; the handlers turn these into metrics. */
export type CoreEvent =
  /** a counted connection found gone and released while its user was refused at the limit */
  | { kind: 'ghostReclaimed'; userId: string; connectionId: string }
  /** a DynamoDB transaction tried again (`conflict`: another writer on the same item; `throttling`: capacity) */
  | { kind: 'transactionRetried'; cause: 'conflict' | 'throttling' };

/** Where the core reports CoreEvents; it must not throw, and it is told synchronously. */
export type CoreEvents = (event: CoreEvent) => void;
