/**
 * The CDK app with identity from the team's own provider (external), synthesized with that context as `npx cdk synth`
 * does; and what the CLI's `cdk synth` says about a placeholder.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BuiltApp, buildApp } from '../../infra/build.js';
import { PROJECT_ROOT } from '../../infra/handler-function.js';
import { SUPPORT_ROUTES } from '../../infra/stack.js';
import { CDK_CLI, context } from '../support/synth.js';

const execFileAsync = promisify(execFile);

describe("When identity is the team's own provider (external)", () => {
  const external = {
    'streamgate:identity': 'external',
    'streamgate:jwtIssuer': 'https://login.acme.net/',
    'streamgate:jwtAudience': 'streamgate-api',
    'streamgate:jwksUrl': 'https://login.acme.net/.well-known/jwks.json',
    'streamgate:jwtAlgorithms': 'RS256,RS384',
    'streamgate:apiGatewayCloudWatchRole': 'existing',
  };
  let other: BuiltApp;
  let otherTemplate: Template;

  beforeAll(() => {
    // Prepare: the same app with another context; no bundling (the bundles do not depend on it).
    other = buildApp({ context: { ...context, ...external, 'aws:cdk:bundling-stacks': [] } });
    otherTemplate = Template.fromStack(other.stack);
  });

  it('makes no user pool, and both HTTP APIs trust the issuer and audience from context', () => {
    otherTemplate.resourceCountIs('AWS::Cognito::UserPool', 0);
    const authorizers = Object.values(otherTemplate.findResources('AWS::ApiGatewayV2::Authorizer')).filter(
      (r) => r.Properties.AuthorizerType === 'JWT',
    );
    expect(authorizers).toHaveLength(2);
    for (const a of authorizers) {
      expect(a.Properties.JwtConfiguration).toEqual({
        Issuer: 'https://login.acme.net/',
        Audience: ['streamgate-api'],
      });
    }
  });

  it('requires the staff scope on every support route, and tells the handlers the same rule and algorithms', () => {
    const scoped = Object.values(otherTemplate.findResources('AWS::ApiGatewayV2::Route')).filter(
      (r) => r.Properties.AuthorizationScopes !== undefined,
    );
    expect(scoped.map((r) => r.Properties.RouteKey).sort()).toEqual(
      SUPPORT_ROUTES.flatMap((r) => r.methods.map((m) => `${m} ${r.path}`)).sort(),
    );
    for (const r of scoped) expect(r.Properties.AuthorizationScopes).toEqual(['streamgate:staff']);
    for (const fn of Object.values(other.stack.functions)) {
      const resource = otherTemplate.toJSON().Resources[other.stack.getLogicalId(fn.node.defaultChild as never)];
      expect(resource.Properties.Environment.Variables).toMatchObject({
        JWT_ISSUER: 'https://login.acme.net/',
        JWT_AUDIENCE: 'streamgate-api',
        JWT_JWKS_URL: 'https://login.acme.net/.well-known/jwks.json',
        JWT_ALGORITHMS: 'RS256,RS384',
        JWT_STAFF_CLAIM: 'scope',
        JWT_STAFF_VALUE: 'streamgate:staff',
      });
    }
  });

  it('lets the pages take a pasted token, and connect to no sign-in service', () => {
    for (const page of ['Console', 'PlayerPage']) {
      const deployment = other.stack.node.findChild(page).node.findChild('Deploy').node.findChild('CustomResource');
      const id = other.stack.getLogicalId(deployment.node.defaultChild as never);
      expect(JSON.stringify(otherTemplate.toJSON().Resources[id].Properties)).not.toContain('amazoncognito');
    }
    expect(JSON.stringify(otherTemplate.findResources('AWS::CloudFront::ResponseHeadersPolicy'))).not.toContain(
      'amazoncognito',
    );
  });

  it("leaves the account's API Gateway logging role alone (apiGatewayCloudWatchRole=existing)", () => {
    otherTemplate.resourceCountIs('AWS::ApiGateway::Account', 0);
    expect(other.stack.apiGatewayLogsRole).toBeUndefined();
  });

  it('passes cdk-nag with nothing left unacknowledged', () => {
    expect(other.nag.validateScope(other.app).violations).toEqual([]);
  });
});

describe('When a deployer runs cdk synth', () => {
  const cdk = (args: string[]) =>
    execFileAsync(process.execPath, [CDK_CLI, 'synth', '-q', '-o', mkdtempSync(join(tmpdir(), 'sg-synth-')), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
      timeout: 120_000,
    }).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

  it('stops with one line naming the key when the issuer is a placeholder', async () => {
    // Act
    const run = await cdk([
      '-c',
      'streamgate:identity=external',
      '-c',
      'streamgate:jwtIssuer=https://auth.example.com/',
      '-c',
      'streamgate:jwtAudience=streamgate',
      '-c',
      'streamgate:jwksUrl=https://login.acme.net/jwks.json',
    ]);
    // Assess: our line, then the CLI's own note that the app exited.
    expect(run.code).not.toBe(0);
    const lines = run.stderr.trim().split('\n');
    const ours = lines.filter((l) => l.includes('streamgate:'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(
      /^invalid CDK context: streamgate:jwtIssuer: "https:\/\/auth\.example\.com\/" is a placeholder/,
    );
    expect(lines.filter((l) => !l.includes('streamgate:') && !/Subprocess exited/.test(l))).toEqual([]);
  }, 120_000);
});
