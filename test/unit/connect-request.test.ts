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
  ])('refuses %j with %i', (query, status) => {
    const parsed = parseConnect(event(query));
    expect(parsed).toMatchObject({ ok: false, statusCode: status });
  });

  it('accepts a 128-character device label in any script', () => {
    const parsed = parseConnect(event({ userId: ['alice'], device: ['телевизор'.padEnd(128, '✓')] }));
    expect(parsed.ok).toBe(true);
  });
});
