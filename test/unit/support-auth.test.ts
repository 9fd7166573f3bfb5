/** The support handler's own check of the staff identity, before any route runs (no store call is made). */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { createRuntime } from '../../handlers/lib/runtime.js';
import { createSupportHandler, type SupportEvent } from '../../handlers/routes/support.js';

const env = {
  TABLE_NAME: 'streamgate',
  MANAGEMENT_ENDPOINT: 'http://127.0.0.1:9',
  DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
};

function event(
  authorizer: SupportEvent['requestContext']['authorizer'],
  path = '/users/alice/connections',
): SupportEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: {},
    isBase64Encoded: false,
    requestContext: {
      accountId: 'a',
      apiId: 'a',
      domainName: 'd',
      domainPrefix: 'd',
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: '' },
      requestId: 'r',
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: 0,
      authorizer,
    },
  } as SupportEvent;
}

describe('support handler in jwt mode', () => {
  const handler = createSupportHandler(createRuntime(loadConfig({ ...env, AUTH_MODE: 'jwt' }), { logLevel: 'SILENT' }));

  it.each([
    ['no authorizer at all (a route deployed without one)', undefined],
    ['an IAM identity', { iam: { userArn: 'arn:aws:iam::1:user/x' } }],
    ['claims without a subject', { jwt: { claims: { scope: 'streamgate:staff' } } }],
  ])('refuses %s with 401', async (_name, authorizer) => {
    const result = await handler(event(authorizer));

    expect(result.statusCode).toBe(401);
    expect(JSON.parse(result.body!)).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
  });

  it.each([
    ['no scope', { sub: 'p' }],
    ['other scopes', { sub: 'p', scope: 'openid profile' }],
    ['a look-alike scope', { sub: 'p', scope: 'streamgate:staff-lite' }],
    ['the staff value in another claim', { sub: 'p', groups: 'streamgate:staff' }],
  ])('refuses a token with %s with 403', async (_name, claims) => {
    const result = await handler(event({ jwt: { claims } }));

    expect(result.statusCode).toBe(403);
    expect(JSON.parse(result.body!).error.code).toBe('FORBIDDEN');
  });

  it('reads groups flattened by API Gateway when the staff rule names a groups claim', async () => {
    const groups = createSupportHandler(
      createRuntime(loadConfig({ ...env, AUTH_MODE: 'jwt', JWT_STAFF_CLAIM: 'groups', JWT_STAFF_VALUE: 'support' }), {
        logLevel: 'SILENT',
      }),
    );

    const refused = await groups(
      event({ jwt: { claims: { sub: 'p', groups: '[viewers]' } } }, '/users/a b/connections'),
    );
    const passed = await groups(
      event({ jwt: { claims: { sub: 's', groups: '[viewers support]' } } }, '/users/a b/connections'),
    );

    expect(refused.statusCode).toBe(403);
    // past the staff check, the route's own validation answers (no store call for a bad user id)
    expect(passed.statusCode).toBe(400);
  });

  it('answers /health without an identity (with the truth: the store here is a closed port)', async () => {
    const result = await handler(event(undefined, '/health'));

    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body!)).toEqual({ status: 'unavailable', reason: expect.stringMatching(/store/) });
  });
});
