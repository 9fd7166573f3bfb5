/**
 * The CDK app's template, part: both web pages behind CloudFront, the Cognito identity and the API Gateway logging
 * role. Synthesized once for this file, without bundling, with the context in cdk.json, as `npx cdk synth` does.
 */
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIMIT_ATTRIBUTE, STAFF_GROUP } from '../../infra/identity.js';
import { CONSOLE_API_PATHS, WEBSOCKET_STAGE } from '../../infra/stack.js';
import { helpersOf, type Synthesized, synthesize } from '../support/synth.js';

// Prepare: one synthesis for every test in this file.
let { built, template, fnIds } = {} as Synthesized;
beforeAll(() => ({ built, template, fnIds } = synthesize({ bundle: false })));
const { resources, ids, poolIssuer, handlerFunctions, pageDeployment } = helpersOf(() => ({ built, template }));

describe('When support staff open the console', () => {
  it('keeps the files in a private, encrypted bucket that refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    const policy = JSON.stringify(template.findResources('AWS::S3::BucketPolicy'));
    expect(policy).toContain('aws:SecureTransport');
  });

  it('serves them through CloudFront with origin access control, HTTPS only and a content security policy', () => {
    const oac = new Capture();
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
        Origins: [Match.objectLike({ OriginAccessControlId: oac })],
      }),
    });
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always' }),
    });
    for (const [, policy] of resources('AWS::CloudFront::ResponseHeadersPolicy')) {
      const csp = JSON.stringify(
        (policy.Properties.ResponseHeadersPolicyConfig as Record<string, Record<string, unknown>>)
          .SecurityHeadersConfig!.ContentSecurityPolicy,
      );
      expect(csp).toContain("default-src 'none'; script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
    }
  });

  it('calls the support API on its own origin: CloudFront routes the API paths there, nothing cached, no CORS', () => {
    const consoleCdn = built.stack.getLogicalId(built.stack.supportConsole.distribution.node.defaultChild as never);
    const config = template.toJSON().Resources[consoleCdn].Properties.DistributionConfig;
    const supportApiId = built.stack.getLogicalId(built.stack.supportApi.node.defaultChild as never);
    const apiOrigin = config.Origins.find((o: { DomainName: unknown }) =>
      JSON.stringify(o.DomainName).includes(supportApiId),
    );
    expect(apiOrigin).toMatchObject({ CustomOriginConfig: { OriginProtocolPolicy: 'https-only' } });
    const behaviors = config.CacheBehaviors as Record<string, unknown>[];
    expect(behaviors.map((b) => b.PathPattern).sort()).toEqual([...CONSOLE_API_PATHS].sort());
    for (const behavior of behaviors) {
      expect(behavior).toMatchObject({
        TargetOriginId: apiOrigin.Id,
        ViewerProtocolPolicy: 'https-only',
        // CachingDisabled and AllViewerExceptHostHeader (the bearer token reaches API Gateway, the Host does not).
        CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
        OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
        AllowedMethods: expect.arrayContaining(['GET', 'PUT', 'DELETE']),
      });
    }
    const supportApi = template.toJSON().Resources[supportApiId].Properties;
    expect(supportApi.CorsConfiguration).toBeUndefined();
  });

  it("lets the console's scripts connect to its own origin and Cognito's sign-in only", () => {
    const csp = new Capture();
    const consoleHeaders = built.stack.supportConsole.node.findChild('Headers').node.defaultChild as never;
    Template.fromJSON({
      Resources: { H: template.toJSON().Resources[built.stack.getLogicalId(consoleHeaders)] },
    }).hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          ContentSecurityPolicy: { ContentSecurityPolicy: csp, Override: true },
        }),
      }),
    });
    const text = JSON.stringify(csp.asObject());
    const connect = text.slice(text.indexOf('connect-src'), text.indexOf(';', text.indexOf('amazoncognito')));
    const ref = (id: string) => JSON.stringify({ Ref: id });
    expect(connect).toBe(
      `connect-src 'self' https://",${ref(ids().domain)},".auth.",${ref('AWS::Region')},".amazoncognito.com`,
    );
  });

  it('uploads the files, the shared sign-in module, uPlot and a config.json with the hosted sign-in of the staff client', () => {
    const deployment = pageDeployment('Console');
    // its files, the shared ones, config.json, uPlot's script and its stylesheet
    expect(deployment.Properties.SourceObjectKeys).toHaveLength(5);
    const markers = JSON.stringify(deployment.Properties.SourceMarkers);
    expect(markers).toContain(`{"Ref":"${ids().staffClient}"}`);
    expect(markers).toContain(`{"Ref":"${ids().domain}"}`);
  });
});

