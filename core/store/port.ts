/**
 * The store as the core sees it: every read and conditional write the lifecycle, support and the sweep make, and
 * nothing about how they are made. `dynamodb/` implements it on DynamoDB (what runs locally and in Lambda);
 * `memory.ts` implements the same conditions in memory (the core's unit and model tests). Both pass the same
 * contract tests (test/support/store-contract/).
 */
import type { LimitPolicy } from '../policy.js';
import type { AuditRecord, CloseReason, ConnectionRecord, CounterRecord, NewConnection } from './items.js';

export type AdmitOutcome =
  | { kind: 'admitted' }
  /** this connectionId was already written: a redelivered `$connect` */
  | { kind: 'duplicate'; existing: ConnectionRecord }
  | { kind: 'limitReached'; counter: CounterRecord }
  | { kind: 'streamHeld'; heldBy: string; counter: CounterRecord };

export type TakeOverOutcome =
  | { kind: 'tookOver' }
  | { kind: 'duplicate'; existing: ConnectionRecord }
  /** the stream is no longer held by that connection: start over */
  | { kind: 'changed' }
  /** the holder's item is closed and it is still counted: a teller is ending it (lifecycle.ts); wait for its socket */
  | { kind: 'heldByEnding' };

export type EvictOutcome =
  | { kind: 'evicted' }
  /** this connectionId was already written: a redelivered `$connect` */
  | { kind: 'duplicate'; existing: ConnectionRecord }
  /**
   * the counter is not as it was read (the victim was released or evicted by another connect, room came free, the
   * policy or the limit changed): here it is now, to look again
   */
  | { kind: 'changed'; counter: CounterRecord }
  /** the victim's item is closed and it is still counted: a teller is ending it (lifecycle.ts); wait for its socket */
  | { kind: 'victimEnding' };

export type ReleaseOutcome =
  | { kind: 'released'; connection: ConnectionRecord }
  | { kind: 'alreadyReleased'; connection: ConnectionRecord }
  | { kind: 'unknown' };

export interface AdmitOptions {
  /** the limit when the user has no override: the plan's (token claim) or the service's default */
  defaultLimit: number;
  /** API Gateway's hard limit on a socket's life; sets the item's TTL */
  maxConnectionMs: number;
  /** which try this is for the event; part of the idempotency token so a later try is not the earlier one */
  round?: number;
}

export interface TakeOverOptions {
  /** the connection that holds the stream now */
  heldBy: string;
  maxConnectionMs: number;
}

export interface EvictOptions {
  /** the connection to end, and the stream id it holds on the counter (if any) */
  victim: { connectionId: string; streamId?: string };
  /** the limit when the user has no override: the plan's (token claim) or the service's default */
  defaultLimit: number;
  /** the policy when the user has no override: the eviction happens only if `evict-oldest` is in force */
  defaultPolicy: LimitPolicy;
  maxConnectionMs: number;
}

/** Open connections that connected in `[from, to)`, from the sweep's index. */
export interface AgeWindow {
  from: number;
  to: number;
}

export interface CountedConnections {
  open: ConnectionRecord[];
  ending: ConnectionRecord[];
  missing: string[];
}

/** Sorts a counter's members by what their items say (shared by every store). */
export function sortCounted(ids: string[], items: ReadonlyMap<string, ConnectionRecord>): CountedConnections {
  const sorted: CountedConnections = { open: [], ending: [], missing: [] };
  for (const id of ids) {
    const c = items.get(id);
    if (!c) sorted.missing.push(id);
    else if (c.state === 'open') sorted.open.push(c);
    else sorted.ending.push(c);
  }
  return sorted;
}

export type Health = { ok: true } | { ok: false; reason: string };

