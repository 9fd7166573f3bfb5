/**
 * What a connect costs in DynamoDB calls, counted on a real client against DynamoDB Local: the happy path is one
 * TransactWriteItems and nothing else; only a refusal looks further.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdmissionDeps, connect } from '../../core/admission.js';
import { LimitReachedError } from '../../core/errors.js';
import { ApiGatewayConnections, createManagementClient } from '../../core/gateway.js';
import { sleep } from '../../core/retry.js';
import { createDocumentClient } from '../../core/store/store.js';
import type { LocalStack } from '../../local/stack.js';
import { mustOpen, request } from '../support/sockets.js';
import { newUserId, startTestStack, storeFor } from '../support/stack.js';

let stack: LocalStack;
let deps: AdmissionDeps;
const calls: string[] = [];
const probes: string[] = [];
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
      disconnect: (id) => gateway.disconnect(id),
      send: (id, m) => gateway.send(id, m),
    },
    defaultLimit: 3,
    leaseMs: 300_000,
    maxConnectionMs: 7_200_000,
    handshakeGraceMs: 30_000,
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
  it('under the limit: one TransactWriteItems, no read', async () => {
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
