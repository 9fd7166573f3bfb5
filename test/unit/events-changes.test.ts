/**
 * From table changes to lifecycle events (core/events/changes.ts), with no I/O: a user's counter moves through random
 * histories (connections counted once each, uncounted at most once, limits set and cleared), each write seen as the
 * change the table's stream reports, possibly read twice.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  connectionsInBatch,
  counterChanges,
  countersAfter,
  eventsOf,
  type TableChange,
} from '../../core/events/changes.js';
import { networkOf } from '../../core/events/network.js';
import { eventData } from '../../core/events/schema.js';
import type { ConnectionRecord, Item } from '../../core/store/items.js';
import { counterAttributes, keys } from '../../core/store/schema.js';

type Step = { kind: 'admit' } | { kind: 'end'; pick: number } | { kind: 'limit'; limit: number | undefined };

const steps = fc.array(
  fc.oneof(
    fc.constant<Step>({ kind: 'admit' }),
    fc.nat().map<Step>((pick) => ({ kind: 'end', pick })),
    fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }).map<Step>((limit) => ({ kind: 'limit', limit })),
  ),
  { maxLength: 40 },
);

const REASONS = ['disconnected', 'kicked', 'takenOver', 'evicted', 'reclaimed'] as const;

/** Plays `history` on a counter item, as the store's writes would, and records each write as a stream change. */
function play(userId: string, history: Step[]) {
  const item: Item = { ...keys.counter(userId), active: 0 };
  const changes: TableChange[] = [];
  const connections = new Map<string, ConnectionRecord>();
  const counted: string[] = [];
  let n = 0;
  for (const step of history) {
    const old = structuredClone(item);
    const at = 1_000_000 + n * 1000;
    if (step.kind === 'admit') {
      const id = `c${n}`;
      counted.push(id);
      item[counterAttributes.counted(id)] = [at, at + 5000];
      item.active = Number(item.active) + 1;
      connections.set(id, connection(userId, id, at));
    } else if (step.kind === 'end') {
      if (counted.length === 0) continue;
      const [id] = counted.splice(step.pick % counted.length, 1);
      delete item[counterAttributes.counted(id!)];
      item.active = Number(item.active) - 1;
      const c = connections.get(id!)!;
      connections.set(id!, { ...c, state: 'closed', closedAt: at, closeReason: REASONS[step.pick % REASONS.length] });
    } else {
      if (item.limitOverride === step.limit) continue;
      if (step.limit === undefined) delete item.limitOverride;
      else item.limitOverride = step.limit;
    }
    n++;
    changes.push({
      sequence: String(n).padStart(21, '0'),
      keys: keys.counter(userId) as TableChange['keys'],
      old,
      new: structuredClone(item),
      at,
    });
  }
  return { changes, connections, counted };
}

function connection(userId: string, connectionId: string, at: number): ConnectionRecord {
  return {
    connectionId,
    userId,
    streamId: `s-${connectionId}`,
    device: 'tv',
    sourceIp: '203.0.113.77',
    connectedAt: at,
    lastSeenAt: at,
    leaseExpiresAt: at + 300_000,
    state: 'open',
  };
}

