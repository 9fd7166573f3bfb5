/**
 * The hourly usage (core/events/usage.ts) from the real processor on DynamoDB Local, read back through the support
 * API: a scripted day of two users' counter changes and refusals with known figures, one batch delivered twice, one
 * whose usage write went through but whose answer was lost (the processor killed mid-batch), one redelivered in part
 * (as Lambda splits a failing batch); and the routes' hostile inputs.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventSink, processChanges, publish } from '../../core/events/processor.js';
import { refusedEvent } from '../../core/events/refusals.js';
import type { CloudEvent } from '../../core/events/schema.js';
import type { UsageHour } from '../../core/events/usage.js';
import { createDocumentClient } from '../../core/store/dynamodb/store.js';
import { DynamoUsageStore } from '../../core/store/dynamodb/usage.js';
import { keys } from '../../core/store/schema.js';
import type { LocalStack } from '../../local/stack.js';
import { newUserId, startTestStack, supportRequest } from '../support/stack.js';
import { losingTransactionAnswers, Script } from '../support/usage-script.js';

const DAY = Date.parse('2031-01-15T00:00:00Z');
const at = (hhmm: string) => Date.parse(`2031-01-15T${hhmm}:00Z`);
const MIN = 60_000;

let stack: LocalStack;
const db = () => createDocumentClient(stack.dynamodbEndpoint);

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

const refusal = (userId: string, connectionId: string, time: number) =>
  refusedEvent({ userId, connectionId, active: 3, limit: 3, at: time });

/** A day of 24 hours with `peaks`, and the hours that saw more. */
function day(peaks: number[], busy: Record<number, Partial<UsageHour>>): UsageHour[] {
  return peaks.map((peak, h) => ({
    hour: new Date(DAY + h * 3_600_000).toISOString(),
    peak,
    admissions: 0,
    refusals: 0,
    evictions: 0,
    reclaims: 0,
    ended: 0,
    medianDurationMs: null,
    ...busy[h],
  }));
}

const fill = (counts: Array<[number, number]>) => counts.flatMap(([n, peak]) => Array<number>(n).fill(peak));

