import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identityOf, placeholder, readSettings, SettingsError } from '../../infra/settings.js';

const context: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
).context;
const lookup = (overrides: Record<string, unknown>) => (key: string) =>
  key in overrides ? overrides[key] : context[key];

describe('When the CDK app reads its context', () => {
  it('takes the values in cdk.json', () => {
    // Act
    const settings = readSettings(lookup({}));
    // Assess
    expect(settings).toMatchObject({
      stageRateLimit: context['streamgate:stageRateLimit'],
      identity: 'cognito',
      webSocketAccessLogs: true,
      apiGatewayCloudWatchRole: 'create',
      alarmTopicArn: undefined,
    });
    expect(identityOf(settings)).toEqual({ kind: 'cognito', domainPrefix: undefined });
  });

  it('takes either policy at the limit', () => {
    expect(readSettings(lookup({ 'streamgate:limitPolicy': 'evict-oldest' })).limitPolicy).toBe('evict-oldest');
    expect(readSettings(lookup({})).limitPolicy).toBe('block-new');
  });

  it('accepts -c values, which arrive as strings', () => {
    const settings = readSettings(
      lookup({ 'streamgate:sweepRateMinutes': '5', 'streamgate:webSocketAccessLogs': 'false' }),
    );
    expect(settings.sweepRateMinutes).toBe(5);
    expect(settings.webSocketAccessLogs).toBe(false);
  });

  it.each([
    ['a zero rate', { 'streamgate:stageRateLimit': 0 }, /stageRateLimit/],
    ['an unknown limit policy', { 'streamgate:limitPolicy': 'evict-newest' }, /limitPolicy/],
    ['a retention CloudWatch refuses', { 'streamgate:logRetentionDays': 2 }, /logRetentionDays/],
    ['a flag that is not a boolean', { 'streamgate:webSocketAccessLogs': 'yes' }, /webSocketAccessLogs/],
    ['an unknown logging role choice', { 'streamgate:apiGatewayCloudWatchRole': 'borrow' }, /apiGatewayCloudWatchRole/],
    ['a topic that is not an SNS ARN', { 'streamgate:alarmTopicArn': 'arn:aws:s3:::bucket' }, /alarmTopicArn/],
    ['an unknown identity', { 'streamgate:identity': 'ldap' }, /streamgate:identity: identity must be/],
    ['an issuer under cognito', { 'streamgate:jwtIssuer': 'https://login.acme.net/' }, /jwtIssuer: applies to/],
    ['a domain prefix Cognito refuses', { 'streamgate:cognitoDomainPrefix': 'my-aws-login' }, /cognitoDomainPrefix/],
    ['a domain prefix with capitals', { 'streamgate:cognitoDomainPrefix': 'Streamgate' }, /cognitoDomainPrefix/],
  ])('stops synth on %s, naming the key', (_name, overrides, message) => {
    expect(() => readSettings(lookup(overrides))).toThrow(SettingsError);
    expect(() => readSettings(lookup(overrides))).toThrow(message);
  });
});

describe("When the deployer brings the team's own identity provider (identity=external)", () => {
  const external = {
    'streamgate:identity': 'external',
    'streamgate:jwtIssuer': 'https://login.acme.net/',
    'streamgate:jwtAudience': 'streamgate',
    'streamgate:jwksUrl': 'https://login.acme.net/.well-known/jwks.json',
  };

  it('takes its issuer, audience and keys, with RS256, the streams claim and the staff scope by default', () => {
    // Act
    const settings = readSettings(lookup(external));
    // Assess
    expect(identityOf(settings)).toEqual({
      kind: 'external',
      issuer: 'https://login.acme.net/',
      audience: 'streamgate',
      jwksUrl: 'https://login.acme.net/.well-known/jwks.json',
      algorithms: ['RS256'],
      limitClaim: 'streams',
      staffScope: 'streamgate:staff',
    });
  });

  it('takes any RSA algorithms, as a list or as -c text', () => {
    expect(readSettings(lookup({ ...external, 'streamgate:jwtAlgorithms': 'RS256,RS512' })).jwtAlgorithms).toEqual([
      'RS256',
      'RS512',
    ]);
    expect(readSettings(lookup({ ...external, 'streamgate:jwtAlgorithms': ['RS384'] })).jwtAlgorithms).toEqual([
      'RS384',
    ]);
  });

  it.each([
    [
      'a placeholder issuer',
      { 'streamgate:jwtIssuer': 'https://auth.example.com/' },
      /jwtIssuer: "https:\/\/auth\.example\.com\/" is a placeholder/,
    ],
    [
      'a placeholder key set',
      { 'streamgate:jwksUrl': 'https://example.org/jwks.json' },
      /jwksUrl: .* is a placeholder \(example\.org/,
    ],
    ['an empty audience', { 'streamgate:jwtAudience': '' }, /jwtAudience: is empty/],
    [
      'a missing issuer',
      { 'streamgate:jwtIssuer': undefined },
      /jwtIssuer: required with streamgate:identity=external/,
    ],
    [
      'an http issuer',
      { 'streamgate:jwtIssuer': 'http://login.acme.net/' },
      /jwtIssuer: jwtIssuer must be an https URL/,
    ],
    ['an http key set', { 'streamgate:jwksUrl': 'http://login.acme.net/jwks.json' }, /jwksUrl/],
    [
      'ES256, which API Gateway cannot verify',
      { 'streamgate:jwtAlgorithms': 'RS256,ES256' },
      /jwtAlgorithms: .*RSA signatures only/,
    ],
    ['HS256', { 'streamgate:jwtAlgorithms': ['HS256'] }, /jwtAlgorithms: .*RSA signatures only/],
    ['two scopes in one', { 'streamgate:staffScope': 'a b' }, /staffScope/],
    ['a Cognito domain prefix', { 'streamgate:cognitoDomainPrefix': 'acme-login' }, /cognitoDomainPrefix: applies to/],
  ])('stops synth on %s with one line naming the key', (_name, overrides, message) => {
    // Act
    let error: unknown;
    try {
      readSettings(lookup({ ...external, ...overrides }));
    } catch (e) {
      error = e;
    }
    // Assess
    expect(error).toBeInstanceOf(SettingsError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('takes every host reserved for examples as a placeholder, and real hosts not', () => {
    const reserved = fc.constantFrom(
      'example.com',
      'example.org',
      'example.net',
      'login.example',
      'a.invalid',
      'x.test',
    );
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { maxLength: 3 }), reserved, fc.webPath(), (labels, host, path) => {
        expect(placeholder(`https://${[...labels, host].join('.')}${path}`)).toMatch(/is a placeholder/);
      }),
    );
    fc.assert(
      fc.property(label, fc.constantFrom('com', 'net', 'io', 'de'), (name, tld) => {
        fc.pre(!/^(example|invalid|test|localhost)$/.test(name));
        expect(placeholder(`https://login.${name}.${tld}/`)).toBeUndefined();
      }),
    );
  });
});