describe('When a player opens the demo player page', () => {
  it('serves it from a private bucket through a CloudFront distribution of its own, HTTPS only', () => {
    const cdn = built.stack.playerPage.distribution.node.defaultChild as never;
    const config = template.toJSON().Resources[built.stack.getLogicalId(cdn)].Properties.DistributionConfig;
    expect(config).toMatchObject({
      DefaultRootObject: 'index.html',
      DefaultCacheBehavior: expect.objectContaining({ ViewerProtocolPolicy: 'redirect-to-https' }),
      Origins: [expect.objectContaining({ OriginAccessControlId: expect.anything() })],
    });
    expect(built.stack.playerPage.distribution).not.toBe(built.stack.supportConsole.distribution);
    template.resourceCountIs('AWS::CloudFront::Distribution', 2);
  });

  it('writes its config.json with the WebSocket URL, the player API and the hosted sign-in of the player client', () => {
    const deployment = pageDeployment('PlayerPage');
    const markers = JSON.stringify(deployment.Properties.SourceMarkers);
    const wsApiId = built.stack.getLogicalId(built.stack.webSocketApi.node.defaultChild as never);
    const playerApiId = built.stack.getLogicalId(built.stack.playerApi.node.defaultChild as never);
    expect(markers).toContain(`{"Ref":"${wsApiId}"}`);
    expect(markers).toContain(`{"Fn::GetAtt":["${playerApiId}","ApiEndpoint"]}`);
    expect(markers).toContain(`{"Ref":"${ids().playerClient}"}`);
    expect(markers).toContain(`{"Ref":"${ids().domain}"}`);
  });

  it("uploads the player SDK's bundle beside the page, which imports it (its files, the shared ones, config, SDK)", () => {
    expect(pageDeployment('PlayerPage').Properties.SourceObjectKeys).toHaveLength(4);
  });

  it("lets the player's scripts connect to the WebSocket API, the player API and Cognito's sign-in", () => {
    const headers = built.stack.playerPage.node.findChild('Headers').node.defaultChild as never;
    const csp = JSON.stringify(template.toJSON().Resources[built.stack.getLogicalId(headers)].Properties);
    const wsApiId = built.stack.getLogicalId(built.stack.webSocketApi.node.defaultChild as never);
    const playerApiId = built.stack.getLogicalId(built.stack.playerApi.node.defaultChild as never);
    expect(csp).toContain("connect-src 'self' wss://");
    expect(csp).toContain(`{"Ref":"${wsApiId}"}`);
    expect(csp).toContain(`{"Ref":"${playerApiId}"}`);
    expect(csp).toContain('.amazoncognito.com;');
    expect(csp).not.toMatch(/https:[;'"]/);
  });
});

describe('When identity is Cognito (the default)', () => {
  it('makes a user pool nobody signs up to alone, whose plan limit attribute players cannot write', () => {
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    template.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        Schema: Match.arrayWith([
          Match.objectLike({ Name: LIMIT_ATTRIBUTE, AttributeDataType: 'Number', Mutable: true }),
        ]),
        UserPoolTier: 'LITE',
      }),
    });
    for (const client of [ids().playerClient, ids().staffClient]) {
      const props = template.toJSON().Resources[client].Properties;
      expect(props.ReadAttributes).toContain(`custom:${LIMIT_ATTRIBUTE}`);
      expect(props.WriteAttributes).not.toContain(`custom:${LIMIT_ATTRIBUTE}`);
    }
  });

  it.each([
    ['player', 'playerClient', 'PlayerPage'],
    ['staff', 'staffClient', 'Console'],
  ] as const)('makes a %s app client: code flow with PKCE, no secret, returning to its page', (_name, client, page) => {
    const props = template.toJSON().Resources[ids()[client]].Properties;
    const cdn = (built.stack.node.findChild(page).node.findChild('Cdn') as never as { node: { defaultChild: never } })
      .node.defaultChild;
    const pageUrl = {
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [built.stack.getLogicalId(cdn), 'DomainName'] }, '/']],
    };
    expect(props).toMatchObject({
      UserPoolId: { Ref: ids().pool },
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: expect.arrayContaining(['openid']),
      CallbackURLs: [pageUrl],
      LogoutURLs: [pageUrl],
      SupportedIdentityProviders: ['COGNITO'],
      ExplicitAuthFlows: expect.arrayContaining(['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH']),
    });
    expect(props.ExplicitAuthFlows).not.toContain('ALLOW_USER_PASSWORD_AUTH');
  });

  it('makes the staff group and the hosted sign-in domain, unique to the stack', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolGroup', {
      GroupName: STAFF_GROUP,
      UserPoolId: { Ref: ids().pool },
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      UserPoolId: { Ref: ids().pool },
      Domain: {
        'Fn::Join': ['', ['streamgate-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]],
      },
    });
  });

  it('wires every authorizer to the pool: the socket, the player API and the support API', () => {
    const jwt = resources('AWS::ApiGatewayV2::Authorizer').filter(([, r]) => r.Properties.AuthorizerType === 'JWT');
    expect(jwt).toHaveLength(2);
    for (const [, authorizer] of jwt) {
      expect((authorizer.Properties.JwtConfiguration as { Issuer: unknown }).Issuer).toEqual(poolIssuer());
    }
    const [, authorizerFn] = handlerFunctions().find(([id]) => id === fnIds.Authorizer)!;
    const env = (authorizerFn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env.JWT_ISSUER).toEqual(poolIssuer());
    expect(env.JWT_ALGORITHMS).toBe('RS256');
  });
});

describe('When API Gateway writes the WebSocket access logs', () => {
  it("makes the account's logging role and sets it, keeping both when the stack goes", () => {
    const roleId = built.stack.getLogicalId(built.stack.apiGatewayLogsRole!.node.defaultChild as never);
    template.hasResource('AWS::IAM::Role', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })],
        }),
      }),
    });
    const account = new Capture();
    template.hasResource('AWS::ApiGateway::Account', {
      DeletionPolicy: 'Retain',
      Properties: { CloudWatchRoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] } },
    });
    template.hasResource('AWS::ApiGatewayV2::Stage', {
      Properties: Match.objectLike({ StageName: WEBSOCKET_STAGE }),
      DependsOn: Match.arrayWith([account]),
    });
    expect(account.asString()).toMatch(/^ApiGatewayAccount/);
  });
});
