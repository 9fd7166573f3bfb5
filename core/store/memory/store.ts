/**
 * The store in memory, with the same conditions as the DynamoDB one (`dynamodb/`): what the core's unit and model
 * tests run on, where DynamoDB Local would be too slow for thousands of interleavings. Each operation makes the same
 * round trips as its DynamoDB counterpart (a release is two writes, reclaim's release of ghosts a counter write then
 * one write per item), and `latency` is awaited before and after each one's atomic step, so a test decides how the
 * writes of concurrent callers interleave. The contract tests (test/support/store-contract/) hold both to the same
 * outcomes.
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
import {
  type AdmitOptions,
  type AdmitOutcome,
  type AgeWindow,
  type CountedConnections,
  type EvictOptions,
  type EvictOutcome,
  type Health,
  type ReleaseOutcome,
  type StreamStore,
  sortCounted,
  type TakeOverOptions,
  type TakeOverOutcome,
} from '../port.js';

import { admit, evict, takeOver } from './count-guard.js';
import { MemoryState, type StoreLatency } from './state.js';

export type { StoreLatency } from './state.js';

export class MemoryStreamStore implements StreamStore {
  private readonly state: MemoryState;

  constructor(latency: StoreLatency = async () => {}) {
    this.state = new MemoryState(latency);
  }

  /** how many round trips each kind of call made (the call budget of the model tests) */
  get calls(): ReadonlyMap<string, number> {
    return this.state.calls;
  }

  admit(conn: NewConnection, options: AdmitOptions): Promise<AdmitOutcome> {
    return admit(this.state, conn, options);
  }

  takeOver(conn: NewConnection & { streamId: string }, options: TakeOverOptions): Promise<TakeOverOutcome> {
    return takeOver(this.state, conn, options);
  }

  evict(conn: NewConnection, options: EvictOptions): Promise<EvictOutcome> {
    return evict(this.state, conn, options);
  }

  async closeItem(
    connectionId: string,
    reason: CloseReason,
    at: number,
    known?: ConnectionRecord,
  ): Promise<ReleaseOutcome> {
    const connection = known ?? (await this.getConnection(connectionId));
    if (!connection) return { kind: 'unknown' };
    if (connection.state === 'closed') return { kind: 'alreadyReleased', connection };
    return this.state.call('closeItem', () => {
      if (!this.state.closeable(connectionId, false)) return { kind: 'alreadyReleased', connection };
      this.state.close(connectionId, reason, at);
      return { kind: 'released', connection: closed(connection, reason, at) };
    });
  }

  /** As the DynamoDB store: with the claim if it is still its own (one write), else the member alone (a second). */
  async uncount(
    connection: Pick<ConnectionRecord, 'userId' | 'connectionId' | 'streamId'>,
  ): Promise<CounterRecord | undefined> {
    const { userId, connectionId, streamId } = connection;
    const step = (withClaim: boolean) => () => {
      const c = this.state.counters.get(userId);
      if (!c?.members.has(connectionId)) return undefined;
      if (withClaim && c.streams.get(streamId!) !== connectionId) return undefined;
      c.active--;
      c.members.delete(connectionId);
      if (withClaim) c.streams.delete(streamId!);
      return this.state.snapshot(userId);
    };
    if (streamId !== undefined) {
      const withClaim = await this.state.call('uncount', step(true));
      if (withClaim) return withClaim;
    }
    return this.state.call('uncount', step(false));
  }

  async release(
    connectionId: string,
    reason: CloseReason,
    at: number,
    known?: ConnectionRecord,
  ): Promise<ReleaseOutcome> {
    const closing = await this.closeItem(connectionId, reason, at, known);
    if (closing.kind === 'unknown') return closing;
    await this.uncount(closing.connection);
    return closing;
  }

  hold(connectionId: string, heldUntil: number): Promise<boolean> {
    return this.state.call('hold', () => {
      const c = this.state.connections.get(connectionId);
      if (c?.state !== 'open' || c.heldUntil !== undefined) return false;
      this.state.connections.set(connectionId, { ...c, heldUntil });
      return true;
    });
  }

  async releaseGhosts(counter: CounterRecord, connectionIds: string[], at: number): Promise<boolean> {
    const uncounted = await this.state.call('releaseGhosts', () => {
      const c = this.state.counters.get(counter.userId);
      if (!c || !connectionIds.every((id) => c.members.has(id))) return false;
      c.active -= connectionIds.length;
      for (const id of connectionIds) c.members.delete(id);
      // The claims the caller saw, as the DynamoDB store removes them.
      for (const [streamId, holder] of counter.streams) if (connectionIds.includes(holder)) c.streams.delete(streamId);
      return true;
    });
    if (!uncounted) return false;
    await Promise.all(
      connectionIds.map((id) =>
        this.state.call('closeItem', () => {
          if (this.state.closeable(id, false)) this.state.close(id, 'reclaimed', at);
        }),
      ),
    );
    return true;
  }

  forgetMissing(counter: CounterRecord, connectionId: string): Promise<boolean> {
    return this.state.call('forgetMissing', () => {
      const item = this.state.connections.get(connectionId);
      const c = this.state.counters.get(counter.userId);
      if ((item && item.state !== 'closed') || !c?.members.has(connectionId)) return false;
      c.active--;
      c.members.delete(connectionId);
      for (const [streamId, holder] of counter.streams) if (holder === connectionId) c.streams.delete(streamId);
      return true;
    });
  }

  repairCount(userId: string, counts: { observed: number; actual: number }): Promise<boolean> {
    return this.state.call('repairCount', () => {
      const c = this.state.counters.get(userId);
      if (!c || c.active !== counts.observed) return false;
      c.active = counts.actual;
      return true;
    });
  }

  getConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
    return this.state.call('getConnection', () => this.state.item(connectionId));
  }

  getCounter(userId: string): Promise<CounterRecord> {
    return this.state.call('getCounter', () => this.state.snapshot(userId));
  }

  countedConnections(counter: CounterRecord): Promise<CountedConnections> {
    return this.state.call('countedConnections', () => {
      const ids = [...counter.counted.keys()];
      const found = new Map<string, ConnectionRecord>();
      for (const id of ids) {
        const c = this.state.item(id);
        if (c) found.set(id, c);
      }
      return sortCounted(ids, found);
    });
  }

  async ping(): Promise<Health> {
    return { ok: true };
  }

  async setLimitOverride(
    userId: string,
    limit: number | undefined,
    options: { audit: AuditRecord },
  ): Promise<CounterRecord> {
    await this.state.call('setOverride', () => {
      const c = this.state.counter(userId);
      c.limitOverride = limit;
      c.commit();
      this.appendAudit(options.audit);
    });
    return { ...(await this.getCounter(userId)), limitOverride: limit };
  }

  async setPolicyOverride(
    userId: string,
    policy: LimitPolicy | undefined,
    options: { audit: AuditRecord },
  ): Promise<CounterRecord> {
    await this.state.call('setOverride', () => {
      const c = this.state.counter(userId);
      c.policyOverride = policy;
      c.commit();
      this.appendAudit(options.audit);
    });
    return { ...(await this.getCounter(userId)), policyOverride: policy };
  }

  recordAudit(entry: AuditRecord): Promise<void> {
    return this.state.call('recordAudit', () => this.appendAudit(entry));
  }

  private appendAudit(entry: AuditRecord) {
    const entries = this.state.audits.get(entry.userId) ?? [];
    entries.push({ ...entry, detail: { ...entry.detail } });
    this.state.audits.set(entry.userId, entries);
  }

  auditTrail(userId: string, { limit }: { limit: number }): Promise<AuditRecord[]> {
    return this.state.call('auditTrail', () =>
      [...(this.state.audits.get(userId) ?? [])]
        .sort((a, b) => b.at - a.at)
        .slice(0, limit)
        .map((e) => ({ ...e, detail: { ...e.detail } })),
    );
  }

  async *connectionsAged(
    window: AgeWindow,
  ): AsyncGenerator<{ connectionId: string; userId: string; connectedAt: number }> {
    if (window.to <= window.from) return;
    const found = await this.state.call('connectionsAged', () =>
      [...this.state.connections.values()]
        .filter((c) => c.state === 'open' && c.connectedAt >= window.from && c.connectedAt < window.to)
        .map(({ connectionId, userId, connectedAt }) => ({ connectionId, userId, connectedAt })),
    );
    yield* found;
  }

  sweptTo(): Promise<number | undefined> {
    return this.state.call('sweptTo', () => this.state.cursor);
  }

  setSweptTo(at: number): Promise<void> {
    return this.state.call('setSweptTo', () => {
      if (this.state.cursor === undefined || this.state.cursor < at) this.state.cursor = at;
    });
  }
}