describe('When the processor has seen a scripted day of two users', () => {
  it('answers every figure of every hour exactly, per user and service-wide, redeliveries and a crash included', async () => {
    // Prepare: A streams across hours 01-05 (evicted once, taken over once); B holds three from 01:05, one reclaimed
    // and one swept at 10:00, and keeps one past midnight; refusals at 01:30, 01:31 (B), 04:10 (A) and 23:40 (B).
    const a = newUserId('use-a');
    const b = newUserId('use-b');
    const s = new Script();
    const batch1 = [
      s.change(b, at('01:05'), [], ['b1']),
      s.change(b, at('01:06'), [], ['b2']),
      s.change(b, at('01:07'), [], ['b3']),
      s.change(a, at('01:10'), [], ['a1']),
      s.change(a, at('01:20'), [], ['a2']),
      s.change(a, at('01:40'), [['a1', 'endedByUser']]), // 30 min
      s.change(b, at('01:50'), [['b1', 'disconnected']]), // 45 min
    ];
    const batch2 = [
      s.change(a, at('04:30'), [['a2', 'evicted']], ['a3']), // 3 h 10 min
      s.change(a, at('05:15'), [['a3', 'takenOver']], ['a4']), // 45 min
      s.change(a, at('05:45'), [['a4', 'disconnected']]), // 30 min
    ];
    const batch3 = [
      s.change(b, at('10:00'), [['b2', 'reclaimed']], ['b4']), // 8 h 54 min
      s.change(b, at('10:20'), [['b3', 'swept']]), // 9 h 13 min
    ];
    const refusals1 = [refusal(b, 'rb1', at('01:30')), refusal(b, 'rb2', at('01:31')), refusal(a, 'ra1', at('04:10'))];
    const refusals2 = [refusal(b, 'rb3', at('23:40'))];
    // B's counter as it stands at the end: its count now is the counter's.
    const client = db();
    await client.send(
      new PutCommand({ TableName: stack.tableName, Item: { ...keys.counter(b), active: 1, 'c:b4': [at('10:00'), 0] } }),
    );

    const delivered: CloudEvent[] = [];
    const sink: EventSink = { deliver: async (events) => void delivered.push(...events) };
    const usage = new DynamoUsageStore(client, stack.tableName);
    const deps = { sink, usage, getConnection: async (id: string) => s.connections.get(id) };
    // A client whose transactions go through but whose answers are lost, as when the processor dies mid-write.
    let killAt = 0;
    const flaky = losingTransactionAnswers(client, () => --killAt === 0);
    const crashing = { ...deps, usage: new DynamoUsageStore(flaky, stack.tableName) };

    // Act: batch 1 twice; the refusals with the processor killed after its second refusal's write, then again;
    // batch 2 killed after its write, then again; batch 3, then its first half again; the last refusal twice.
    await processChanges(deps, batch1);
    await processChanges(deps, batch1);
    killAt = 2;
    await expect(publish(crashing, refusals1)).rejects.toThrow('processor killed');
    await publish(deps, refusals1);
    killAt = 1;
    await expect(processChanges(crashing, batch2)).rejects.toThrow('processor killed');
    await processChanges(deps, batch2);
    await processChanges(deps, batch3);
    await processChanges(deps, batch3.slice(0, 1));
    await publish(deps, refusals2);
    await publish(deps, refusals2);
    const range = 'from=2031-01-15T00:00:00Z&to=2031-01-16T00:00:00Z';
    const answers = await Promise.all(
      [`/users/${a}/usage?${range}`, `/users/${b}/usage?${range}`, `/usage?${range}`].map(async (path) => {
        const res = await supportRequest(stack, { method: 'GET', path });
        return { status: res.status, body: await res.json() };
      }),
    );

    // Assess
    const [forA, forB, service] = answers;
    expect(forA).toEqual({
      status: 200,
      body: {
        userId: a,
        from: '2031-01-15T00:00:00.000Z',
        to: '2031-01-16T00:00:00.000Z',
        active: 0,
        hours: day(
          fill([
            [1, 0],
            [1, 2],
            [4, 1],
            [18, 0],
          ]),
          {
            1: { admissions: 2, ended: 1, medianDurationMs: 30 * MIN },
            4: { admissions: 1, refusals: 1, ended: 1, evictions: 1, medianDurationMs: 190 * MIN },
            5: { admissions: 1, ended: 2, medianDurationMs: 37.5 * MIN },
          },
        ),
      },
    });
    expect(forB).toEqual({
      status: 200,
      body: {
        userId: b,
        from: '2031-01-15T00:00:00.000Z',
        to: '2031-01-16T00:00:00.000Z',
        active: 1,
        hours: day(
          fill([
            [1, 0],
            [1, 3],
            [9, 2],
            [13, 1],
          ]),
          {
            1: { admissions: 3, refusals: 2, ended: 1, medianDurationMs: 45 * MIN },
            10: { admissions: 1, ended: 2, reclaims: 2, medianDurationMs: ((534 + 553) * MIN) / 2 },
            23: { refusals: 1 },
          },
        ),
      },
    });
    // Service-wide: lengths to two significant digits of seconds (190 min = 11,400 s shows as 11,000 s).
    expect(service).toEqual({
      status: 200,
      body: {
        from: '2031-01-15T00:00:00.000Z',
        to: '2031-01-16T00:00:00.000Z',
        active: 1,
        hours: day(
          fill([
            [1, 0],
            [1, 5],
            [4, 3],
            [5, 2],
            [13, 1],
          ]),
          {
            1: { admissions: 5, refusals: 2, ended: 2, medianDurationMs: 37.5 * MIN },
            4: { admissions: 1, refusals: 1, ended: 1, evictions: 1, medianDurationMs: 11_000_000 },
            5: { admissions: 1, ended: 2, medianDurationMs: 37.5 * MIN },
            10: { admissions: 1, ended: 2, reclaims: 2, medianDurationMs: 32_500_000 },
            23: { refusals: 1 },
          },
        ),
      },
    });
    const { Item } = await client.send(new GetCommand({ TableName: stack.tableName, Key: keys.serviceActive() }));
    expect(Item?.total).toBe(1);
    client.destroy();
  });
});

