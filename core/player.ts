/**
 * What a player may do about its own streams (contract 4b): see which devices hold the slots, since a browser cannot
 * read a refused handshake's 429, and end one of them to make room. Every lookup starts from the caller's own
 * counter, so another user's streams are never reached, whatever id is asked for.
 */
import { endStream } from './ended.js';
import { lastSeenTimes } from './last-seen.js';
import { type Clock, type LifecycleTimes, realClock } from './lifecycle.js';
import { DEFAULT_LIMIT_POLICY, effectivePolicy, type LimitPolicy } from './policy.js';
import type { ConnectionGateway, Logger } from './ports.js';
import { effectiveLimit } from './store/items.js';
import type { ReleaseOutcome, StreamStore } from './store/port.js';

export interface PlayerDeps extends LifecycleTimes {
  store: StreamStore;
  gateway: ConnectionGateway;
  logger: Logger;
  defaultLimit: number;
  /** the policy at the limit for users without a staff-set one; `block-new` when unset */
  defaultPolicy?: LimitPolicy;
  clock?: Clock;
}

export interface OwnStreamView {
  /** the player's own id for the stream, or null when it connected without one */
  streamId: string | null;
  device: string | null;
  connectedAt: string;
  /** API Gateway's `lastActiveAt` of its socket (last-seen.ts) */
  lastSeenAt: string;
}

export interface OwnStreamsView {
  userId: string;
  limit: number;
  active: number;
  policy: LimitPolicy;
  /** newest first */
  streams: OwnStreamView[];
}

export type EndOwnStreamOutcome =
  /** the socket was told and closed, and the stream released (by this call or a `$disconnect` that got there first) */
  | { kind: 'ended'; connectionId: string; release: ReleaseOutcome['kind'] }
  /** the caller holds no open stream by that id: never theirs, someone else's, or already ended */
  | { kind: 'notFound' };

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The caller's open streams and the limit in force (drift is staff business). `planLimit`: the plan limit the caller's
 * token carries, which is what their next connect is held to; without one, the service's default. The staff override
 * beats either.
 */
export async function listOwnStreams(deps: PlayerDeps, userId: string, planLimit?: number): Promise<OwnStreamsView> {
  const counter = await deps.store.getCounter(userId);
  const { open } = await deps.store.countedConnections(counter);
  const newestFirst = open.filter((c) => c.userId === userId).sort((a, b) => b.connectedAt - a.connectedAt);
  const lastSeen = await lastSeenTimes(deps, newestFirst);
  return {
    userId,
    // The caller's own token says their plan, whether or not a stream is open (a connection only repeats what the
    // token it connected with said, and there may be none).
    limit: effectiveLimit(counter, planLimit ?? deps.defaultLimit),
    active: counter.active,
    policy: effectivePolicy(counter, deps.defaultPolicy ?? DEFAULT_LIMIT_POLICY),
    streams: newestFirst.map((c) => ({
      streamId: c.streamId ?? null,
      device: c.device ?? null,
      connectedAt: iso(c.connectedAt),
      lastSeenAt: iso(lastSeen.get(c.connectionId) ?? c.lastSeenAt),
    })),
  };
}

/**
 * Ends one of the caller's streams, named by its `streamId`: the socket is told (`endedByUser`), closed, and its
 * stream released without waiting for `$disconnect`, so the slot is free when this returns.
 */
export async function endOwnStream(deps: PlayerDeps, userId: string, streamId: string): Promise<EndOwnStreamOutcome> {
  const counter = await deps.store.getCounter(userId);
  const connectionId = counter.streams.get(streamId);
  if (connectionId === undefined) return { kind: 'notFound' };
  const connection = await deps.store.getConnection(connectionId);
  // The claim lives on the caller's own counter, so the item is theirs; checked again because ids are cheap to check
  // and a stale claim (its item closed or expired) must not end anything.
  if (connection?.state !== 'open' || connection.userId !== userId) return { kind: 'notFound' };
  const at = (deps.clock ?? realClock).now();
  const { release, socket } = await endStream(deps, connection, { reason: 'endedByUser', at, times: deps });
  deps.logger.info('stream ended by its user', { userId, streamId, connectionId, socket, release });
  return { kind: 'ended', connectionId, release };
}
