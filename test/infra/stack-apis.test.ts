/**
 * The CDK app's template, part: the APIs players and staff call (the WebSocket API and its routes, the support and
 * player HTTP APIs) and the sweep's schedule. Synthesized once for this file, without bundling, with the context in
 * cdk.json, cdk-nag included, as `npx cdk synth` does.
 */
import { Capture, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { STAFF_GROUP } from '../../infra/identity.js';
import { PLAYER_ROUTES, SUPPORT_ROUTES, WEBSOCKET_STAGE } from '../../infra/stack.js';
import { context, helpersOf, type Synthesized, synthesize } from '../support/synth.js';

// Prepare: one synthesis for every test in this file.
let { built, template, fnIds } = {} as Synthesized;
beforeAll(() => ({ built, template, fnIds } = synthesize({ bundle: false })));
const { resources, ids, poolIssuer, handlerFunctions } = helpersOf(() => ({ built, template }));

describe('When a player opens a stream, sends messages and leaves', () => {
  it('routes on $request.body.action', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it.each([
    ['$connect', 'Connect'],
    ['$disconnect', 'Disconnect'],
    ['$default', 'Messages'],
  ])('sends %s to the %s handler through a Lambda proxy integration', (routeKey, fn) => {
    const target = new Capture();
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, Target: target });
    const integrationId = (target.asObject()['Fn::Join'] as [string, unknown[]])[1][1] as { Ref: string };
    const integration = template.toJSON().Resources[integrationId.Ref];
    expect(integration.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY' });
    expect(JSON.stringify(integration.Properties.IntegrationUri)).toContain(`{"Fn::GetAtt":["${fnIds[fn]}","Arn"]}`);
  });

  it('verifies the player token in a REQUEST authorizer before $connect runs', () => {
    const authorizer = new Capture();
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: '$connect',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: authorizer },
    });
    const props = template.toJSON().Resources[authorizer.asString()].Properties;
    expect(props).toMatchObject({
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.token'],
    });
    expect(JSON.stringify(props.AuthorizerUri)).toContain(`{"Fn::GetAtt":["${fnIds.Authorizer}","Arn"]}`);
  });

  it('runs no authorizer on the routes after $connect (API Gateway allows none there)', () => {
    for (const routeKey of ['$disconnect', '$default']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'NONE' });
    }
  });

  it('has exactly the three routes the local emulator serves', () => {
    const wsApi = resources('AWS::ApiGatewayV2::Api').find(([, r]) => r.Properties.ProtocolType === 'WEBSOCKET')!;
    const keys = resources('AWS::ApiGatewayV2::Route')
      .filter(([, r]) => (r.Properties.ApiId as { Ref: string }).Ref === wsApi[0])
      .map(([, r]) => r.Properties.RouteKey)
      .sort();
    expect(keys).toEqual(['$connect', '$default', '$disconnect']);
  });

  it('returns the $default handler answer to the player as the route response', () => {
    const route = new Capture();
    template.hasResourceProperties('AWS::ApiGatewayV2::RouteResponse', {
      RouteResponseKey: '$default',
      RouteId: { Ref: route },
    });
    expect(template.toJSON().Resources[route.asString()].Properties.RouteKey).toBe('$default');
    template.resourceCountIs('AWS::ApiGatewayV2::RouteResponse', 1);
  });

  it('deploys a stage automatically, throttled as the context says', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: WEBSOCKET_STAGE,
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: context['streamgate:stageRateLimit'],
        ThrottlingBurstLimit: context['streamgate:stageBurstLimit'],
      },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('connectionId') },
    });
  });
});