describe('When processors of two shards apply large batches at once', () => {
  it('keeps the service-wide figures exact, and a batch killed between its transactions counts each change once', async () => {
    // Prepare: in one hour of another day, 150 users each admit a stream (shard 1) while 120 others admit and end
    // one (shard 2): more user-hours than one transaction takes, so each batch is written in several.
    const hour = Date.parse('2031-02-01T08:00:00Z');
    const s = new Script();
    const shard1 = Array.from({ length: 150 }, (_, i) =>
      s.change(newUserId('use-s1'), hour + i * 1000, [], [`s1-${i}`]),
    );
    const shard2 = Array.from({ length: 120 }, (_, i) => {
      const userId = newUserId('use-s2');
      return [
        s.change(userId, hour + i * 1000, [], [`s2-${i}`]),
        s.change(userId, hour + i * 1000 + 60_000, [[`s2-${i}`, 'disconnected']]),
      ];
    }).flat();
    const client = db();
    const sink: EventSink = { deliver: async () => undefined };
    const getConnection = async (id: string) => s.connections.get(id);
    let transactions = 0;
    const dying = losingTransactionAnswers(client, () => ++transactions === 1);

    const total = async () =>
      Number(
        (await client.send(new GetCommand({ TableName: stack.tableName, Key: keys.serviceActive() }))).Item?.total ?? 0,
      );
    const before = await total();

    // Act: shard 1's processor dies after its first transaction, and is run again while shard 2's runs
    await expect(
      processChanges({ sink, getConnection, usage: new DynamoUsageStore(dying, stack.tableName) }, shard1),
    ).rejects.toThrow('processor killed');
    await Promise.all([
      processChanges({ sink, getConnection, usage: new DynamoUsageStore(db(), stack.tableName) }, shard1),
      processChanges({ sink, getConnection, usage: new DynamoUsageStore(db(), stack.tableName) }, shard2),
    ]);
    const res = await supportRequest(stack, {
      method: 'GET',
      path: '/usage?from=2031-02-01T08:00:00Z&to=2031-02-01T09:00:00Z',
    });

    // Assess: the peak lies between 150 more than before (shard 2's streams all ended) and 150 + 120 more (every one
    // still open), as the two processors interleaved; the counts and the total are exact whatever the interleaving.
    const [figures] = ((await res.json()) as { hours: UsageHour[] }).hours;
    expect(figures).toMatchObject({ admissions: 270, ended: 120, medianDurationMs: 60_000 });
    expect(figures!.peak).toBeGreaterThanOrEqual(before + 150);
    expect(figures!.peak).toBeLessThanOrEqual(before + 270);
    expect(await total()).toBe(before + 150);
    client.destroy();
  });
});

describe('When a report asks for hours after the last change', () => {
  it('carries the level of the last hour with a change into the range, and defaults to the last 24 hours', async () => {
    // Prepare: one stream admitted in the script's hour 02 and never ended
    const userId = newUserId('use-carry');
    const s = new Script();
    const client = db();
    const usage = new DynamoUsageStore(client, stack.tableName);
    const sink: EventSink = { deliver: async () => undefined };
    await processChanges({ sink, usage, getConnection: async (id) => s.connections.get(id) }, [
      s.change(userId, at('02:10'), [], ['c1']),
      s.change(userId, at('02:11'), [], ['c2']),
    ]);

    // Act
    const later = await supportRequest(stack, {
      method: 'GET',
      path: `/users/${userId}/usage?from=2031-01-15T05:30:00Z&to=2031-01-15T07:59:59.999Z`,
    });
    const byDefault = await supportRequest(stack, { method: 'GET', path: `/users/${userId}/usage` });

    // Assess
    const body = (await later.json()) as { from: string; to: string; hours: UsageHour[] };
    expect(body.from).toBe('2031-01-15T05:00:00.000Z');
    expect(body.to).toBe('2031-01-15T07:00:00.000Z');
    expect(body.hours.map((h) => [h.hour, h.peak, h.admissions])).toEqual([
      ['2031-01-15T05:00:00.000Z', 2, 0],
      ['2031-01-15T06:00:00.000Z', 2, 0],
    ]);
    const fallback = (await byDefault.json()) as { from: string; to: string; hours: UsageHour[] };
    expect(fallback.hours).toHaveLength(24);
    expect(Date.parse(fallback.to) - Date.parse(fallback.from)).toBe(24 * 3_600_000);
    expect(Date.parse(fallback.to)).toBeGreaterThan(Date.now());
    expect(Date.parse(fallback.to) - Date.now()).toBeLessThanOrEqual(3_600_000);
    client.destroy();
  });
});

