/**
 * What a connect costs in DynamoDB calls, counted on a real client against DynamoDB Local: the happy path is one
 * TransactWriteItems and nothing else; only a refusal looks further.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdmissionDeps, connect } from '../../core/admission.js';
import { LimitReachedError } from '../../core/errors.js';
import { ApiGatewayConnections, createManagementClient } from '../../core/gateway.js';
import { endOwnStream } from '../../core/player.js';
import { checkAges, sweep } from '../../core/reclaim.js';
import { sleep } from '../../core/retry.js';
import { createDocumentClient } from '../../core/store/dynamodb/store.js';
import { endConnection } from '../../core/support.js';
import type { LocalStack } from '../../local/stack.js';
import { streamWriteUnits, streamWriteUnitsBefore } from '../../tools/capacity/model.js';
import { eventually, mustOpen, request } from '../support/sockets.js';
import { FAST_STORE_OPENING_WINDOW_SECONDS, newUserId, startTestStack, storeFor } from '../support/stack.js';

let stack: LocalStack;
let deps: AdmissionDeps;
const calls: string[] = [];
const probes: string[] = [];
/** PostToConnection and DeleteConnection calls, as `send id` and `disconnect id` */
const closes: string[] = [];
const quiet = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  stack = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
  const db = createDocumentClient(stack.dynamodbEndpoint);
  db.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const gateway = new ApiGatewayConnections(createManagementClient(stack.callbackUrl));
  deps = {
    store: storeFor(stack, db),
    gateway: {
      probe: (id) => {
        probes.push(id);
        return gateway.probe(id);
      },
      lastActive: (id) => gateway.lastActive(id),
      disconnect: (id) => {
        closes.push(`disconnect ${id}`);
        return gateway.disconnect(id);
      },
      send: (id, m) => {
        closes.push(`send ${id}`);
        return gateway.send(id, m);
      },
    },
    defaultLimit: 3,
    leaseMs: 300_000,
    maxConnectionMs: 7_200_000,
    handshakeGraceMs: 30_000,
    // Short, so the ghosts below pass theirs quickly; DynamoDB Local answers each write in milliseconds.
    openingWindowMs: FAST_STORE_OPENING_WINDOW_SECONDS * 1000,
    logger: quiet,
  };
});

afterAll(async () => stack?.stop());

const request0 = (userId: string, n: number) => ({
  connectionId: `budget-${userId}-${n}`,
  userId,
  connectedAt: Date.now(),
});

describe('DynamoDB calls per connect', () => {
  it('under the limit: one TransactWriteItems and nothing else (one write, one round trip)', async () => {
    const userId = newUserId();
    calls.length = 0;

    await connect(deps, request0(userId, 1));

    expect(calls).toEqual(['TransactWriteItemsCommand']);
  });

  it('refused at the limit with live connections: the transaction, one counter-members read, one GetConnection each', async () => {
    // Prepare: three live sockets through the gateway
    const userId = newUserId();
    const sockets = await Promise.all([0, 1, 2].map(() => mustOpen(stack.wsUrl, { userId })));
    await Promise.all(sockets.map((s) => request(s, { action: 'status' })));
    await sleep(50);
    calls.length = 0;
    probes.length = 0;

    // Act
    const refused = connect(deps, { ...request0(userId, 4), connectedAt: Date.now() + 60_000 });

    // Assess
    await expect(refused).rejects.toBeInstanceOf(LimitReachedError);
    expect(calls).toEqual(['TransactWriteItemsCommand', 'BatchGetItemCommand']);
    expect(probes).toHaveLength(3);
    for (const s of sockets) s.terminate();
  });
});

describe('calls per reconnect after a network blip', () => {
  it('ghosts past their opening window: one GetConnection each, nothing sent to them, no second question', async () => {
    // Prepare: three admitted connects whose sockets never opened (unknown to API Gateway), past their window
    const userId = newUserId();
    for (const n of [1, 2, 3]) await connect(deps, request0(userId, n));
    await sleep(deps.openingWindowMs + 100);
    calls.length = 0;
    probes.length = 0;
    closes.length = 0;

    // Act
    const result = await connect(deps, request0(userId, 4));

    // Assess: past the window they cannot open, so nobody chases them
    expect(result).toEqual({ kind: 'admitted' });
    expect(probes).toHaveLength(3);
    expect(closes).toEqual([]);
    expect(calls).toEqual([
      'TransactWriteItemsCommand',
      'BatchGetItemCommand',
      'UpdateItemCommand', // the counter: all three uncounted in one write
      'UpdateItemCommand',
      'UpdateItemCommand',
      'UpdateItemCommand', // their items closed
      'TransactWriteItemsCommand',
    ]);
  });
});

