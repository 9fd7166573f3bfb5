import { beforeAll, describe, expect, it } from 'vitest';
import { loadIdentityConfig } from '../../core/identity/config.js';
import { createTokenVerifier, KeysUnavailableError, type TokenVerifier } from '../../core/identity/verify.js';
import { type AuthorizerEvent, createAuthorizer, UNAUTHORIZED } from '../../handlers/routes/authorizer.js';
import { AUDIENCE, claims, ISSUER, NOW, sign, type TestKey, testKey, unsigned } from '../support/tokens.js';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/$connect';

function event(query: Record<string, string> | null, multi?: Record<string, string[]>): AuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    queryStringParameters: query,
    multiValueQueryStringParameters:
      multi ?? (query && Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]]))),
    requestContext: { connectionId: 'c1', routeKey: '$connect' },
  };
}

const logs: Array<{ message: string; detail: unknown }> = [];
const logger = {
  info: (message: string, detail?: unknown) => logs.push({ message, detail }),
  error: (message: string, detail?: unknown) => logs.push({ message, detail }),
};

let key: TestKey;
let authorize: ReturnType<typeof createAuthorizer>;

beforeAll(() => {
  key = testKey('ES256', 'k1');
  const verifier = createTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: { kind: 'jwks', jwks: { keys: [key.publicJwk] } },
    now: () => new Date(NOW * 1000),
  });
  authorize = createAuthorizer({ verifier, logger: logger as never });
});

describe('$connect authorizer', () => {
  it('allows the method with the user as principal and the identity as context', async () => {
    const token = await sign(key, claims('alice', { streams: 5 }));

    const result = await authorize(event({ token, streamId: 's' }));

    expect(result).toEqual({
      principalId: 'alice',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN }],
      },
      context: { userId: 'alice', streamLimit: 5 },
    });
  });

  it('leaves the limit out of the context when the token has none', async () => {
    const token = await sign(key, claims('bob'));

    expect((await authorize(event({ token }))).context).toEqual({ userId: 'bob' });
  });

  it.each([
    ['no query string', () => event(null)],
    ['no token', () => event({ userId: 'alice' })],
    ['a userId beside an invalid token', () => event({ userId: 'alice', token: unsigned(claims('alice')) })],
    ['two tokens', () => event({ token: 'x' }, { token: ['x', 'y'] })],
  ])('refuses %s with exactly "Unauthorized" (API Gateway: 401)', async (_name, make) => {
    await expect(authorize(make())).rejects.toThrow(new Error(UNAUTHORIZED));
  });

  it('logs why it refused, never the token', async () => {
    logs.length = 0;
    const token = await sign(key, claims('mallory', { exp: NOW - 3600 }));

    await expect(authorize(event({ token }))).rejects.toThrow(UNAUTHORIZED);

    expect(logs).toEqual([{ message: 'connect refused', detail: { connectionId: 'c1', problem: 'expired' } }]);
    expect(JSON.stringify(logs)).not.toContain(token);
  });

  it('fails (API Gateway: 500), not 401, when the keys cannot be had', async () => {
    const broken: TokenVerifier = {
      verify: async () => {
        throw new KeysUnavailableError('down');
      },
    };

    await expect(
      createAuthorizer({ verifier: broken, logger: logger as never })(event({ token: 'a.b.c' })),
    ).rejects.toThrow(KeysUnavailableError);
  });
});

describe('jwt configuration', () => {
  const base = { JWT_ISSUER: 'https://issuer.example', JWT_AUDIENCE: 'streamgate' };

  it('applies the defaults', () => {
    expect(loadIdentityConfig({ ...base, JWT_JWKS_URL: 'https://issuer.example/jwks.json' })).toEqual({
      issuer: 'https://issuer.example',
      audience: 'streamgate',
      keys: { kind: 'jwksUrl', url: 'https://issuer.example/jwks.json' },
      clockSkewSeconds: 30,
      limitClaim: 'streams',
      staff: { claim: 'scope', value: 'streamgate:staff' },
    });
  });

  it('takes a PEM public key and an algorithm list', () => {
    const pem = testKey('RS256', 'r').publicPem;

    const options = loadIdentityConfig({ ...base, JWT_PUBLIC_KEY: pem, JWT_ALGORITHMS: 'RS256, PS256' });

    expect(options).toMatchObject({ keys: { kind: 'publicKey', key: pem }, algorithms: ['RS256', 'PS256'] });
  });

  it.each([
    ['no issuer', { JWT_AUDIENCE: 'a', JWT_JWKS_URL: 'https://i/j' }, /JWT_ISSUER/],
    ['an empty issuer', { ...base, JWT_ISSUER: '', JWT_JWKS_URL: 'https://i/j' }, /JWT_ISSUER/],
    ['no audience', { JWT_ISSUER: 'i', JWT_JWKS_URL: 'https://i/j' }, /JWT_AUDIENCE/],
    ['no key source', base, /exactly one of JWT_JWKS_URL and JWT_PUBLIC_KEY/],
    ['two key sources', { ...base, JWT_JWKS_URL: 'https://i/j', JWT_PUBLIC_KEY: '{}' }, /exactly one/],
    ['a JWKS over plain http', { ...base, JWT_JWKS_URL: 'http://issuer.example/jwks' }, /https/],
    ['HS256 in the allow-list', { ...base, JWT_JWKS_URL: 'https://i/j', JWT_ALGORITHMS: 'RS256,HS256' }, /asymmetric/],
    ['none in the allow-list', { ...base, JWT_JWKS_URL: 'https://i/j', JWT_ALGORITHMS: 'none' }, /asymmetric/],
    ['a symmetric key', { ...base, JWT_PUBLIC_KEY: '{"kty":"oct","k":"c2VjcmV0"}' }, /symmetric/],
    ['a private JWK', { ...base, JWT_PUBLIC_KEY: '{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}' }, /private/],
    [
      'a private PEM',
      { ...base, JWT_PUBLIC_KEY: '-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----' },
      /private/,
    ],
    ['garbage for a key', { ...base, JWT_PUBLIC_KEY: 'hunter2' }, /neither PEM nor JSON/],
    ['a hostile claim name', { ...base, JWT_JWKS_URL: 'https://i/j', JWT_STAFF_CLAIM: '__proto__' }, /claim/],
    ['a skew of an hour', { ...base, JWT_JWKS_URL: 'https://i/j', JWT_CLOCK_SKEW_SECONDS: '3600' }, /SKEW/],
  ])('fails fast on %s', (_name, env, message) => {
    expect(() => loadIdentityConfig(env)).toThrow(message);
  });

  it('allows plain http for a JWKS on loopback (the local stack)', () => {
    const options = loadIdentityConfig({ ...base, JWT_JWKS_URL: 'http://127.0.0.1:3000/.well-known/jwks.json' });

    expect(options.keys).toEqual({ kind: 'jwksUrl', url: 'http://127.0.0.1:3000/.well-known/jwks.json' });
  });
});
