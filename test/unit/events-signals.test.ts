/**
 * Sharing signals (core/events/signals.ts) with no I/O: a store in memory, counters and connections as data.
 */
import { describe, expect, it } from 'vitest';
import { publish } from '../../core/events/processor.js';
import { refusedEvent } from '../../core/events/refusals.js';
import { type CloudEvent, cloudEvent } from '../../core/events/schema.js';
import type { SharingReason, SharingSignal, SignalDeps, SignalStore } from '../../core/events/signals.js';
import type { ConnectionRecord } from '../../core/store/items.js';
import { toCounter } from '../../core/store/items.js';

class SignalsInMemory implements SignalStore {
  readonly recorded: SharingSignal[] = [];
  readonly refusals = new Map<string, Set<string>>();
  async hasSignal(day: string, userId: string, reason: SharingReason) {
    return this.recorded.some((s) => s.day === day && s.userId === userId && s.reason === reason);
  }
  async recordSignal(signal: SharingSignal) {
    if (!(await this.hasSignal(signal.day, signal.userId, signal.reason))) this.recorded.push(signal);
  }
  async countRefusal(day: string, userId: string, connectionId: string, cap: number) {
    const ids = this.refusals.get(`${day}/${userId}`) ?? new Set<string>();
    if (ids.size < cap) ids.add(connectionId);
    this.refusals.set(`${day}/${userId}`, ids);
    return ids.size;
  }
  async listSignals(day: string) {
    return this.recorded.filter((s) => s.day === day);
  }
}

const AT = Date.parse('2026-12-07T10:00:00Z');

function world(streams: Array<{ id: string; ip: string; state?: 'open' | 'closed' }>) {
  const store = new SignalsInMemory();
  const connections = new Map<string, ConnectionRecord>(
    streams.map((s) => [
      s.id,
      {
        connectionId: s.id,
        userId: 'u',
        sourceIp: s.ip,
        connectedAt: AT,
        lastSeenAt: AT,
        leaseExpiresAt: AT,
        state: s.state ?? 'open',
      },
    ]),
  );
  const item = Object.fromEntries(streams.map((s) => [`c:${s.id}`, [AT, AT + 5000]]));
  const deps: SignalDeps = {
    signals: store,
    rules: { networks: 2, refusalsPerDay: 2 },
    getCounter: async (userId) => toCounter(userId, { active: streams.length, ...item }),
    getConnection: async (id) => connections.get(id),
  };
  return { store, deps };
}

const admitted = (id: string) =>
  cloudEvent('stream.admitted', {
    id: `${id}/admitted`,
    subject: 'u',
    time: AT,
    data: { userId: 'u', connectionId: id, active: 3, connectedAt: new Date(AT).toISOString() },
  });

describe('When a user plays from several networks', () => {
  it('raises the networks signal once a day, and again only after a delivery that failed', async () => {
    // Prepare
    const { store, deps } = world([
      { id: 'a', ip: '198.51.100.1' },
      { id: 'b', ip: '203.0.113.1' },
      { id: 'c', ip: '192.0.2.1' },
    ]);
    const delivered: CloudEvent[] = [];
    let failNext = true;
    const sink = {
      deliver: async (events: CloudEvent[]) => {
        if (failNext) {
          failNext = false;
          throw new Error('down');
        }
        delivered.push(...events);
      },
    };

    // Act
    await expect(publish({ sink, signals: deps }, [admitted('c')])).rejects.toThrow('down');
    await publish({ sink, signals: deps }, [admitted('c')]);
    await publish({ sink, signals: deps }, [admitted('c')]);

    // Assess
    const signals = delivered.filter((e) => e.type === 'user.sharingSuspected');
    expect(signals.map((e) => e.id)).toEqual(['u/sharing/networks/2026-12-07']);
    expect(store.recorded).toHaveLength(1);
  });

  it('counts the networks of open streams only: a closed one still counted does not make a household shared', async () => {
    // Prepare
    const { deps } = world([
      { id: 'a', ip: '198.51.100.1' },
      { id: 'b', ip: '198.51.100.2' },
      { id: 'c', ip: '192.0.2.1', state: 'closed' },
    ]);
    const delivered: CloudEvent[] = [];

    // Act
    await publish({ sink: { deliver: async (e) => void delivered.push(...e) }, signals: deps }, [admitted('b')]);

    // Assess
    expect(delivered.map((e) => e.type)).toEqual(['stream.admitted']);
  });
});

describe('When a user is refused again and again', () => {
  it('signals past the threshold once, counting a refusal delivered twice once', async () => {
    // Prepare
    const { store, deps } = world([]);
    const delivered: CloudEvent[] = [];
    const sink = { deliver: async (e: CloudEvent[]) => void delivered.push(...e) };
    const refusal = (id: string) => refusedEvent({ userId: 'u', connectionId: id, active: 3, limit: 3, at: AT });

    // Act
    for (const id of ['r1', 'r1', 'r2', 'r2', 'r3', 'r4', 'r5']) await publish({ sink, signals: deps }, [refusal(id)]);

    // Assess
    const signals = delivered.filter((e) => e.type === 'user.sharingSuspected');
    expect(signals).toHaveLength(1);
    expect(signals[0]!.data).toMatchObject({ reason: 'refusals', seen: 3, threshold: 2 });
    expect(store.refusals.get('2026-12-07/u')!.size).toBe(3); // stops counting past the threshold
  });
});
