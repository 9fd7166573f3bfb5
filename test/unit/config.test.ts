import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';

const base = { TABLE_NAME: 'streamgate', AUTH_MODE: 'dev', MANAGEMENT_ENDPOINT: 'http://127.0.0.1:3001' };

describe('loadConfig', () => {
  it('applies the defaults', () => {
    expect(loadConfig(base)).toEqual({
      tableName: 'streamgate',
      authMode: 'dev',
      managementEndpoint: 'http://127.0.0.1:3001',
      defaultLimit: 3,
      leaseMs: 300_000,
      maxConnectionMs: 7_200_000,
      handshakeGraceMs: 30_000,
      openingWindowMs: 5_000,
      resumeHoldMs: 10_000,
      sharing: { networks: 2, refusalsPerDay: 20 },
      leaseShards: 4,
      dynamodbEndpoint: undefined,
      staff: { claim: 'scope', value: 'streamgate:staff' },
      limitClaim: 'streams',
      defaultPolicy: 'block-new',
    });
  });

  it('takes the policy at the limit from LIMIT_POLICY', () => {
    expect(loadConfig({ ...base, LIMIT_POLICY: 'evict-oldest' }).defaultPolicy).toBe('evict-oldest');
  });

  it('takes jwt mode, with the staff rule from JWT_STAFF_*', () => {
    const config = loadConfig({ ...base, AUTH_MODE: 'jwt', JWT_STAFF_CLAIM: 'groups', JWT_STAFF_VALUE: 'support' });

    expect(config).toMatchObject({ authMode: 'jwt', staff: { claim: 'groups', value: 'support' } });
  });

  it.each([
    ['a missing table name', { ...base, TABLE_NAME: undefined }, /TABLE_NAME/],
    ['a missing management endpoint', { ...base, MANAGEMENT_ENDPOINT: undefined }, /MANAGEMENT_ENDPOINT/],
    ['an unknown auth mode', { ...base, AUTH_MODE: 'none' }, /AUTH_MODE/],
    ['a zero limit', { ...base, STREAM_LIMIT: '0' }, /STREAM_LIMIT/],
    ['a fractional limit', { ...base, STREAM_LIMIT: '2.5' }, /STREAM_LIMIT/],
    ['an unknown limit policy', { ...base, LIMIT_POLICY: 'evict-newest' }, /LIMIT_POLICY/],
    ['a hostile staff claim', { ...base, AUTH_MODE: 'jwt', JWT_STAFF_CLAIM: '__proto__' }, /JWT_STAFF_CLAIM/],
  ])('fails fast on %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