describe('When a counter changes', () => {
  it('makes one admitted per connection counted and one ended per connection uncounted, in order, with the count after', () => {
    fc.assert(
      fc.property(steps, (history) => {
        // Prepare
        const { changes, connections, counted } = play('alice', history);

        // Act
        const events = eventsOf(counterChanges(changes), connections);

        // Assess
        const ids = events.map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const [id, c] of connections) {
          const steps = events.filter((e) => 'connectionId' in e.data && e.data.connectionId === id).map((e) => e.type);
          expect(steps).toEqual(c.state === 'closed' ? ['stream.admitted', 'stream.ended'] : ['stream.admitted']);
        }
        expect(counted.every((id) => connections.get(id)?.state === 'open')).toBe(true);
        for (const event of events) {
          expect(() => eventData[event.type].parse(event.data)).not.toThrow();
          if (event.type === 'stream.ended')
            expect(event.data.reason).toBe(connections.get(event.data.connectionId)!.closeReason);
        }
        // The count after each event is the count the change left.
        let active = 0;
        for (const event of events) {
          if (event.type === 'stream.admitted' || event.type === 'stream.ended') {
            active += event.type === 'stream.admitted' ? 1 : -1;
            expect(event.data.active).toBe(active);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same ids when changes are read again, so a receiver deduplicates a redelivered batch', () => {
    fc.assert(
      fc.property(steps, fc.nat(), fc.nat(), (history, a, b) => {
        // Prepare
        const { changes, connections } = play('bob', history);
        const from = changes.length === 0 ? 0 : a % changes.length;
        const to = changes.length === 0 ? 0 : from + (b % (changes.length - from + 1));
        const redelivered = [...changes.slice(0, to), ...changes.slice(from)];

        // Act
        const once = eventsOf(counterChanges(changes), connections);
        const twice = eventsOf(counterChanges(redelivered), connections);

        // Assess
        expect([...new Map(twice.map((e) => [e.id, e])).values()]).toEqual(
          once.map((e) => expect.objectContaining({ id: e.id, type: e.type })),
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('ignores every item that is not a counter: connections, history entries, the sweep cursor, checkpoints', () => {
    // Prepare
    const other = (pk: string, sk: string): TableChange => ({
      sequence: '1',
      keys: { pk, sk },
      new: { active: 1, 'c:x': [1, 2] },
      at: 0,
    });

    // Act
    const changes = counterChanges([
      other('conn#x', 'conn'),
      other('user#a', 'audit#2026'),
      other('sweep', 'cursor'),
      other('events', 'checkpoint#s'),
    ]);

    // Assess
    expect(changes).toEqual([]);
  });

  it('names a user change by its sequence number, and a cleared limit as null', () => {
    // Prepare
    const { changes } = play('carol', [
      { kind: 'limit', limit: 5 },
      { kind: 'limit', limit: undefined },
    ]);

    // Act
    const events = eventsOf(counterChanges(changes), new Map());

    // Assess
    expect(events.map((e) => [e.id, e.data])).toEqual([
      ['carol/limit/000000000000000000001', { userId: 'carol', limit: 5, previous: null }],
      ['carol/limit/000000000000000000002', { userId: 'carol', limit: null, previous: 5 }],
    ]);
  });
});

describe('When a source address becomes a network', () => {
  it('keeps an IPv4 /24 and an IPv6 /48, and nothing of anything else', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48');
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0::/48');
    expect(networkOf('::ffff:198.51.100.9')).toBe('198.51.100.0/24');
    expect(networkOf('::1')).toBe('0:0:0::/48');
    for (const bad of [undefined, '', 'localhost', '1.2.3', '__proto__', '999.1.1.1', '1:2:3'])
      expect(networkOf(bad)).toBeUndefined();
  });

  it('maps any address of one /24 or /48 to the same network', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 255 }), (ip, last) => {
        const sibling = `${ip.split('.').slice(0, 3).join('.')}.${last}`;
        expect(networkOf(sibling)).toBe(networkOf(ip));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        expect(networkOf(ip)).toMatch(/^[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/48$|^\d+\.\d+\.\d+\.0\/24$/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('When the batch itself holds the connections’ items', () => {
  const userId = 'u-batch';
  const counterChange = (sequence: string, old: Item, next: Item): TableChange => ({
    sequence,
    keys: keys.counter(userId) as TableChange['keys'],
    old,
    new: next,
    at: 2_000_000,
  });
  const itemChange = (sequence: string, c: ConnectionRecord): TableChange => ({
    sequence,
    keys: keys.connection(c.connectionId) as TableChange['keys'],
    new: { ...keys.connection(c.connectionId), ...c } as Item,
    at: 2_000_000,
  });

  it('takes each connection’s last image, and leaves an end whose image still reads open to be read', () => {
    // Prepare: `a` counted, then `b` counted and `a` uncounted; the batch holds `b`'s item and only `a`'s open image
    const a = connection(userId, 'a', 1_000);
    const b = connection(userId, 'b', 1_500);
    const empty: Item = { ...keys.counter(userId), active: 0 };
    const withA: Item = { ...empty, active: 1, [counterAttributes.counted('a')]: [1_000, 6_000] };
    const withB: Item = { ...empty, active: 1, [counterAttributes.counted('b')]: [1_500, 6_500] };
    const batch = [
      itemChange('01', a),
      counterChange('02', empty, withA),
      itemChange('03', { ...b, device: 'phone' }),
      itemChange('04', { ...b, device: 'tv' }),
      counterChange('05', withA, withB),
    ];

    // Act
    const counters = counterChanges(batch);
    const seen = connectionsInBatch(batch, counters);

    // Assess
    expect([...seen.keys()]).toEqual(['b']);
    expect(seen.get('b')?.device).toBe('tv');
    expect(countersAfter(counters).get(userId)?.counted.has('b')).toBe(true);
  });

  it('takes an ended connection’s closed image, with its reason', () => {
    // Prepare
    const a = connection(userId, 'a', 1_000);
    const withA: Item = { ...keys.counter(userId), active: 1, [counterAttributes.counted('a')]: [1_000, 6_000] };
    const empty: Item = { ...keys.counter(userId), active: 0 };
    const batch = [
      itemChange('01', { ...a, state: 'closed', closedAt: 3_000, closeReason: 'kicked' }),
      counterChange('02', withA, empty),
    ];

    // Act
    const counters = counterChanges(batch);
    const events = eventsOf(counters, connectionsInBatch(batch, counters));

    // Assess
    expect(events.map((e) => [e.type, 'reason' in e.data ? e.data.reason : null])).toEqual([
      ['stream.ended', 'kicked'],
    ]);
  });
});
