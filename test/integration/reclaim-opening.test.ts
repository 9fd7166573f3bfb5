/**
 * A refused connect finds the user's streams stamped a moment ago and unknown to API Gateway: opening (their
 * `$connect` has just answered), or closed at once by their player? Asked again at once, opening ones are known by
 * then and are kept; ones still unknown are released. API Gateway is scripted here: the moment between a `$connect`
 * answering and API Gateway knowing its socket cannot be held open on demand.
 */
import { describe, expect, it } from 'vitest';
import { type AdmissionDeps, connect } from '../../core/admission.js';
import { LimitReachedError } from '../../core/errors.js';
import { DEFAULT_OPENING_WINDOW_MS } from '../../core/lifecycle.js';
import type { ConnectionGateway, Liveness } from '../../core/ports.js';
import { sleep } from '../../core/retry.js';
import { useRaceStack } from '../support/race-stack.js';
import { newUserId } from '../support/stack.js';

const race = useRaceStack({ streamLimit: 3 });

/** API Gateway's answers to GetConnection, per connection and in turn; the last one repeats. */
class ScriptedGateway implements ConnectionGateway {
  readonly closed: string[] = [];
  constructor(private readonly answers: Map<string, Liveness[]>) {}
  async probe(connectionId: string): Promise<Liveness> {
    const answers = this.answers.get(connectionId) ?? ['gone'];
    return answers.length > 1 ? answers.shift()! : answers[0]!;
  }
  async lastActive(connectionId: string) {
    return (await this.probe(connectionId)) === 'alive' ? Date.now() : ('gone' as const);
  }
  async disconnect(connectionId: string) {
    this.closed.push(connectionId);
    return 'gone' as const;
  }
  async send() {
    return 'gone' as const;
  }
}

function depsWith(gateway: ConnectionGateway): AdmissionDeps {
  return {
    store: race.store,
    gateway,
    defaultLimit: 3,
    leaseMs: 300_000,
    maxConnectionMs: 7_200_000,
    handshakeGraceMs: 30_000,
    openingWindowMs: DEFAULT_OPENING_WINDOW_MS,
    logger: { info() {}, warn() {}, error() {} },
  };
}

/** Three admitted and stamped connects of one user, whose sockets API Gateway answers for as scripted. */
async function threeStamped(answers: Liveness[]) {
  const userId = newUserId('opening');
  const ids = [1, 2, 3].map((n) => `opening-${userId}-${n}`);
  const gateway = new ScriptedGateway(new Map(ids.map((id) => [id, [...answers]])));
  const deps = depsWith(gateway);
  for (const connectionId of ids) await connect(deps, { connectionId, userId, connectedAt: Date.now() });
  // The newcomer arrives after the stamps (one stamped since it arrived is opening for sure, and is not asked about).
  await sleep(5);
  return { userId, ids, gateway, deps };
}

describe('a refused connect that finds streams stamped a moment ago, unknown to API Gateway', () => {
  it('keeps those API Gateway knows when asked again (they were opening) and refuses the newcomer', async () => {
    // Prepare
    const { userId, ids, gateway, deps } = await threeStamped(['gone', 'alive']);

    // Act
    const fourth = connect(deps, { connectionId: `opening-${userId}-4`, userId, connectedAt: Date.now() });

    // Assess
    await expect(fourth).rejects.toBeInstanceOf(LimitReachedError);
    expect(gateway.closed).toEqual([]);
    expect([...(await race.store.getCounter(userId)).counted.keys()].sort()).toEqual(ids);
  });

  it('keeps those unknown for several asks that API Gateway learns of within their window (a slow handshake)', async () => {
    // Prepare: each answers 410 five times (about 800 ms at the chase cadence) before its socket is known
    const { userId, ids, gateway, deps } = await threeStamped(['gone', 'gone', 'gone', 'gone', 'gone', 'alive']);

    // Act
    const fourth = connect(deps, { connectionId: `opening-${userId}-4`, userId, connectedAt: Date.now() });

    // Assess
    await expect(fourth).rejects.toBeInstanceOf(LimitReachedError);
    expect(gateway.closed).toEqual([]);
    expect([...(await race.store.getCounter(userId)).counted.keys()].sort()).toEqual(ids);
  });

  it('releases those still unknown when their window has passed (their player closed them) and admits the newcomer', async () => {
    // Prepare
    const { userId, deps } = await threeStamped(['gone']);
    const fourthId = `opening-${userId}-4`;

    // Act
    const fourth = await connect(deps, { connectionId: fourthId, userId, connectedAt: Date.now() });

    // Assess
    expect(fourth).toEqual({ kind: 'admitted' });
    expect([...(await race.store.getCounter(userId)).counted.keys()]).toEqual([fourthId]);
  });
});
