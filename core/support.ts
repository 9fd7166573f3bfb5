/**
 * What support staff can do: see a user's live streams, end one, change a user's limit, read what staff did to a
 * user. Every action is written to the user's history in the table and logged as one audit line.
 */
import { endStream } from './ended.js';
import { ConnectionNotFoundError } from './errors.js';
import { lastSeenTimes } from './last-seen.js';
import { type Clock, type LifecycleTimes, realClock } from './lifecycle.js';
import { DEFAULT_LIMIT_POLICY, effectivePolicy, type LimitPolicy } from './policy.js';
import type { ConnectionGateway, Logger } from './ports.js';
import {
  type AuditAction,
  type AuditRecord,
  type ConnectionRecord,
  type CounterRecord,
  effectiveLimit,
  planOrDefault,
} from './store/items.js';
import type { ReleaseOutcome, StreamStore } from './store/port.js';

export interface SupportDeps extends LifecycleTimes {
  store: StreamStore;
  gateway: ConnectionGateway;
  defaultLimit: number;
  /** the policy at the limit for users without a staff-set one; `block-new` when unset */
  defaultPolicy?: LimitPolicy;
  /** every staff action is written here, whatever the service's log level */
  audit: Logger;
  logger: Logger;
  clock?: Clock;
  /** which looks at a user's streams were audited lately; without it, every look is */
  lookups?: RecentLookups;
}

/**
 * A staff member looking at a user's streams is audited once per this long, not at every refresh: the console reads
 * the listing every 3 seconds, and an audit line each time buried the actions (and filled the terminal). Who looked at
 * whose streams stays on record, to within this window.
 */
export const LOOKUP_AUDIT_WINDOW_MS = 5 * 60_000;

/** The looks audited lately, per staff member and user; bounded (a Lambda container lives for hours). */
export class RecentLookups {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly windowMs = LOOKUP_AUDIT_WINDOW_MS,
    private readonly remembered = 10_000,
  ) {}

  /** Whether this look is news: the first by this staff member at this user, or the first since the window passed. */
  isNew(staff: string, userId: string, now: number): boolean {
    const key = JSON.stringify([staff, userId]);
    const at = this.last.get(key);
    if (at !== undefined && now - at < this.windowMs) return false;
    this.last.delete(key);
    this.last.set(key, now);
    // The oldest first in a Map's order: forget it once there are too many.
    if (this.last.size > this.remembered) this.last.delete(this.last.keys().next().value!);
    return true;
  }
}

export interface ConnectionView {
  connectionId: string;
  streamId: string | null;
  device: string | null;
  connectedAt: string;
  /** API Gateway's `lastActiveAt` of its socket (last-seen.ts) */
  lastSeenAt: string;
  sourceIp: string | null;
}

export interface UserConnectionsView {
  userId: string;
  limit: number;
  /** the staff-set limit, or null when the default (or the plan's) applies */
  limitOverride: number | null;
  /** what happens when the user is at the limit and opens one more stream */
  policy: LimitPolicy;
  /** the staff-set policy, or null when the service's applies */
  policyOverride: LimitPolicy | null;
  active: number;
  connections: ConnectionView[];
  /** present only when the counter disagrees with the connections it counts: `active` minus live items */
  drift?: number;
}

export interface UserPolicyView {
  userId: string;
  /** the policy in force */
  policy: LimitPolicy;
  /** the staff-set policy, or null when the service's applies */
  policyOverride: LimitPolicy | null;
}

export interface UserLimitView {
  userId: string;
  limit: number;
  active: number;
  /** the staff-set limit, or null when the default applies */
  limitOverride: number | null;
}

export interface AuditEntryView {
  at: string;
  staff: string;
  action: AuditAction;
  detail: AuditRecord['detail'];
}

export interface UserAuditView {
  userId: string;
  /** newest first */
  entries: AuditEntryView[];
}

/** How many of a user's latest entries the history shows. */
export const AUDIT_SHOWN = 50;

const iso = (ms: number) => new Date(ms).toISOString();

function viewOf(c: ConnectionRecord, lastSeen: ReadonlyMap<string, number>): ConnectionView {
  return {
    connectionId: c.connectionId,
    streamId: c.streamId ?? null,
    device: c.device ?? null,
    connectedAt: iso(c.connectedAt),
    lastSeenAt: iso(lastSeen.get(c.connectionId) ?? c.lastSeenAt),
    sourceIp: c.sourceIp ?? null,
  };
}

function limitView(deps: Pick<SupportDeps, 'defaultLimit'>, counter: CounterRecord): UserLimitView {
  return {
    userId: counter.userId,
    limit: effectiveLimit(counter, deps.defaultLimit),
    active: counter.active,
    limitOverride: counter.limitOverride ?? null,
  };
}

