import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createTokenVerifier,
  type Identity,
  InvalidTokenError,
  type KeySource,
  type TokenProblem,
  type TokenVerifier,
  type VerifierOptions,
} from '../../core/identity/verify.js';
import {
  AUDIENCE,
  claims,
  hmacWithPublicKey,
  ISSUER,
  NOW,
  sign,
  type TestKey,
  testKey,
  unsigned,
} from '../support/tokens.js';

const SKEW = 30;

let rsa: TestKey;
let ec: TestKey;
let stranger: TestKey;

beforeAll(() => {
  rsa = testKey('RS256', 'rsa-1');
  ec = testKey('ES256', 'ec-1');
  // Same key id as `ec`, another key: what a forger would use.
  stranger = testKey('ES256', 'ec-1');
});

function verifier(keys: KeySource, extra: Partial<VerifierOptions> = {}): TokenVerifier {
  return createTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys,
    clockSkewSeconds: SKEW,
    now: () => new Date(NOW * 1000),
    ...extra,
  });
}
const withJwks = (extra: Partial<VerifierOptions> = {}) =>
  verifier({ kind: 'jwks', jwks: { keys: [rsa.publicJwk, ec.publicJwk] } }, extra);
const withPem = (extra: Partial<VerifierOptions> = {}) => verifier({ kind: 'publicKey', key: rsa.publicPem }, extra);

async function problemOf(v: TokenVerifier, token: string | undefined): Promise<TokenProblem | Identity> {
  try {
    return await v.verify(token);
  } catch (error) {
    if (error instanceof InvalidTokenError) return error.problem;
    throw error;
  }
}

describe('token verifier: valid tokens', () => {
  it('admits an ES256 token from the key set, with sub as the user id', async () => {
    const token = await sign(ec, claims('alice'));

    const identity = await withJwks().verify(token);

    expect(identity).toEqual({
      userId: 'alice',
      staff: false,
      expiresAt: new Date((NOW + 600) * 1000),
      claims: claims('alice'),
    });
  });

  it('admits an RS256 token against a configured PEM public key', async () => {
    const token = await sign(rsa, claims('bob'));

    expect(await withPem().verify(token)).toMatchObject({ userId: 'bob' });
  });

  it('admits a token without a key id when one key fits', async () => {
    const token = await sign(rsa, claims('carol'), { kid: undefined });

    expect(await withPem().verify(token)).toMatchObject({ userId: 'carol' });
  });

  it('reads the plan limit from the configured claim', async () => {
    const [standard, custom] = await Promise.all([
      sign(ec, claims('dave', { streams: 2 })),
      sign(ec, claims('dave', { 'https://example.com/streams': 0 })),
    ]);

    expect(await withJwks().verify(standard)).toMatchObject({ streamLimit: 2 });
    expect(await withJwks({ limitClaim: 'https://example.com/streams' }).verify(custom)).toMatchObject({
      streamLimit: 0,
    });
  });

  it('takes a plan limit written as decimal text, as Cognito writes custom attributes', async () => {
    // Prepare
    const token = await sign(ec, claims('ivan', { 'custom:streams': '5' }));
    // Act
    const identity = await withJwks({ limitClaim: 'custom:streams' }).verify(token);
    // Assess
    expect(identity.streamLimit).toBe(5);
  });

  it('knows staff from the scope claim, or from a groups claim when configured', async () => {
    const [scoped, player, grouped] = await Promise.all([
      sign(ec, claims('erin', { scope: 'openid streamgate:staff profile' })),
      sign(ec, claims('frank', { scope: 'openid profile' })),
      sign(ec, claims('grace', { groups: ['viewers', 'support'] })),
    ]);

    expect(await withJwks().verify(scoped)).toMatchObject({ staff: true });
    expect(await withJwks().verify(player)).toMatchObject({ staff: false });
    expect(await withJwks().verify(grouped)).toMatchObject({ staff: false });
    expect(await withJwks({ staff: { claim: 'groups', value: 'support' } }).verify(grouped)).toMatchObject({
      staff: true,
    });
  });

  it('does not find staff or limit claims on the prototype', async () => {
    const token = await sign(ec, claims('heidi'));

    const identity = await withJwks({ limitClaim: 'constructor', staff: { claim: '__proto__', value: 'x' } }).verify(
      token,
    );

    expect(identity).toEqual({ userId: 'heidi', staff: false, expiresAt: expect.any(Date), claims: claims('heidi') });
  });
});

