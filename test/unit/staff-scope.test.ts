/**
 * The staff check reads a token's scopes as API Gateway's HTTP JWT authorizer does for a route's authorization
 * scopes (`scope` or `scp`, space-separated or a list; commas are part of a scope), in both places it runs: the
 * verifier (the local stack's emulation of that authorizer) on the token, and the support handler on the claims API
 * Gateway hands it (every claim a string, lists flattened to "[a b]"). Same tokens, same answers.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { createTokenVerifier, type TokenVerifier } from '../../core/identity/verify.js';
import { createRuntime } from '../../handlers/lib/runtime.js';
import { createSupportHandler, type SupportEvent } from '../../handlers/routes/support.js';
import { AUDIENCE, claims, ISSUER, NOW, sign, type TestKey, testKey } from '../support/tokens.js';

const STAFF = 'streamgate:staff';

/** Extra claims of a token, and whether API Gateway's authorizer finds the staff scope in them. */
const TOKENS: [string, Record<string, unknown>, boolean][] = [
  ['the scope alone', { scope: STAFF }, true],
  ['the scope among others, space-separated', { scope: `openid ${STAFF} profile` }, true],
  ['the scope with doubled spaces around it', { scope: `openid  ${STAFF}  email` }, true],
  ['the scope in `scp` (Okta, Entra ID)', { scp: STAFF }, true],
  ['the scope in an `scp` list', { scp: ['openid', STAFF] }, true],
  ['the scope in a `scope` list', { scope: ['email', STAFF] }, true],
  ['another scope in `scope`, the staff scope in `scp`', { scope: 'openid', scp: STAFF }, true],
  ['no scope', {}, false],
  ['other scopes', { scope: 'openid profile' }, false],
  ['comma-separated scopes (one scope token with a comma)', { scope: `openid,${STAFF}` }, false],
  ['a look-alike scope', { scope: `${STAFF}-lite` }, false],
  ['the scope in upper case', { scope: STAFF.toUpperCase() }, false],
  ['the staff value in another claim', { groups: STAFF }, false],
  ['the scope as a number', { scope: 42 }, false],
];

/** What API Gateway's HTTP JWT authorizer passes to the integration: every claim as text, lists as "[a b]". */
function asApiGatewayClaims(payload: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(payload).map(([k, v]) => [
      k,
      typeof v === 'string' ? v : Array.isArray(v) ? `[${v.join(' ')}]` : JSON.stringify(v),
    ]),
  );
}

function supportEvent(jwtClaims: Record<string, string>): SupportEvent {
  const path = '/users/alice/limit';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: {},
    isBase64Encoded: false,
    // A body the route refuses (400) once the caller is known to be staff: no store call is made either way.
    body: '{"limit": "many"}',
    requestContext: {
      accountId: 'a',
      apiId: 'a',
      domainName: 'd',
      domainPrefix: 'd',
      http: { method: 'PUT', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: '' },
      requestId: 'r',
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: 0,
      authorizer: { jwt: { claims: jwtClaims, scopes: null } },
    },
  } as SupportEvent;
}

describe('When a token may carry the staff scope', () => {
  let key: TestKey;
  let verifier: TokenVerifier;
  const handler = createSupportHandler(
    createRuntime(
      loadConfig({
        TABLE_NAME: 'streamgate',
        MANAGEMENT_ENDPOINT: 'http://127.0.0.1:9',
        DYNAMODB_ENDPOINT: 'http://127.0.0.1:9',
        AUTH_MODE: 'jwt',
      }),
      { logLevel: 'SILENT' },
    ),
  );

  beforeAll(() => {
    key = testKey('RS256', 'rsa-staff');
    verifier = createTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: { kind: 'jwks', jwks: { keys: [key.publicJwk] } },
      now: () => new Date(NOW * 1000),
    });
  });

  it.each(TOKENS)('reads %s the same in the verifier and in the support handler', async (_name, extra, staff) => {
    // Prepare
    const payload = claims('agent-7', extra);
    const token = await sign(key, payload);

    // Act
    const identity = await verifier.verify(token);
    const answer = await handler(supportEvent(asApiGatewayClaims(payload)));

    // Assess: staff get past the check to the body's refusal (400); others are refused as not staff (403).
    expect(identity.staff).toBe(staff);
    expect(answer.statusCode).toBe(staff ? 400 : 403);
  });
});