export async function listUserConnections(
  deps: SupportDeps,
  staff: string,
  userId: string,
): Promise<UserConnectionsView> {
  const counter = await deps.store.getCounter(userId);
  const { open } = await deps.store.countedConnections(counter);
  const now = (deps.clock ?? realClock).now();
  if (!deps.lookups || deps.lookups.isNew(staff, userId, now))
    deps.audit.info('support: list connections', { staff, action: 'listConnections', userId });
  const newestFirst = open.sort((a, b) => b.connectedAt - a.connectedAt);
  const lastSeen = await lastSeenTimes(deps, newestFirst);
  const view: UserConnectionsView = {
    userId,
    // The plan travels with the user's tokens; their newest connection carries the latest word on it.
    limit: effectiveLimit(counter, planOrDefault(newestFirst[0], deps.defaultLimit)),
    active: counter.active,
    limitOverride: counter.limitOverride ?? null,
    policy: effectivePolicy(counter, deps.defaultPolicy ?? DEFAULT_LIMIT_POLICY),
    policyOverride: counter.policyOverride ?? null,
    connections: newestFirst.map((c) => viewOf(c, lastSeen)),
  };
  if (counter.active !== open.length) view.drift = counter.active - open.length;
  return view;
}

/**
 * Ends a stream: tells its socket `kicked`, closes it, then releases its slot (lifecycle.ts, ending); says whether
 * this call ended it (or another ender got there first and tells it instead).
 */
export async function endConnection(
  deps: SupportDeps,
  staff: string,
  connectionId: string,
): Promise<ReleaseOutcome['kind']> {
  const connection = await deps.store.getConnection(connectionId);
  if (connection?.state !== 'open') throw new ConnectionNotFoundError(connectionId);
  const at = (deps.clock ?? realClock).now();
  const { release, socket } = await endStream(deps, connection, { reason: 'kicked', at, times: deps });
  deps.audit.info('support: end connection', {
    staff,
    action: 'endConnection',
    userId: connection.userId,
    connectionId,
    socket,
    release,
  });
  // Ending is already three steps (the item closed, the socket closed, the slot released); the history entry is one
  // more write in the same request. If it fails the stream stays ended: undoing a kick is worse than a missing
  // entry, and the audit line above still records it.
  const detail = { connectionId, streamId: connection.streamId ?? null, device: connection.device ?? null };
  await deps.store
    .recordAudit({ userId: connection.userId, at, staff, action: 'endConnection', detail })
    .catch((error: Error) => deps.audit.error('support: history entry not written', { connectionId, error }));
  return release;
}

export async function setUserLimit(
  deps: SupportDeps,
  staff: string,
  userId: string,
  limit: number,
): Promise<UserLimitView> {
  const audit = { userId, at: (deps.clock ?? realClock).now(), staff, action: 'setLimit' as const, detail: { limit } };
  const counter = await deps.store.setLimitOverride(userId, limit, { audit });
  deps.audit.info('support: set limit', { staff, action: 'setLimit', userId, limit });
  return limitView(deps, counter);
}

export async function clearUserLimit(deps: SupportDeps, staff: string, userId: string): Promise<UserLimitView> {
  const audit = { userId, at: (deps.clock ?? realClock).now(), staff, action: 'clearLimit' as const, detail: {} };
  const counter = await deps.store.setLimitOverride(userId, undefined, { audit });
  deps.audit.info('support: clear limit', { staff, action: 'clearLimit', userId });
  return limitView(deps, counter);
}

/** Sets the user's policy at the limit (over the service's), with its history entry in the same write. */
export async function setUserPolicy(
  deps: SupportDeps,
  staff: string,
  userId: string,
  policy: LimitPolicy | undefined,
): Promise<UserPolicyView> {
  // Setting and clearing are one action in the history: `detail.policy` is the policy set, or null for the default.
  const audit = {
    userId,
    at: (deps.clock ?? realClock).now(),
    staff,
    action: 'setPolicy' as const,
    detail: { policy: policy ?? null },
  };
  const counter = await deps.store.setPolicyOverride(userId, policy, { audit });
  deps.audit.info('support: set policy', { staff, action: 'setPolicy', userId, policy: policy ?? null });
  return {
    userId,
    policy: effectivePolicy(counter, deps.defaultPolicy ?? DEFAULT_LIMIT_POLICY),
    policyOverride: counter.policyOverride ?? null,
  };
}

export async function userAudit(deps: SupportDeps, userId: string): Promise<UserAuditView> {
  const entries = await deps.store.auditTrail(userId, { limit: AUDIT_SHOWN });
  return {
    userId,
    entries: entries.map((e) => ({ at: iso(e.at), staff: e.staff, action: e.action, detail: e.detail })),
  };
}
