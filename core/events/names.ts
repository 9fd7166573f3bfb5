/**
 * What the players' handlers share with the events, kept apart so that importing it pulls in nothing else (no zod,
 * no schemas): `$connect` writes the refusal line, the support API reads a day's signals.
 */

/** The refusal log line's message: what the log subscription filter matches (core/events/refusals.ts). */
export const REFUSAL_LOG_MESSAGE = 'stream refused at limit';

/** The UTC day of a time, `YYYY-MM-DD`: signals and refusal counts are per day. */
export const dayOf = (at: number) => new Date(at).toISOString().slice(0, 10);
