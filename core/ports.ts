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
  /** Closes the socket; 'gone' when it was already closed. */
  disconnect(connectionId: string): Promise<'closed' | 'gone'>;
  /** Sends a frame to the socket; 'gone' when it was already closed. Kept for the `ended` frame sent before a close. */
  send(connectionId: string, message: unknown): Promise<'sent' | 'gone'>;
}
