/**
 * What every part of the store contract (index.ts) shares: the store under test, a clock per test, fresh ids, and the
 * connections, counters and items the tests write and expect.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { LimitPolicy } from '../../../core/policy.js';
import type {
  AuditRecord,
  CloseReason,
  ConnectionRecord,
  CounterRecord,
  NewConnection,
} from '../../../core/store/items.js';
import type { AdmitOptions, EvictOptions, StreamStore } from '../../../core/store/port.js';

export interface StoreUnderTest {
  /** an empty store */
  store: StreamStore;
  /** Deletes a connection's item and nothing else, as TTL or someone by hand does (a counted id without its item). */
  dropItem(connectionId: string): Promise<void>;
}

export interface ContractOptions {
  /** runs of the property over random sequences of operations */
  propertyRuns: number;
  /** the most operations in one sequence */
  propertySteps?: number;
}

/** What one test of the contract works with: set afresh before each test (index.ts). */
export interface ContractState {
  store: StreamStore;
  dropItem: StoreUnderTest['dropItem'];
  clock: Clock;
  userId: string;
}

export const MAX_CONNECTION_MS = 7_200_000;
export const OPENING_WINDOW_MS = 5_000;
export const LEASE_MS = 300_000;

/** Ids no other test (and no other run of the property) uses. */
export function freshId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/**
 * A clock for one test: each connection connects a second after the one before (distinct `openBy`, so tokens). It
 * starts now, not at a fixed past time: items carry a TTL computed from their times, and DynamoDB Local does delete
 * expired items, in the background, whenever it gets to them.
 */
export function makeClock(start = Date.now()) {
  let now = start;
  return { tick: (ms = 1_000) => (now += ms), now: () => now };
}

export type Clock = ReturnType<typeof makeClock>;

export function newConnection(
  clock: Clock,
  userId: string,
  fields: Partial<Omit<NewConnection, 'userId'>> = {},
): NewConnection & { streamId?: string } {
  const connectedAt = fields.connectedAt ?? clock.tick();
  return {
    connectionId: freshId('c'),
    userId,
    connectedAt,
    openBy: connectedAt + OPENING_WINDOW_MS,
    leaseExpiresAt: connectedAt + LEASE_MS,
    ...fields,
  };
}

/** The same `$connect` delivered again: same connection, written anew (a later send, so a later `openBy`). */
export function redelivered(clock: Clock, conn: NewConnection): NewConnection {
  return { ...conn, openBy: clock.tick() + OPENING_WINDOW_MS };
}

export function admitOptions(defaultLimit: number): AdmitOptions {
  return { defaultLimit, maxConnectionMs: MAX_CONNECTION_MS };
}

export function evictOptions(
  victim: EvictOptions['victim'],
  fields: { defaultLimit: number; defaultPolicy?: LimitPolicy },
): EvictOptions {
  return {
    victim,
    defaultLimit: fields.defaultLimit,
    defaultPolicy: fields.defaultPolicy ?? 'evict-oldest',
    maxConnectionMs: MAX_CONNECTION_MS,
  };
}

/** The item a connection is written as when counted. */
export function openItem(conn: NewConnection): ConnectionRecord {
  return { ...conn, lastSeenAt: conn.connectedAt, state: 'open' };
}

export function closedItem(conn: NewConnection, reason: CloseReason, at: number): ConnectionRecord {
  return { ...openItem(conn), state: 'closed', closedAt: at, closeReason: reason };
}

/** The counter that counts exactly `members` (with their claims), as `getCounter` returns it. */
export function counterOf(
  userId: string,
  members: NewConnection[],
  extra: { active?: number; limitOverride?: number; policyOverride?: LimitPolicy } = {},
): CounterRecord {
  const counter: CounterRecord = {
    userId,
    active: extra.active ?? members.length,
    counted: new Map(members.map((m) => [m.connectionId, m.connectedAt])),
    openBy: new Map(members.flatMap((m) => (m.openBy === undefined ? [] : [[m.connectionId, m.openBy]]))),
    streams: new Map(members.flatMap((m) => (m.streamId ? [[m.streamId, m.connectionId]] : []))),
  };
  if (extra.limitOverride !== undefined) counter.limitOverride = extra.limitOverride;
  if (extra.policyOverride !== undefined) counter.policyOverride = extra.policyOverride;
  return counter;
}

export function audit(userId: string, at: number, fields: Partial<AuditRecord> = {}): AuditRecord {
  return { userId, at, staff: 'staff:alice', action: 'setLimit', detail: { limit: 2 }, ...fields };
}

/** Admits `conn` and fails the test unless it was admitted. */
export async function admittedOn(store: StreamStore, conn: NewConnection, defaultLimit = 10): Promise<NewConnection> {
  expect(await store.admit(conn, admitOptions(defaultLimit))).toEqual({ kind: 'admitted' });
  return conn;
}