describe('When the usage routes are sent hostile input', () => {
  it('answers 400 with a clear message and writes nothing', async () => {
    // Prepare
    const bad = [
      '/usage?from=yesterday',
      '/usage?from=2031-01-16T00:00:00Z&to=2031-01-15T00:00:00Z',
      '/usage?from=2031-01-15T10:10Z&to=2031-01-15T10:50Z',
      '/usage?from=2031-01-01T00:00:00Z&to=2031-02-01T01:00:00Z',
      '/usage?from=2031-02-30',
      '/usage?to=2031-01-15T24:00:00Z',
      '/usage?from=2031-01-15&from=2031-01-14',
      `/usage?to=${'9'.repeat(5000)}`,
      '/usage?from=__proto__',
      '/usage?from=constructor',
      '/usage?from=2031-01-15%00',
      '/usage?from=%E0%A4%A',
      '/users/__proto__%20x/usage',
      '/users/no%20spaces/usage',
      `/users/${'u'.repeat(129)}/usage`,
      '/users/%E0%A4%A/usage',
      '/users/u/usage?from=-271821-04-20',
    ];
    const client = db();
    const before = await client.send(new GetCommand({ TableName: stack.tableName, Key: keys.serviceActive() }));

    // Act
    const answers = await Promise.all(
      bad.map(async (path) => {
        const res = await supportRequest(stack, { method: 'GET', path });
        return [path.slice(0, 60), res.status, await res.text()] as const;
      }),
    );
    const unauthenticated = await supportRequest(stack, { method: 'GET', path: '/usage', token: null });
    const monthExactly = await supportRequest(stack, {
      method: 'GET',
      path: '/usage?from=2031-01-01T00:00:00Z&to=2031-02-01T00:00:00Z',
    });
    const proto = await supportRequest(stack, { method: 'GET', path: '/users/__proto__/usage' });

    // Assess
    for (const [path, status, body] of answers) {
      expect([path, status]).toEqual([path, 400]);
      expect(JSON.parse(body).error.message, path).toMatch(/from|to|userId|path|percent/);
      expect(body).not.toMatch(/\n\s+at |Error:|"stack"/);
    }
    expect(answers[1]![2]).toContain('from must be before to');
    expect(answers[3]![2]).toContain('744 hours');
    expect(unauthenticated.status).toBe(401);
    expect(monthExactly.status).toBe(200);
    expect(((await monthExactly.json()) as { hours: unknown[] }).hours).toHaveLength(744);
    // `__proto__` is a valid user id (the contract's alphabet): an empty report, and nothing written for it.
    expect(proto.status).toBe(200);
    expect(((await proto.json()) as { userId: string }).userId).toBe('__proto__');
    const after = await client.send(new GetCommand({ TableName: stack.tableName, Key: keys.serviceActive() }));
    expect(after.Item).toEqual(before.Item);
    const written = await client.send(
      new GetCommand({ TableName: stack.tableName, Key: keys.userUsage('__proto__', Date.parse('2031-01-15T00:00Z')) }),
    );
    expect(written.Item).toBeUndefined();
    client.destroy();
  });
});