/** The user's counter and the connection items: the count guard and everything that ends a stream. */
export interface ConnectionStore {
  /**
   * Counts a new connection and writes its item in one conditional write, if the user is under their limit (the
   * override when set, else `defaultLimit`) and does not already hold `streamId`.
   */
  admit(conn: NewConnection, options: AdmitOptions): Promise<AdmitOutcome>;
  /**
   * Hands `streamId` from `heldBy` to the new connection in one conditional write: the old one's item is closed and
   * the new one counted, with the claim. The old one stays counted (ending, lifecycle.ts) until its socket is closed;
   * then the caller uncounts it.
   */
  takeOver(conn: NewConnection & { streamId: string }, options: TakeOverOptions): Promise<TakeOverOutcome>;
  /**
   * `evict-oldest`: ends `victim` (its item closed, its claim gone) and counts the new connection, in one conditional
   * write, on condition the victim is still counted, the user holds exactly their limit and `evict-oldest` is in
   * force. The victim stays counted (ending) until its socket is closed; then the caller uncounts it.
   */
  evict(conn: NewConnection, options: EvictOptions): Promise<EvictOutcome>;
  /**
   * A teller's first step (lifecycle.ts, ending): closes the item on condition it is open, and leaves it counted.
   * 'released' goes to the one caller whose write succeeded: only that one may tell the socket why it ends.
   * `known`: the connection as the caller just read it.
   */
  closeItem(connectionId: string, reason: CloseReason, at: number, known?: ConnectionRecord): Promise<ReleaseOutcome>;
  /**
   * Stops counting a connection, on condition the counter counts it, with its stream claim if the claim is still its
   * own (a takeover moves it on at once). The counter after the write; undefined if it did not count the connection.
   */
  uncount(
    connection: Pick<ConnectionRecord, 'userId' | 'connectionId' | 'streamId'>,
  ): Promise<CounterRecord | undefined>;
  /**
   * For a connection whose socket is gone: closes its item and stops counting it, exactly once however many callers
   * do the same. 'released' goes to the one whose close of the item succeeded.
   */
  release(connectionId: string, reason: CloseReason, at: number, known?: ConnectionRecord): Promise<ReleaseOutcome>;
  /**
   * `$disconnect` of a `resume` connection nobody ended (lifecycle.ts, held): sets `heldUntil` on its item, on
   * condition the item is open and not held yet, and leaves it counted. False when the condition failed (a teller
   * closed it, or another delivery of the same `$disconnect` held it first).
   */
  hold(connectionId: string, heldUntil: number): Promise<boolean>;
  /**
   * Releases ghosts all in one write of the counter, on condition it still counts every one of them; then closes
   * their items. False when the condition failed (some were released meanwhile).
   */
  releaseGhosts(counter: CounterRecord, connectionIds: string[], at: number): Promise<boolean>;
  /** Forgets a counted connection whose item is missing or closed, with any stream claim still pointing at it. */
  forgetMissing(counter: CounterRecord, connectionId: string): Promise<boolean>;
  /** Makes `active` equal `actual` if the counter still reads `observed`. */
  repairCount(userId: string, counts: { observed: number; actual: number }): Promise<boolean>;
  getConnection(connectionId: string): Promise<ConnectionRecord | undefined>;
  getCounter(userId: string): Promise<CounterRecord>;
  /**
   * Every connection the counter counts, read consistently: `open` items, `ending` ones (closed while still counted:
   * a teller is ending them, or crashed doing so) and `missing` ids (no item: deleted by TTL or by hand).
   */
  countedConnections(counter: CounterRecord): Promise<CountedConnections>;
  /** Whether the store answers at all within `timeoutMs`. */
  ping(timeoutMs: number): Promise<Health>;
}

/** Staff changes to a user and their history. */
export interface AuditStore {
  /** Sets or clears the user's limit override with its audit entry in one write; the counter after the change. */
  setLimitOverride(userId: string, limit: number | undefined, options: { audit: AuditRecord }): Promise<CounterRecord>;
  /** Sets or clears the user's policy override with its audit entry in one write; the counter after the change. */
  setPolicyOverride(
    userId: string,
    policy: LimitPolicy | undefined,
    options: { audit: AuditRecord },
  ): Promise<CounterRecord>;
  /** Writes one entry of a user's history on its own. */
  recordAudit(entry: AuditRecord): Promise<void>;
  /** The user's history, newest first, at most `limit` entries. */
  auditTrail(userId: string, options: { limit: number }): Promise<AuditRecord[]>;
}

/** What the sweep reads: open connections by age, and where it stopped last. */
export interface SweepIndex {
  connectionsAged(window: AgeWindow): AsyncGenerator<{ connectionId: string; userId: string; connectedAt: number }>;
  sweptTo(): Promise<number | undefined>;
  /** Moves the cursor forward to `at`, never back. */
  setSweptTo(at: number): Promise<void>;
}

export interface StreamStore extends ConnectionStore, AuditStore, SweepIndex {}
