/**
 * The in-memory store's state and its round trips: what `store.ts` and `count-guard.ts` share. Each call awaits
 * `latency` on its way to the store and back, around one atomic step, as one DynamoDB request does.
 */
import type { LimitPolicy } from '../../policy.js';
import {
  type AuditRecord,
  type CloseReason,
  type ConnectionRecord,
  type CounterRecord,
  closed,
  type NewConnection,
} from '../items.js';

/** Awaited around every round trip: `phase` says whether the request is on its way to the store or back. */
export type StoreLatency = (call: string, phase: 'request' | 'response') => Promise<void>;

interface Counter {
  active: number;
  limitOverride?: number;
  policyOverride?: LimitPolicy;
  members: Map<string, { connectedAt: number; openBy?: number }>;
  streams: Map<string, string>;
}

export class MemoryState {
  readonly counters = new Map<string, Counter>();
  readonly connections = new Map<string, ConnectionRecord>();
  readonly audits = new Map<string, AuditRecord[]>();
  cursor: number | undefined;
  /** how many round trips each kind of call made */
  readonly calls = new Map<string, number>();

  constructor(private readonly latency: StoreLatency) {}

  /** One round trip: the way there, the atomic step, the way back. */
  async call<T>(name: string, step: () => T): Promise<T> {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    await this.latency(name, 'request');
    const result = step();
    await this.latency(name, 'response');
    return result;
  }

  /** The user's counter as a write sees it; `commit` stores it (a write whose condition failed writes nothing). */
  counter(userId: string): Counter & { commit(): void } {
    const c = this.counters.get(userId) ?? { active: 0, members: new Map(), streams: new Map() };
    return Object.assign(c, { commit: () => void this.counters.set(userId, c) });
  }

  /**
   * DynamoDB's idempotency tokens: the very same write sent again (the SDK's own retry, same token) is a replay of its
   * success, not a second write.
   */
  readonly replays = new Map<string, { kind: string }>();

  snapshot(userId: string): CounterRecord {
    const c = this.counters.get(userId);
    const counted = new Map<string, number>();
    const openBy = new Map<string, number>();
    for (const [id, m] of c?.members ?? []) {
      counted.set(id, m.connectedAt);
      if (m.openBy !== undefined) openBy.set(id, m.openBy);
    }
    return {
      userId,
      active: c?.active ?? 0,
      limitOverride: c?.limitOverride,
      policyOverride: c?.policyOverride,
      counted,
      openBy,
      streams: new Map(c?.streams ?? []),
    };
  }

  item(connectionId: string): ConnectionRecord | undefined {
    const c = this.connections.get(connectionId);
    return c ? { ...c } : undefined;
  }

  put(conn: NewConnection) {
    this.connections.set(conn.connectionId, { ...conn, lastSeenAt: conn.connectedAt, state: 'open' });
  }

  /** Whether the item may be closed: it is open (or, with `allowMissing`, absent), as the close's condition says. */
  closeable(connectionId: string, allowMissing: boolean): boolean {
    const c = this.connections.get(connectionId);
    return c ? c.state === 'open' : allowMissing;
  }

  close(connectionId: string, reason: CloseReason, at: number) {
    const c = this.connections.get(connectionId);
    if (c) this.connections.set(connectionId, closed(c, reason, at));
  }

  /**
   * A close allowed on a missing item, as DynamoDB's UpdateItem does it: on a missing one it writes a tombstone of only
   * what the close sets.
   */
  closeOrTombstone(connectionId: string, reason: CloseReason, at: number) {
    if (this.connections.has(connectionId)) return this.close(connectionId, reason, at);
    const tombstone = { connectionId, state: 'closed', closedAt: at, closeReason: reason };
    this.connections.set(connectionId, tombstone as unknown as ConnectionRecord);
  }

  memberOf(conn: NewConnection) {
    return { connectedAt: conn.connectedAt, openBy: conn.openBy };
  }
}
