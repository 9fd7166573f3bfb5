/** Handlers are built from a config object; only the Lambda entries read the environment, at cold start. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { createRuntime } from '../../handlers/lib/runtime.js';
import { createConnectHandler } from '../../handlers/routes/connect.js';

const config = {
  tableName: 'streamgate',
  authMode: 'dev' as const,
  managementEndpoint: 'http://127.0.0.1:9/',
  defaultLimit: 2,
  leaseMs: 60_000,
  maxConnectionMs: 7_200_000,
  handshakeGraceMs: 30_000,
  openingWindowMs: 5_000,
  resumeHoldMs: 10_000,
  sharing: { networks: 2, refusalsPerDay: 20 },
  leaseShards: 4,
  defaultPolicy: 'block-new' as const,
  limitClaim: 'streams',
  dynamodbEndpoint: 'http://127.0.0.1:9',
};

describe('handler runtime', () => {
  it('builds every collaborator from a config object, without the environment', () => {
    // Prepare
    delete process.env.TABLE_NAME;

    // Act
    const runtime = createRuntime(config);
    const handler = createConnectHandler(runtime);

    // Assess
    expect(runtime.store.tableName).toBe('streamgate');
    expect(runtime.deps.defaultLimit).toBe(2);
    expect(typeof handler).toBe('function');
  });

  it('fails a Lambda entry at cold start when the environment is incomplete', async () => {
    // Prepare
    delete process.env.TABLE_NAME;

    // Act
    const loading = import('../../handlers/connect.js');

    // Assess
    await expect(loading).rejects.toThrow(ConfigError);
  });
});
