/** The records the core works with, and how they are read from table items (plain values, never raw attributes). */
import { isLimitPolicy, type LimitPolicy } from '../policy.js';
import { counterAttributes } from './schema.js';

/** A table item as the document client returns it: plain JavaScript values. */
export type Item = Record<string, unknown>;

export type CloseReason =
  | 'disconnected'
  | 'kicked'
  | 'takenOver'
  | 'reclaimed'
  | 'swept'
  | 'endedByUser'
  | 'evicted'
  /** its own `$connect` answered too late for the socket to open in time, and refused the handshake */
  | 'withdrawn';

export interface ConnectionRecord {
  connectionId: string;
  userId: string;
  streamId?: string;
  device?: string;
  sourceIp?: string;
  userAgent?: string;
  /** the stream limit of the user's plan, from their token (jwt mode); a staff override still beats it */
  planLimit?: number;
  connectedAt: number;
  lastSeenAt: number;
  leaseExpiresAt: number;
  state: 'open' | 'closed';
  closedAt?: number;
  closeReason?: CloseReason;
  /**
   * by when its socket is open or never will be (ms; lifecycle.ts): its admitting write's send time plus the opening
   * window. Absent only on items written by an older version
   */
  openBy?: number;
  /** older versions: when `$connect` passed its last check, just before the handshake completed */
  handshakeAt?: number;
  /** its player reconnects by itself (`resume=1` on connect): a socket it did not end keeps its slot a while */
  resume?: boolean;
  /**
   * set by `$disconnect` on a `resume` connection the server did not end: its socket is gone, and its slot is kept for
   * its stream's reconnect until then (ms; lifecycle.ts, held)
   */
  heldUntil?: number;
}

export interface CounterRecord {
  userId: string;
  active: number;
  limitOverride?: number;
  /** the staff-set policy at the limit, when it differs from the service's */
  policyOverride?: LimitPolicy;
  /** connectionId -> connectedAt, every connection the counter counts */
  counted: Map<string, number>;
  /** connectionId -> its `openBy` (lifecycle.ts), for members written by this version */
  openBy: Map<string, number>;
  /** streamId -> connectionId */
  streams: Map<string, string>;
}

export type NewConnection = Omit<
  ConnectionRecord,
  'state' | 'closedAt' | 'closeReason' | 'lastSeenAt' | 'handshakeAt' | 'heldUntil'
>;

/**
 * The limit in force for a user: the staff-set override when there is one, else `fallback`: the plan's limit from
 * the token when it carries one (see `planOrDefault`), else the service's default.
 */
export function effectiveLimit(counter: Pick<CounterRecord, 'limitOverride'>, fallback: number): number {
  return counter.limitOverride ?? fallback;
}

/** The limit a user has without a staff override: their plan's (token claim) when known, else the default. */
export function planOrDefault(connection: Pick<ConnectionRecord, 'planLimit'> | undefined, defaultLimit: number) {
  return connection?.planLimit ?? defaultLimit;
}

export function toConnection(item: Item = {}): ConnectionRecord {
  return {
    connectionId: String(item.connectionId),
    userId: String(item.userId),
    streamId: item.streamId as string | undefined,
    device: item.device as string | undefined,
    sourceIp: item.sourceIp as string | undefined,
    userAgent: item.userAgent as string | undefined,
    planLimit: item.planLimit === undefined ? undefined : Number(item.planLimit),
    connectedAt: Number(item.connectedAt),
    lastSeenAt: Number(item.lastSeenAt ?? item.connectedAt),
    leaseExpiresAt: Number(item.leaseExpiresAt),
    state: item.state === 'closed' ? 'closed' : 'open',
    closedAt: item.closedAt === undefined ? undefined : Number(item.closedAt),
    closeReason: item.closeReason as CloseReason | undefined,
    openBy: item.openBy === undefined ? undefined : Number(item.openBy),
    handshakeAt: item.handshakeAt === undefined ? undefined : Number(item.handshakeAt),
    ...(item.resume === true ? { resume: true } : {}),
    ...(item.heldUntil === undefined ? {} : { heldUntil: Number(item.heldUntil) }),
  };
}

/** A counter read from its item; a user never seen before has no item and counts nothing. */
export function toCounter(userId: string, item: Item = {}): CounterRecord {
  const { countedPrefix, streamPrefix } = counterAttributes;
  const counted = new Map<string, number>();
  const openBy = new Map<string, number>();
  const streams = new Map<string, string>();
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith(countedPrefix)) {
      const id = name.slice(countedPrefix.length);
      // A member is [connectedAt, openBy]; older versions wrote connectedAt alone.
      const [connectedAt, opensBy] = Array.isArray(value) ? value : [value];
      counted.set(id, Number(connectedAt));
      if (opensBy !== undefined) openBy.set(id, Number(opensBy));
    } else if (name.startsWith(streamPrefix)) streams.set(name.slice(streamPrefix.length), String(value));
  }
  return {
    userId,
    active: Number(item.active ?? 0),
    limitOverride: item.limitOverride === undefined ? undefined : Number(item.limitOverride),
    policyOverride: isLimitPolicy(item.policyOverride) ? item.policyOverride : undefined,
    counted,
    openBy,
    streams,
  };
}

export function closed(c: ConnectionRecord, reason: CloseReason, at: number): ConnectionRecord {
  return { ...c, state: 'closed', closedAt: at, closeReason: reason };
}

/** What support staff did to a user; `detail` says to what (a connection, a limit), in plain values. */
export type AuditAction = 'endConnection' | 'setLimit' | 'clearLimit' | 'setPolicy';

export interface AuditRecord {
  userId: string;
  /** when, ms */
  at: number;
  /** who: the staff identity the support API authorized */
  staff: string;
  action: AuditAction;
  detail: Record<string, string | number | null>;
}

export function toAudit(item: Item): AuditRecord {
  const detail = item.detail && typeof item.detail === 'object' ? (item.detail as AuditRecord['detail']) : {};
  return {
    userId: String(item.userId),
    at: Number(item.at),
    staff: String(item.staff),
    action: String(item.action) as AuditAction,
    detail: { ...detail },
  };
}
