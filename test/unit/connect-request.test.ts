import { describe, expect, it } from 'vitest';
import { parseConnect } from '../../handlers/lib/connect-request.js';
import { wsEvent } from '../support/events.js';

const event = (query: Record<string, string[]>) =>
  wsEvent('CONNECT', 'c1', 1_700_000_000_000, {
    queryStringParameters: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v[v.length - 1]])),
    multiValueQueryStringParameters: query,
  });

describe('parseConnect', () => {
  it('builds a request from the query and the request context', () => {
    const parsed = parseConnect(event({ userId: ['alice'], streamId: ['movie:1'], device: ['TV'] }));

    expect(parsed).toEqual({
      ok: true,
      request: {
        connectionId: 'c1',
        userId: 'alice',
        streamId: 'movie:1',
        device: 'TV',
        sourceIp: '127.0.0.1',
        userAgent: undefined,
        connectedAt: 1_700_000_000_000,
      },
    });
  });

  it('records resume=1 (a player that reconnects by itself), and nothing for resume=0 or none', () => {
    const resumed = parseConnect(event({ userId: ['alice'], resume: ['1'] }));
    const not = parseConnect(event({ userId: ['alice'], resume: ['0'] }));
    const none = parseConnect(event({ userId: ['alice'] }));

    expect(resumed.ok && resumed.request.resume).toBe(true);
    expect(not.ok && 'resume' in not.request).toBe(false);
    expect(none.ok && 'resume' in none.request).toBe(false);
  });

  it('treats empty optional parameters as absent', () => {
    const parsed = parseConnect(event({ userId: ['alice'], streamId: [''], device: [''] }));
    expect(parsed.ok && parsed.request).toMatchObject({ streamId: undefined, device: undefined });
  });

  it.each([
    [{}, 401],
    [{ userId: [''] }, 401],
    [{ userId: ['a', 'b'] }, 400],
    [{ userId: ['al ice'] }, 400],
    [{ userId: ['x'.repeat(129)] }, 400],
    [{ userId: ['alice'], streamId: ['s'.repeat(129)] }, 400],
    [{ userId: ['alice'], streamId: ['a', 'b'] }, 400],
    [{ userId: ['alice'], device: ['d'.repeat(129)] }, 400],
    [{ userId: ['alice'], device: ['tab\there'] }, 400],
    [{ userId: ['alice'], resume: ['yes'] }, 400],
    [{ userId: ['alice'], resume: ['1', '1'] }, 400],
  ])('refuses %j with %i', (query, status) => {
    const parsed = parseConnect(event(query));
    expect(parsed).toMatchObject({ ok: false, statusCode: status });
  });

  it('accepts a 128-character device label in any script', () => {
    const parsed = parseConnect(event({ userId: ['alice'], device: ['телевизор'.padEnd(128, '✓')] }));
    expect(parsed.ok).toBe(true);
  });

  describe('in jwt mode', () => {
    const withAuthorizer = (authorizer: Record<string, unknown> | undefined, query: Record<string, string[]> = {}) => {
      const e = event(query);
      e.requestContext.authorizer = authorizer;
      return e;
    };

    it('takes the user and the plan limit from the authorizer, never from the query', () => {
      const parsed = parseConnect(
        withAuthorizer({ principalId: 'alice', userId: 'alice', streamLimit: '5' }, { userId: ['mallory'] }),
        'jwt',
      );

      expect(parsed.ok && parsed.request).toMatchObject({ userId: 'alice', planLimit: 5 });
    });

    it('accepts the limit as a number too, and no limit at all', () => {
      expect(parseConnect(withAuthorizer({ userId: 'a', streamLimit: 0 }), 'jwt')).toMatchObject({
        ok: true,
        request: { planLimit: 0 },
      });
      const parsed = parseConnect(withAuthorizer({ userId: 'a' }), 'jwt');
      expect(parsed.ok && 'planLimit' in parsed.request).toBe(false);
    });

    it.each([
      ['no authorizer (a route deployed without it)', undefined, {}],
      ['a userId in the query only', undefined, { userId: ['alice'] }],
      ['an authorizer without a user', { principalId: 'x' }, {}],
      ['a user outside the alphabet', { userId: 'a b' }, {}],
      ['a limit over 100', { userId: 'a', streamLimit: '101' }, {}],
      ['a limit that is not a number', { userId: 'a', streamLimit: '3; drop' }, {}],
      ['a fractional limit', { userId: 'a', streamLimit: 2.5 }, {}],
    ])('refuses %s with 401', (_name, authorizer, query) => {
      expect(parseConnect(withAuthorizer(authorizer, query), 'jwt')).toMatchObject({ ok: false, statusCode: 401 });
    });
  });
});