describe('token verifier: every bad token is refused with its reason', () => {
  const cases: Array<[string, () => Promise<string | undefined>, TokenProblem]> = [
    ['missing', async () => undefined, 'missing'],
    ['empty', async () => '', 'missing'],
    ['expired', () => sign(ec, claims('u', { exp: NOW - SKEW - 1 })), 'expired'],
    ['not yet valid', () => sign(ec, claims('u', { nbf: NOW + SKEW + 1 })), 'notYetValid'],
    ['signed by another key with the same kid', () => sign(stranger, claims('u')), 'badSignature'],
    ['from another issuer', () => sign(ec, claims('u', { iss: 'https://evil.example' })), 'wrongIssuer'],
    ['for another audience', () => sign(ec, claims('u', { aud: 'other-service' })), 'wrongAudience'],
    ['without an audience', () => sign(ec, claims('u', { aud: undefined })), 'wrongAudience'],
    ['with an unknown key id', () => sign(ec, claims('u'), { kid: 'rotated-away' }), 'unknownKey'],
    ['alg none', async () => unsigned(claims('u'), 'ec-1'), 'algorithmNotAllowed'],
    ['HS256 keyed with the RSA public key', async () => hmacWithPublicKey(rsa, claims('u')), 'algorithmNotAllowed'],
    ['one segment', async () => 'eyJhbGciOiJFUzI1NiJ9', 'malformed'],
    ['base64 garbage', async () => 'not.a.jwt', 'malformed'],
    ['with spaces', async () => 'a b.c.d', 'malformed'],
    ['huge', async () => `${'a'.repeat(9000)}.b.c`, 'malformed'],
    ['without exp', () => sign(ec, claims('u', { exp: undefined })), 'badClaims'],
    ['without sub', () => sign(ec, claims('u', { sub: undefined })), 'badClaims'],
    ['with a sub outside the alphabet', () => sign(ec, claims('a b/c')), 'badClaims'],
    ['with a limit over 100', () => sign(ec, claims('u', { streams: 101 })), 'badClaims'],
    ['with a fractional limit', () => sign(ec, claims('u', { streams: 2.5 })), 'badClaims'],
    ['with a limit as text that is not a number', () => sign(ec, claims('u', { streams: 'three' })), 'badClaims'],
    ['with a limit as text over 100', () => sign(ec, claims('u', { streams: '101' })), 'badClaims'],
    ['with a limit as signed text', () => sign(ec, claims('u', { streams: '+3' })), 'badClaims'],
  ];

  it.each(cases)('%s (key set)', async (_name, make, problem) => {
    const token = await make();

    expect(await problemOf(withJwks(), token)).toBe(problem);
  });

  it.each([
    ['alg none', () => unsigned(claims('u')), 'algorithmNotAllowed'],
    ['HS256 keyed with the RSA public key', () => hmacWithPublicKey(rsa, claims('u')), 'algorithmNotAllowed'],
  ] as const)('%s (configured PEM key)', async (_name, make, problem) => {
    expect(await problemOf(withPem(), make())).toBe(problem);
  });

  it('refuses HS256 with the public key even when HS256 is forced into the allow-list', async () => {
    const forced = withPem({ algorithms: ['HS256'] as never });

    expect(await problemOf(forced, hmacWithPublicKey(rsa, claims('u')))).toBe('algorithmNotAllowed');
  });

  it('refuses an RS256 token when only ES256 is allowed', async () => {
    const token = await sign(rsa, claims('u'));

    expect(await problemOf(withJwks({ algorithms: ['ES256'] }), token)).toBe('algorithmNotAllowed');
  });
});

