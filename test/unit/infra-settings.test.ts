import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from '../../infra/settings.js';

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
      jwtIssuer: context['streamgate:jwtIssuer'],
      staffScope: context['streamgate:staffScope'],
      webSocketAccessLogs: true,
      alarmTopicArn: undefined,
    });
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
    ['an http issuer', { 'streamgate:jwtIssuer': 'http://auth.example.com/' }, /jwtIssuer/],
    ['an http key set', { 'streamgate:jwksUrl': 'http://auth.example.com/jwks.json' }, /jwksUrl/],
    ['a missing audience', { 'streamgate:jwtAudience': undefined }, /jwtAudience/],
    ['two scopes in one', { 'streamgate:staffScope': 'a b' }, /staffScope/],
    ['a zero rate', { 'streamgate:stageRateLimit': 0 }, /stageRateLimit/],
    ['an unknown limit policy', { 'streamgate:limitPolicy': 'evict-newest' }, /limitPolicy/],
    ['a retention CloudWatch refuses', { 'streamgate:logRetentionDays': 2 }, /logRetentionDays/],
    ['a flag that is not a boolean', { 'streamgate:webSocketAccessLogs': 'yes' }, /webSocketAccessLogs/],
    ['a topic that is not an SNS ARN', { 'streamgate:alarmTopicArn': 'arn:aws:s3:::bucket' }, /alarmTopicArn/],
  ])('stops synth on %s, naming the key', (_name, overrides, message) => {
    expect(() => readSettings(lookup(overrides))).toThrow(SettingsError);
    expect(() => readSettings(lookup(overrides))).toThrow(message);
  });
});
