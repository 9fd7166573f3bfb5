/**
 * The handlers turn outcomes into metrics: real sockets through the emulator, a real DynamoDB Local, and a recorder
 * in place of EMF (the local stack is otherwise silent).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MetricName, type RefusalReason } from '../../handlers/lib/metric-names.js';
import type { ServiceMetrics } from '../../handlers/lib/metrics.js';
import type { LocalStack } from '../../local/stack.js';
import { Players } from '../support/players.js';
import { closed, eventually, request } from '../support/sockets.js';
import { newUserId, startTestStack } from '../support/stack.js';

class RecordedMetrics implements ServiceMetrics {
  counts = new Map<string, number>();
  refusals: RefusalReason[] = [];
  latencies: number[] = [];
  flushes = 0;
  count(name: string, value = 1) {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  refused(reason: RefusalReason) {
    this.refusals.push(reason);
  }
  connectLatency(ms: number) {
    this.latencies.push(ms);
  }
  flush() {
    this.flushes++;
  }
  of(name: string) {
    return this.counts.get(name) ?? 0;
  }
  reset() {
    this.counts.clear();
    this.refusals = [];
    this.latencies = [];
  }
}

const metrics = new RecordedMetrics();
let stack: LocalStack;
const players = new Players(() => stack);

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 2, sweepIntervalSeconds: 0, metrics });
});

beforeEach(() => {
  stack.emulator.setFaults({ dropDisconnectRate: 0, failHandshakeRate: 0 });
  metrics.reset();
});

afterAll(async () => {
  players.endAll();
  await stack?.stop();
});

describe('When players connect', () => {
  it('counts the admitted, the refused by reason, and the time of every connect', async () => {
    // Prepare
    const userId = newUserId();

    // Act
    await players.openWithId({ userId, streamId: 'a' });
    await players.openWithId({ userId, streamId: 'b' });
    const atLimit = await players.open({ userId, streamId: 'c' });
    const invalid = await players.open({ userId: 'no spaces allowed' });
    const anonymous = await players.open({ streamId: 'd' });

    // Assess
    expect([atLimit.status, invalid.status, anonymous.status]).toEqual([429, 400, 401]);
    expect(metrics.of(MetricName.admitted)).toBe(2);
    expect(metrics.refusals.sort()).toEqual(['invalid', 'limit', 'unauthorized']);
    expect(metrics.latencies).toHaveLength(5);
    for (const ms of metrics.latencies) expect(ms).toBeGreaterThanOrEqual(0);
  });

  it('counts a reconnect with the same stream id as admitted and as a takeover', async () => {
    const userId = newUserId();
    const first = await players.openWithId({ userId, streamId: 's' });

    await players.openWithId({ userId, streamId: 's' });
    await closed(first.socket);

    expect(metrics.of(MetricName.admitted)).toBe(2);
    expect(metrics.of(MetricName.takeovers)).toBe(1);
  });
});

describe('When streams end', () => {
  it('counts a stream given back on $disconnect once', async () => {
    const userId = newUserId();
    const { socket } = await players.openWithId({ userId });

    socket.close();
    await closed(socket);

    await eventually(() => metrics.of(MetricName.released) === 1);
    expect(metrics.of(MetricName.storeErrors)).toBe(0);
  });

  it('counts the ghosts reclaimed when a user is refused, and what the sweep releases', async () => {
    // Prepare: two ghosts (their $disconnect is lost), then a third stream makes the user reach for them
    const userId = newUserId();
    stack.emulator.setFaults({ dropDisconnectRate: 1 });
    await players.makeGhosts(userId, 2);
    stack.emulator.setFaults({ dropDisconnectRate: 0 });

    // Act
    const { socket } = await players.openWithId({ userId });

    // Assess
    expect(metrics.of(MetricName.ghostsReclaimed)).toBe(2);
    expect(metrics.of(MetricName.admitted)).toBe(3);
    const sweep = await stack.sweep();
    expect(metrics.of(MetricName.swept)).toBe(sweep.released);
    socket.close();
    await closed(socket);
    // Its $disconnect runs after the client sees the close: waited for here, not counted in the next test.
    await eventually(() => metrics.of(MetricName.released) === 1);
  });
});

describe('When messages arrive', () => {
  it('records nothing for a heartbeat that works', async () => {
    const { socket } = await players.openWithId({ userId: newUserId() });
    metrics.reset();

    const answer = await request(socket, { action: 'heartbeat' });

    expect(answer.type).toBe('heartbeat');
    expect([...metrics.counts.keys()]).toEqual([]);
    socket.close();
    await closed(socket);
  });
});