describe('token verifier: properties', () => {
  it('accepts exp exactly while it is later than now minus the skew', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -3 * SKEW, max: 3 * SKEW }), async (offset) => {
        const token = await sign(ec, claims('u', { iat: NOW - 3600, exp: NOW + offset }));

        const outcome = await problemOf(withJwks(), token);

        expect(outcome === 'expired').toBe(offset <= -SKEW);
      }),
      { numRuns: 60 },
    );
  });

  it('accepts nbf exactly up to now plus the skew', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -3 * SKEW, max: 3 * SKEW }), async (offset) => {
        const token = await sign(ec, claims('u', { nbf: NOW + offset }));

        const outcome = await problemOf(withJwks(), token);

        expect(outcome === 'notYetValid').toBe(offset > SKEW);
      }),
      { numRuns: 60 },
    );
  });

  it('takes sub as the user id exactly when it fits the user id alphabet', async () => {
    const alphabet = /^[A-Za-z0-9._\-:@]{1,128}$/;
    const sub = fc.oneof(
      fc.string({ maxLength: 140 }),
      fc.stringMatching(/^[A-Za-z0-9._\-:@]{1,130}$/),
      fc.constantFrom('__proto__', 'constructor', '', ' ', 'a\u0000b', 'é'),
    );
    await fc.assert(
      fc.asyncProperty(sub, async (userId) => {
        const token = await sign(ec, claims(userId));

        const outcome = await problemOf(withJwks(), token);

        if (alphabet.test(userId)) expect(outcome).toMatchObject({ userId });
        else expect(outcome).toBe('badClaims');
      }),
      { numRuns: 80 },
    );
  });

  it('takes the limit claim exactly when it is a whole number from 0 to 100', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (limit) => {
        const token = await sign(ec, claims('u', { streams: limit }));

        const outcome = await problemOf(withJwks(), token);

        if (Number.isInteger(limit) && (limit as number) >= 0 && (limit as number) <= 100) {
          // JSON has no negative zero: -0 travels as 0 (adding 0 turns -0 into 0).
          expect(outcome).toMatchObject({ streamLimit: (limit as number) + 0 });
        } else if (typeof limit === 'string' && /^\d{1,3}$/.test(limit) && Number(limit) <= 100) {
          // Its decimal text too, as Cognito writes custom attributes (`custom:streams`).
          expect(outcome).toMatchObject({ streamLimit: Number(limit) });
        } else if (limit === null || limit === undefined) {
          // JSON drops undefined; a null claim is not a number either
          expect(outcome === 'badClaims' || (outcome as Identity).streamLimit === undefined).toBe(true);
        } else expect(outcome).toBe('badClaims');
      }),
      { numRuns: 80 },
    );
  });

  it('refuses any string that is not a token it issued, and never fails otherwise', async () => {
    const v = withJwks();
    const segment = fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/);
    const junk = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
      fc
        .tuple(fc.jsonValue(), fc.jsonValue(), segment)
        .map(
          ([h, p, s]) =>
            `${Buffer.from(JSON.stringify(h) ?? '').toString('base64url')}.${Buffer.from(JSON.stringify(p) ?? '').toString('base64url')}.${s}`,
        ),
    );
    await fc.assert(
      fc.asyncProperty(junk, async (token) => {
        await expect(v.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a valid token with any one character of its payload changed', async () => {
    const token = await sign(ec, claims('alice', { streams: 3 }));
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const v = withJwks();
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: payload.length - 1 }),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
        async (at, replacement) => {
          fc.pre(payload[at] !== replacement);
          const tampered = `${header}.${payload.slice(0, at)}${replacement}${payload.slice(at + 1)}.${signature}`;

          await expect(v.verify(tampered)).rejects.toBeInstanceOf(InvalidTokenError);
        },
      ),
      { numRuns: 100 },
    );
  });
});