describe('When support staff call the support API', () => {
  it("checks tokens with a JWT authorizer that trusts the user pool and admits the staff client's tokens only", () => {
    const supportApiId = built.stack.getLogicalId(built.stack.supportApi.node.defaultChild as never);
    const authorizer = resources('AWS::ApiGatewayV2::Authorizer').find(
      ([, r]) => JSON.stringify(r.Properties.ApiId) === JSON.stringify({ Ref: supportApiId }),
    )!;
    expect(authorizer[1].Properties).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: poolIssuer(), Audience: [{ Ref: ids().staffClient }] },
    });
  });

  it('puts every support route behind that authorizer; the staff group is checked by the handler', () => {
    const expected = SUPPORT_ROUTES.flatMap((r) => r.methods.map((m) => `${m} ${r.path}`)).sort();
    const supportApiId = built.stack.getLogicalId(built.stack.supportApi.node.defaultChild as never);
    const staffRoutes = resources('AWS::ApiGatewayV2::Route')
      .filter(([, r]) => r.Properties.AuthorizationType === 'JWT')
      .filter(([, r]) => JSON.stringify(r.Properties.ApiId) === JSON.stringify({ Ref: supportApiId }))
      .map(([, r]) => {
        // Cognito's ID tokens carry no scope: the handler requires the `staff` group instead.
        expect(r.Properties.AuthorizationScopes).toBeUndefined();
        expect(r.Properties.AuthorizerId).toEqual({ Ref: expect.any(String) });
        return r.Properties.RouteKey;
      })
      .sort();
    expect(staffRoutes).toEqual(expected);
    for (const [, fn] of handlerFunctions()) {
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        JWT_STAFF_CLAIM: 'cognito:groups',
        JWT_STAFF_VALUE: STAFF_GROUP,
      });
    }
  });

  it('leaves only the liveness probe open', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /health', AuthorizationType: 'NONE' });
    const open = resources('AWS::ApiGatewayV2::Route').filter(
      ([, r]) => r.Properties.AuthorizationType === 'NONE' && !String(r.Properties.RouteKey).startsWith('$'),
    );
    expect(open.map(([, r]) => r.Properties.RouteKey)).toEqual(['GET /health']);
  });

  it('sends every support route to the support handler', () => {
    const integrations = resources('AWS::ApiGatewayV2::Integration').filter(([, r]) =>
      JSON.stringify(r.Properties.IntegrationUri).includes(`"${fnIds.Support}"`),
    );
    expect(integrations).toHaveLength(1);
    expect(integrations[0]![1].Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
  });
});

describe('When a player asks about its own streams', () => {
  const playerApiId = () => built.stack.getLogicalId(built.stack.playerApi.node.defaultChild as never);
  const onPlayerApi = (type: string) =>
    resources(type).filter(([, r]) => JSON.stringify(r.Properties.ApiId) === JSON.stringify({ Ref: playerApiId() }));

  it('serves exactly the player routes, each behind a JWT authorizer that needs no scope', () => {
    const expected = PLAYER_ROUTES.flatMap((r) => r.methods.map((m) => `${m} ${r.path}`)).sort();
    const routes = onPlayerApi('AWS::ApiGatewayV2::Route').map(([, r]) => {
      expect(r.Properties.AuthorizationType).toBe('JWT');
      expect(r.Properties.AuthorizationScopes).toBeUndefined();
      return r.Properties.RouteKey;
    });
    expect(routes.sort()).toEqual(expected);
  });

  it("checks the player's token against the same pool and client as the socket's", () => {
    const authorizers = onPlayerApi('AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    expect(authorizers[0]![1].Properties).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: poolIssuer(), Audience: [{ Ref: ids().playerClient }] },
    });
    const [, authorizerFn] = handlerFunctions().find(([id]) => id === fnIds.Authorizer)!;
    expect((authorizerFn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      JWT_ISSUER: poolIssuer(),
      JWT_AUDIENCE: { Ref: ids().playerClient },
    });
  });

  it('sends the player routes to the player handler, and nothing else', () => {
    const integrations = resources('AWS::ApiGatewayV2::Integration').filter(([, r]) =>
      JSON.stringify(r.Properties.IntegrationUri).includes(`"${fnIds.Player}"`),
    );
    expect(integrations).toHaveLength(1);
    expect(JSON.stringify(integrations[0]![1].Properties.ApiId)).toBe(JSON.stringify({ Ref: playerApiId() }));
    expect(integrations[0]![1].Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
  });

  it('answers browsers on any origin, with the Authorization header and no credentials', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      Name: Match.stringLikeRegexp('-player$'),
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ['*'],
        AllowHeaders: ['authorization'],
        AllowMethods: ['GET', 'DELETE'],
      }),
    });
    const api = resources('AWS::ApiGatewayV2::Api').find(([id]) => id === playerApiId())!;
    expect((api[1].Properties.CorsConfiguration as Record<string, unknown>).AllowCredentials).toBeUndefined();
  });

  it('throttles the player stage as the context says', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: playerApiId() },
      DefaultRouteSettings: {
        ThrottlingRateLimit: context['streamgate:playerRateLimit'],
        ThrottlingBurstLimit: context['streamgate:playerBurstLimit'],
      },
    });
  });
});

describe('When the sweep is due', () => {
  it('runs on an EventBridge schedule at the rate the context says', () => {
    const minutes = context['streamgate:sweepRateMinutes'] as number;
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${minutes} minute${minutes === 1 ? '' : 's'})`,
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnIds.Sweep, 'Arn'] } })],
    });
  });
});
