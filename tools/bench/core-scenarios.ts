/**
 * The burst and the ghost storm run through the core alone: `connect` on the real store, against API Gateway held in
 * memory. That is the store work the design needs, with no sockets, handlers or `@connections` HTTP. Beside the raw
 * rate it shows the design's own ceiling on this DynamoDB Local; beside the run through the local stack, what the
 * stack adds.
 */
import { type AdmissionDeps, connect } from '../../core/admission.js';
import { LimitReachedError } from '../../core/errors.js';
import { DEFAULT_OPENING_WINDOW_MS } from '../../core/lifecycle.js';
import type { ConnectionGateway, Liveness } from '../../core/ports.js';
import type { StreamStore } from '../../core/store/port.js';
import { perSecond, type Timing } from './scenarios.js';

/** API Gateway as the core sees it: the sockets that are open. An admitted connect's socket opens as it answers. */
class SocketsInMemory implements ConnectionGateway {
  readonly open = new Set<string>();
  /** open sockets the core closed: none should be, in a burst or a storm */
  closedOpen = 0;
  async probe(connectionId: string): Promise<Liveness> {
    return this.open.has(connectionId) ? 'alive' : 'gone';
  }
  async lastActive(connectionId: string) {
    return this.open.has(connectionId) ? Date.now() : ('gone' as const);
  }
  async disconnect(connectionId: string) {
    if (!this.open.delete(connectionId)) return 'gone' as const;
    this.closedOpen++;
    return 'closed' as const;
  }
  async send(connectionId: string) {
    return this.open.has(connectionId) ? ('sent' as const) : ('gone' as const);
  }
}

const quiet = { info() {}, warn() {}, error() {} };

function coreDeps(store: StreamStore, gateway: ConnectionGateway): AdmissionDeps {
  // The local stack's defaults (core/config.ts).
  return {
    store,
    gateway,
    defaultLimit: 3,
    leaseMs: 300_000,
    maxConnectionMs: 7_200_000,
    handshakeGraceMs: 30_000,
    openingWindowMs: DEFAULT_OPENING_WINDOW_MS,
    logger: quiet,
  };
}

export interface CoreRun {
  admitted: number;
  refused: number;
  errors: number;
  /** admitted, then closed by a later connect that took them for ghosts (a socket still opening looks like one) */
  closedAfterAdmission: number;
  /** admissions per second over the window from the start to the last admission, as the run through the stack */
  admittedPerSecond: number;
}

/** `users` x `perUser` connects at the same moment; each admitted one opens its socket. */
async function connectAll(
  deps: AdmissionDeps,
  sockets: SocketsInMemory,
  prefix: string,
  { users, perUser }: { users: number; perUser: number },
): Promise<CoreRun & { ids: string[] }> {
  const started = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: users * perUser }, async (_, i) => {
      const connectionId = `${prefix}-c${i}-${Math.random().toString(36).slice(2, 8)}`;
      try {
        await connect(deps, { connectionId, userId: `${prefix}-${i % users}`, connectedAt: Date.now() });
        sockets.open.add(connectionId);
        return { kind: 'admitted' as const, at: performance.now() - started, connectionId };
      } catch (error) {
        return { kind: error instanceof LimitReachedError ? ('refused' as const) : ('error' as const), at: 0 };
      }
    }),
  );
  const admitted = outcomes.filter((o) => o.kind === 'admitted');
  return {
    admitted: admitted.length,
    refused: outcomes.filter((o) => o.kind === 'refused').length,
    errors: outcomes.filter((o) => o.kind === 'error').length,
    closedAfterAdmission: sockets.closedOpen,
    admittedPerSecond: perSecond(admitted),
    ids: admitted.map((o) => o.connectionId),
  };
}

/** The burst through the core: every handshake at once, users x perUser against a limit of 3. */
export async function coreBurst(store: StreamStore, prefix: string, users: number, perUser: number): Promise<CoreRun> {
  const sockets = new SocketsInMemory();
  const { ids: _, ...run } = await connectAll(coreDeps(store, sockets), sockets, prefix, { users, perUser });
  return run;
}

/**
 * The ghost storm through the core: users x perUser streams admitted, played for a while, their sockets lost without
 * `$disconnect`, then as many connects again at once.
 */
export async function coreStorm(
  store: StreamStore,
  prefix: string,
  { users, perUser, ...timing }: { users: number; perUser: number } & Timing,
  openingWindowMs = DEFAULT_OPENING_WINDOW_MS,
): Promise<CoreRun> {
  const sockets = new SocketsInMemory();
  const deps = { ...coreDeps(store, sockets), openingWindowMs };
  const setUp = await connectAll(deps, sockets, prefix, { users, perUser });
  if (setUp.admitted !== users * perUser) throw new Error(`core storm set-up admitted ${setUp.admitted}`);
  await new Promise((r) => setTimeout(r, timing.playedMs));
  sockets.open.clear();
  sockets.closedOpen = 0;
  await new Promise((r) => setTimeout(r, timing.settleMs));
  const { ids: _, ...run } = await connectAll(deps, sockets, prefix, { users, perUser });
  return run;
}