describe('calls per takeover, eviction and end', () => {
  const reset = () => {
    calls.length = 0;
    probes.length = 0;
    closes.length = 0;
  };

  it('a reconnect of a held stream: the refused transaction, the takeover, the old socket told and closed, then uncounted', async () => {
    // Prepare: one live socket holding the stream
    const userId = newUserId();
    const old = await mustOpen(stack.wsUrl, { userId, streamId: 'movie' });
    const { connectionId: oldId } = await request(old, { action: 'status' });
    reset();

    // Act
    const result = await connect(deps, { ...request0(userId, 2), streamId: 'movie' });

    // Assess
    expect(result).toEqual({ kind: 'tookOver', replaced: oldId });
    expect(calls).toEqual(['TransactWriteItemsCommand', 'TransactWriteItemsCommand', 'UpdateItemCommand']);
    expect(closes).toEqual([`send ${oldId}`, `disconnect ${oldId}`]);
  });

  it('evict-oldest at the limit: the refused transaction, one GetConnection each, the eviction, the victim closed, then uncounted', async () => {
    // Prepare: three live sockets, the user's policy evict-oldest
    const userId = newUserId();
    const sockets = await Promise.all([0, 1, 2].map(() => mustOpen(stack.wsUrl, { userId })));
    await Promise.all(sockets.map((s) => request(s, { action: 'status' })));
    const evicting = { ...deps, defaultPolicy: 'evict-oldest' as const };
    reset();

    // Act
    const result = await connect(evicting, request0(userId, 4));

    // Assess
    expect(result.kind).toBe('evicted');
    expect(calls).toEqual(['TransactWriteItemsCommand', 'TransactWriteItemsCommand', 'UpdateItemCommand']);
    expect(closes).toHaveLength(2); // the victim's ended frame and its close
    for (const s of sockets) s.terminate();
  });

  it('a kick: the item read, closed, the socket told and closed, then the slot freed, and the history entry', async () => {
    // Prepare
    const userId = newUserId();
    const socket = await mustOpen(stack.wsUrl, { userId, streamId: 'movie' });
    const { connectionId } = await request(socket, { action: 'status' });
    reset();

    // Act
    await endConnection({ ...deps, audit: quiet }, 'staff', connectionId as string);

    // Assess
    expect(calls).toEqual(['GetItemCommand', 'UpdateItemCommand', 'UpdateItemCommand', 'PutItemCommand']);
    expect(closes).toEqual([`send ${connectionId}`, `disconnect ${connectionId}`]);
  });

  it("a player's own end: the counter and the item read, the item closed, the socket closed, the slot freed", async () => {
    // Prepare
    const userId = newUserId();
    const socket = await mustOpen(stack.wsUrl, { userId, streamId: 'movie' });
    const { connectionId } = await request(socket, { action: 'status' });
    reset();

    // Act
    await endOwnStream(deps, userId, 'movie');

    // Assess
    expect(calls).toEqual(['GetItemCommand', 'GetItemCommand', 'UpdateItemCommand', 'UpdateItemCommand']);
    expect(closes).toEqual([`send ${connectionId}`, `disconnect ${connectionId}`]);
  });
});

describe('DynamoDB calls per stream lifecycle', () => {
  it('a one-hour stream: one transaction at connect, two updates at release, no write in between', async () => {
    // Prepare: a stack of its own (no other test's connections for its sweep to find), every call its handlers make
    const own = await startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 });
    const made: Call[] = [];
    own.runtime.store.db.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TransactItems?: unknown[] };
        made.push({ command: context.commandName ?? 'unknown', items: input.TransactItems?.length ?? 1 });
        return next(args);
      },
      { step: 'initialize', name: 'countLifecycle' },
    );
    const userId = newUserId();
    const ownStore = storeFor(own);
    const hourOfChecks = checkAges(own.runtime.deps.leaseMs, own.runtime.deps.maxConnectionMs).filter(
      (age) => age <= 3_600_000,
    );

    try {
      // Act: connect; an hour of heartbeats (one every 5 minutes); the sweep at every check age within the hour; close
      const socket = await mustOpen(own.wsUrl, { userId, streamId: 'movie' });
      const connect = made.splice(0);
      for (let i = 0; i < 12; i++) await request(socket, { action: 'heartbeat' });
      const { connectionId } = await request(socket, { action: 'status' });
      const heartbeats = made.splice(0);
      const { connectedAt } = (await ownStore.getConnection(connectionId as string))!;
      for (const age of hourOfChecks) await sweep(own.runtime.deps, connectedAt + age + 1);
      const sweeps = made.splice(0);
      socket.close();
      await eventually(async () => (await ownStore.getConnection(connectionId as string))?.state === 'closed');
      const release = made.splice(0);

      // Assess
      expect(writes(connect)).toEqual([{ command: 'TransactWriteItemsCommand', items: 2 }]);
      expect(writes(heartbeats)).toEqual([]);
      // A live stream costs the sweep no write: its only write is its own cursor, one item per run for the table.
      expect(hourOfChecks).toHaveLength(4);
      expect(writes(sweeps)).toHaveLength(hourOfChecks.length);
      expect(sweeps.filter((c) => c.command === 'QueryCommand').length).toBeGreaterThan(0);
      expect(writes(release)).toEqual([
        { command: 'UpdateItemCommand', items: 1 },
        { command: 'UpdateItemCommand', items: 1 },
      ]);
      const units = streamWriteUnits({ transactItems: 2, plainWrites: 2 });
      console.info(
        `write units per one-hour stream: ${units} (before this design: ${streamWriteUnitsBefore({ durationS: 3600, leaseS: 300 })})`,
      );
      expect(units).toBeLessThanOrEqual(12);
    } finally {
      await own.stop();
    }
  });
});

type Call = { command: string; items: number };
const writes = (calls: Call[]) => calls.filter((c) => /Transact|Update|Put|Delete|BatchWrite/.test(c.command));
