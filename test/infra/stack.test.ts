/**
 * The CDK app's template: what `cdk deploy` would create. Synthesized once for the whole file (bundling the
 * handlers with the local esbuild), with the context in cdk.json, cdk-nag included, as `npx cdk synth` does.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Stack, Validations } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDocumentClient, createDynamoStore } from '../../core/store/dynamodb/store.js';
import { HISTORY_QUERY_ACTIONS, LEASE_INDEX_ACTIONS, TABLE_ACTIONS } from '../../core/store/permissions.js';
import { leaseShardsFor, TABLE_SHAPE } from '../../core/store/schema.js';
import { METRICS_NAMESPACE, MetricName, RefusalReason, SERVICE_NAME } from '../../handlers/lib/metric-names.js';
import { type BuiltApp, buildApp } from '../../infra/build.js';
import { PROJECT_ROOT } from '../../infra/handler-function.js';
import { LIMIT_ATTRIBUTE, STAFF_GROUP } from '../../infra/identity.js';
import { CONSOLE_API_PATHS, PLAYER_ROUTES, SUPPORT_ROUTES, WEBSOCKET_STAGE } from '../../infra/stack.js';
import { ensureTable } from '../../local/dynamodb-local.js';
import { wsEvent } from '../support/events.js';
import { sign, testKey } from '../support/tokens.js';

const execFileAsync = promisify(execFile);
/** The pinned CDK CLI, as `npx cdk` runs it. */
const CDK_CLI = fileURLToPath(new URL('../../node_modules/aws-cdk/bin/cdk', import.meta.url));

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
const context: Record<string, unknown> = cdkJson.context;

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

let built: BuiltApp;
let template: Template;
/** logical ids of the handler functions, by construct id (Connect, Disconnect, ...) */
const fnIds: Record<string, string> = {};
const roleIds: Record<string, string> = {};

beforeAll(() => {
  // Prepare: one synthesis for every test in this file.
  // Asset metadata on: the CLI turns it on too, and it names each function's bundle directory.
  built = buildApp({ context: { ...context, 'aws:cdk:enable-asset-metadata': true } });
  template = Template.fromStack(built.stack);
  const stack = built.stack;
  for (const [name, fn] of Object.entries(stack.functions)) {
    fnIds[name] = stack.getLogicalId(fn.node.defaultChild as never);
    roleIds[name] = stack.getLogicalId(fn.role!.node.defaultChild as never);
  }
});

const resources = (type: string): [string, Resource][] =>
  Object.entries(template.findResources(type)) as [string, Resource][];
/** Logical ids of the identity's resources. */
const ids = () => {
  const identity = built.stack.identity;
  const id = (c: { node: { defaultChild?: unknown } }) => built.stack.getLogicalId(c.node.defaultChild as never);
  return {
    pool: id(identity.userPool!),
    playerClient: id(identity.playerClient!),
    staffClient: id(identity.staffClient!),
    domain: id(identity.domain!),
  };
};
/** The user pool's issuer, as every authorizer must trust it. */
const poolIssuer = () => ({
  'Fn::Join': ['', ['https://cognito-idp.', { Ref: 'AWS::Region' }, '.amazonaws.com/', { Ref: ids().pool }]],
});
/** The handlers' functions; CDK's own BucketDeployment uploader (the console's files) is not one of them. */
const handlerFunctions = () =>
  resources('AWS::Lambda::Function').filter(([id]) => !id.startsWith('CustomCDKBucketDeployment'));

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

describe('When the table is created', () => {
  it('uses the keys of the shared schema, on demand', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_SHAPE.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: TABLE_SHAPE.sortKey.name, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('keeps point-in-time recovery, deletion protection and the data on stack deletion', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      }),
    });
  });

  it('expires items on the TTL attribute the store writes', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: TABLE_SHAPE.ttlAttribute, Enabled: true },
    });
  });

  it('has the sparse lease index the sweep queries, projecting what the sweep reads', () => {
    const { leaseIndex } = TABLE_SHAPE;
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: leaseIndex.name,
          KeySchema: [
            { AttributeName: leaseIndex.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: leaseIndex.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: leaseIndex.nonKeyAttributes },
        },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: leaseIndex.sortKey.name, AttributeType: leaseIndex.sortKey.type },
      ]),
    });
  });
});

describe('When the handlers are built', () => {
  it('runs every handler on Node.js 22, ARM64, with its own log group', () => {
    const fns = handlerFunctions();
    expect(fns.map(([id]) => id).sort()).toEqual(Object.values(fnIds).sort());
    for (const [, fn] of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
      });
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', {
      RetentionInDays: context['streamgate:logRetentionDays'],
    });
  });

  it('gives every handler its configuration from the stack', () => {
    const tableId = built.stack.getLogicalId(built.stack.streamTable.table.node.defaultChild as never);
    const endpoint = new Capture();
    for (const [, fn] of handlerFunctions()) {
      Template.fromJSON({ Resources: { Fn: fn } }).hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            TABLE_NAME: { Ref: tableId },
            AUTH_MODE: 'jwt',
            MANAGEMENT_ENDPOINT: endpoint,
            STREAM_LIMIT: String(context['streamgate:streamLimit']),
            LEASE_SECONDS: String(context['streamgate:leaseSeconds']),
            LIMIT_POLICY: context['streamgate:limitPolicy'],
            LEASE_SHARDS: String(leaseShardsFor(Number(context['streamgate:expectedConnectsPerSecond']))),
            NODE_OPTIONS: '--enable-source-maps',
            POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
            POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
            JWT_ISSUER: poolIssuer(),
            JWT_AUDIENCE: { Ref: ids().playerClient },
            JWT_JWKS_URL: {
              'Fn::Join': ['', [...(poolIssuer()['Fn::Join'][1] as unknown[]), '/.well-known/jwks.json']],
            },
            JWT_ALGORITHMS: 'RS256',
            JWT_LIMIT_CLAIM: 'custom:streams',
          }),
        },
      });
    }
    // The stage's callback URL: https://{api}.execute-api.{region}.{suffix}/live
    expect(JSON.stringify(endpoint.asObject())).toMatch(/"https:\/\/".*execute-api.*"\/live"/);
  });

  it('bundles each handler as one minified ES module that can require() Node built-ins', () => {
    const outdir = built.app.outdir;
    const assets = handlerFunctions().map(([, fn]) => {
      const meta = (fn as unknown as { Metadata: Record<string, string> }).Metadata;
      return meta['aws:asset:path'];
    });
    expect(assets).toHaveLength(Object.keys(fnIds).length);
    for (const asset of assets) {
      const code = readFileSync(`${outdir}/${asset}/index.mjs`, 'utf8');
      expect(code.startsWith("import { createRequire } from 'node:module';")).toBe(true);
      expect(code).toMatch(/export\s*\{[^}]*as handler\s*\}/);
      // Minified: very long lines (the few line breaks left are inside template literals).
      expect(code.length / code.split('\n').length).toBeGreaterThan(500);
      readFileSync(`${outdir}/${asset}/index.mjs.map`);
    }
  });
});

describe('When Lambda runs the bundles', () => {
  /**
   * The template's environment of a handler made concrete, as CloudFormation would: each reference resolved to a
   * made-up physical id of its resource (the table to a real one on DynamoDB Local), and the two addresses a test
   * cannot reach in AWS (the @connections API, the pool's key set) pointed at stand-ins on this machine. A variable
   * the template does not set is not set here either.
   */
  const deployedEnv = (
    name: string,
    places: { tableName: string; callbackUrl: string; jwksUrl: string; dynamodbEndpoint: string },
  ) => {
    const [, fn] = handlerFunctions().find(([id]) => id === fnIds[name])!;
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    const physical: Record<string, string> = {
      'AWS::Region': 'eu-west-1',
      'AWS::URLSuffix': 'amazonaws.com',
      [built.stack.getLogicalId(built.stack.streamTable.table.node.defaultChild as never)]: places.tableName,
      [ids().pool]: POOL_ID,
      [ids().playerClient]: PLAYER_CLIENT,
      [ids().staffClient]: 'bundles-staff-client',
      [built.stack.getLogicalId(built.stack.webSocketApi.node.defaultChild as never)]: 'wsapi0001',
    };
    const resolve = (value: unknown): string => {
      if (typeof value === 'string') return value;
      const v = value as Record<string, unknown>;
      if ('Ref' in v) {
        const id = physical[v.Ref as string];
        if (id === undefined) throw new Error(`${name}: the test has no physical id for ${v.Ref}`);
        return id;
      }
      if ('Fn::Join' in v) {
        const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
        return parts.map(resolve).join(sep);
      }
      throw new Error(`${name}: cannot resolve ${JSON.stringify(value)}`);
    };
    const env = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, resolve(v)]));
    expect(env.MANAGEMENT_ENDPOINT).toBe(`https://wsapi0001.execute-api.eu-west-1.amazonaws.com/${WEBSOCKET_STAGE}`);
    expect(env.JWT_JWKS_URL).toBe(`${ISSUER_OF_POOL}/.well-known/jwks.json`);
    return {
      ...env,
      MANAGEMENT_ENDPOINT: places.callbackUrl,
      JWT_JWKS_URL: places.jwksUrl,
      // Not in the template: the store client's local stand-in for DynamoDB (core/store/client.ts).
      DYNAMODB_ENDPOINT: places.dynamodbEndpoint,
    };
  };

  /** Runs a shipped bundle in a fresh Node process, as Lambda loads it, on each event in turn; its answers. */
  const invoke = async (name: string, env: Record<string, string>, events: unknown[]): Promise<unknown[]> => {
    const [, fn] = handlerFunctions().find(([id]) => id === fnIds[name])!;
    const meta = (fn as unknown as { Metadata: Record<string, string> }).Metadata;
    const file = `${built.app.outdir}/${meta['aws:asset:path']}/index.mjs`;
    const script = [
      `const { handler } = await import(${JSON.stringify(`file://${file}`)});`,
      'const context = { awsRequestId: "r1", functionName: "f", invokedFunctionArn: "arn", memoryLimitInMB: "512" };',
      'const answers = [];',
      'for (const event of JSON.parse(process.env.EVENTS)) answers.push(await handler(event, context));',
      'process.stdout.write("\\nANSWERS " + JSON.stringify(answers));',
    ].join(' ');
    const run = await execFileAsync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'eu-west-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        // What Lambda gives every function: credentials of its role (made up here; DynamoDB Local ignores them).
        AWS_ACCESS_KEY_ID: 'bundles',
        AWS_SECRET_ACCESS_KEY: 'bundles',
        ...env,
        EVENTS: JSON.stringify(events),
      },
      timeout: 30_000,
    }).catch((error: { stderr?: string; message: string }) => {
      throw new Error(`${name} bundle failed: ${error.stderr || error.message}`);
    });
    return JSON.parse(run.stdout.slice(run.stdout.lastIndexOf('\nANSWERS ') + 9));
  };

  /** A stand-in for API Gateway's @connections API: every connection is alive; what was deleted is recorded. */
  function connectionsApi() {
    const deleted: string[] = [];
    const server = createServer((req, res) => {
      const id = decodeURIComponent((req.url ?? '').replace(/^.*\/@connections\//, ''));
      if (req.method === 'DELETE') {
        deleted.push(id);
        res.writeHead(204).end();
      } else if (req.method === 'GET') {
        const at = new Date().toISOString();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ connectedAt: at, lastActiveAt: at, identity: { sourceIp: '127.0.0.1' } }));
      } else req.resume().on('end', () => res.writeHead(200).end());
    });
    return { server, deleted };
  }

  // Seven fresh Node processes, each loading its bundle: seconds on a busy machine, hence the timeout.
  it('loads every bundle with the template environment, and each answers as in AWS', async () => {
    // Prepare: DynamoDB Local, stand-ins for @connections and for the pool's key set (RSA, in the shape Cognito
    // serves it), and a player and a staff member's ID tokens as Cognito writes them.
    const endpoint = inject('dynamodbEndpoint');
    const tableName = `bundles-${Date.now()}`;
    await ensureTable(endpoint, tableName);
    const key = testKey('RS256', 'cognito-key-1');
    const { kty, n, e } = key.publicJwk;
    const cognitoJwks = { keys: [{ alg: 'RS256', e, kid: key.kid, kty, n, use: 'sig' }] };
    const jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(cognitoJwks));
    });
    const management = connectionsApi();
    await Promise.all([jwks, management.server].map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))));
    const port = (srv: ReturnType<typeof createServer>) => (srv.address() as { port: number }).port;
    const env = (name: string) =>
      deployedEnv(name, {
        tableName,
        callbackUrl: `http://127.0.0.1:${port(management.server)}`,
        jwksUrl: `http://127.0.0.1:${port(jwks)}/${POOL_ID}/.well-known/jwks.json`,
        dynamodbEndpoint: endpoint,
      });
    const now = Math.floor(Date.now() / 1000);
    const playerSub = randomUUID();
    const idToken = (sub: string, extra: Record<string, unknown>) => ({
      sub,
      iss: ISSUER_OF_POOL,
      aud: PLAYER_CLIENT,
      token_use: 'id',
      auth_time: now,
      iat: now,
      exp: now + 3600,
      jti: randomUUID(),
      origin_jti: randomUUID(),
      event_id: randomUUID(),
      email_verified: true,
      email: `${sub}@streamgate.test`,
      ...extra,
    });
    const playerClaims = idToken(playerSub, { 'cognito:username': 'alice', 'custom:streams': '2' });
    const staffClaims = { ...idToken(randomUUID(), { 'cognito:username': 'agent-7' }), 'cognito:groups': ['staff'] };
    const playerToken = await sign(key, playerClaims);
    const connectionId = 'bundleConn1=';
    const connectedAt = Date.now();
    try {
      // Act: the socket's authorizer verifies the player's token against the key set.
      const [allow] = (await invoke('Authorizer', env('Authorizer'), [
        {
          type: 'REQUEST',
          methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:wsapi0001/live/$connect',
          queryStringParameters: { token: playerToken, streamId: 'movie-1' },
          requestContext: { connectionId, routeKey: '$connect' },
        },
      ])) as [{ principalId: string; context: Record<string, unknown> }];
      // Act: $connect with what API Gateway hands on from the authorizer; a status message; the player API
      const connectEvent = wsEvent('CONNECT', connectionId, connectedAt, {
        queryStringParameters: { streamId: 'movie-1', device: 'tv' },
      });
      connectEvent.requestContext.authorizer = { principalId: allow.principalId, ...allow.context };
      const [admitted] = (await invoke('Connect', env('Connect'), [connectEvent])) as [{ statusCode: number }];
      const [status] = (await invoke('Messages', env('Messages'), [
        wsEvent('MESSAGE', connectionId, connectedAt, { body: '{"action":"status"}' }),
      ])) as [{ statusCode: number; body: string }];
      const [streams] = (await invoke('Player', env('Player'), [httpEvent('GET', '/me/streams', playerClaims)])) as [
        { statusCode: number; body: string },
      ];
      // Act: support staff list the user's streams and end the one; the sweep runs; the late $disconnect
      const [listing, kicked, notStaff] = (await invoke('Support', env('Support'), [
        httpEvent('GET', `/users/${playerSub}/connections`, staffClaims),
        httpEvent('DELETE', `/connections/${encodeURIComponent(connectionId)}`, staffClaims),
        httpEvent('GET', `/users/${playerSub}/connections`, playerClaims),
      ])) as [{ statusCode: number; body: string }, { statusCode: number }, { statusCode: number }];
      const [sweep] = (await invoke('Sweep', env('Sweep'), [{ time: new Date().toISOString() }])) as [unknown];
      const [released] = (await invoke('Disconnect', env('Disconnect'), [
        wsEvent('DISCONNECT', connectionId, connectedAt),
      ])) as [{ statusCode: number }];

      // Assess
      expect(allow).toMatchObject({ principalId: playerSub, context: { userId: playerSub, streamLimit: 2 } });
      expect(admitted.statusCode).toBe(200);
      expect(JSON.parse(status.body)).toMatchObject({ type: 'status', userId: playerSub, active: 1, limit: 2 });
      expect(streams.statusCode).toBe(200);
      expect(JSON.parse(streams.body)).toMatchObject({ userId: playerSub, limit: 2, active: 1 });
      expect(listing.statusCode).toBe(200);
      expect(JSON.parse(listing.body).connections).toEqual([expect.objectContaining({ connectionId })]);
      expect(kicked.statusCode).toBe(204);
      expect(management.deleted).toContain(connectionId);
      expect(notStaff.statusCode).toBe(403);
      expect(sweep).toBeDefined();
      expect(released.statusCode).toBe(200);
      const store = createDynamoStore(createDocumentClient(endpoint), { tableName });
      expect(await store.getCounter(playerSub)).toMatchObject({ active: 0 });
      expect(await store.getConnection(connectionId)).toMatchObject({ userId: playerSub, state: 'closed' });
    } finally {
      jwks.close();
      management.server.close();
    }
  }, 120_000);

  it('refuses at the authorizer a token the pool did not sign, before $connect runs', async () => {
    // Prepare
    const key = testKey('RS256', 'cognito-key-1');
    const jwks = createServer((_req, res) => {
      const { kty, n, e } = testKey('RS256', 'cognito-key-1').publicJwk;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [{ alg: 'RS256', e, kid: 'cognito-key-1', kty, n, use: 'sig' }] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const now = Math.floor(Date.now() / 1000);
    const forged = await sign(key, {
      sub: 'mallory',
      iss: ISSUER_OF_POOL,
      aud: PLAYER_CLIENT,
      iat: now,
      exp: now + 60,
    });
    try {
      // Act
      const failure = await invoke(
        'Authorizer',
        deployedEnv('Authorizer', {
          tableName: 'unused',
          callbackUrl: 'http://127.0.0.1:9',
          jwksUrl: `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`,
          dynamodbEndpoint: 'http://127.0.0.1:9',
        }),
        [{ type: 'REQUEST', methodArn: 'arn', queryStringParameters: { token: forged }, requestContext: {} }],
      ).catch((error: Error) => error.message);
      // Assess: API Gateway answers 401 for exactly this error.
      expect(failure).toMatch(/Unauthorized/);
    } finally {
      jwks.close();
    }
  }, 60_000);
});

/** The pool's made-up physical ids in the deployed-shape test. */
const POOL_ID = 'eu-west-1_Bundles';
const PLAYER_CLIENT = 'bundles-player-client';
const ISSUER_OF_POOL = `https://cognito-idp.eu-west-1.amazonaws.com/${POOL_ID}`;

/** An HTTP API (payload 2.0) event as API Gateway sends it after its JWT authorizer: claims as text, lists "[a b]". */
function httpEvent(method: string, path: string, claims: Record<string, unknown>) {
  const flat = Object.fromEntries(
    Object.entries(claims).map(([k, v]) => [
      k,
      typeof v === 'string' ? v : Array.isArray(v) ? `[${v.join(' ')}]` : String(v),
    ]),
  );
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: {},
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'httpapi01',
      domainName: 'httpapi01.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'httpapi01',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'bundles' },
      requestId: randomUUID(),
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
      authorizer: { jwt: { claims: flat, scopes: null } },
    },
  };
}

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

describe('When the handlers act on AWS', () => {
  type Statement = { Action: string | string[]; Resource: unknown };
  const statementsOf = (roleName: string): Statement[] => {
    const policy = resources('AWS::IAM::Policy').find(([, p]) =>
      (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleIds[roleName]),
    );
    return (policy![1].Properties.PolicyDocument as { Statement: Statement[] }).Statement;
  };
  const actions = (s: Statement) => [s.Action].flat();

  it('never grants a wildcard DynamoDB action', () => {
    for (const [, policy] of resources('AWS::IAM::Policy')) {
      for (const s of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
        for (const action of actions(s)) {
          expect(action).not.toMatch(/^dynamodb:.*\*|^\*$/);
        }
      }
    }
  });

  it('grants the store item actions on the table, Query on the lease index to the sweep, and on the table to support', () => {
    const tableId = built.stack.getLogicalId(built.stack.streamTable.table.node.defaultChild as never);
    const table = JSON.stringify({ 'Fn::GetAtt': [tableId, 'Arn'] });
    const index = JSON.stringify({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, `/index/${TABLE_SHAPE.leaseIndex.name}`]],
    });
    for (const name of Object.keys(roleIds)) {
      // Each DynamoDB action with the resource it is granted on (CDK merges statements of the same resource).
      const grants = statementsOf(name).flatMap((s) =>
        actions(s)
          .filter((a) => a.startsWith('dynamodb:'))
          .map((a) => `${a} ${JSON.stringify(s.Resource)}`),
      );
      if (name === 'Authorizer') {
        // It reads only the token.
        expect(grants).toEqual([]);
        continue;
      }
      const query =
        name === 'Sweep'
          ? [`${LEASE_INDEX_ACTIONS[0]} ${index}`]
          : // The audit history: one user's partition of the table.
            name === 'Support'
            ? [`${HISTORY_QUERY_ACTIONS[0]} ${table}`]
            : [];
      expect(grants.sort()).toEqual([...TABLE_ACTIONS.map((a) => `${a} ${table}`), ...query].sort());
    }
  });

  it('lets only connect, messages, sweep, support and the player API manage connections, on this API stage only', () => {
    const apiId = built.stack.getLogicalId(built.stack.webSocketApi.node.defaultChild as never);
    for (const name of Object.keys(roleIds)) {
      const manage = statementsOf(name).filter((s) => actions(s).includes('execute-api:ManageConnections'));
      if (['Connect', 'Messages', 'Sweep', 'Support', 'Player'].includes(name)) {
        expect(manage).toHaveLength(1);
        const arn = JSON.stringify(manage[0]!.Resource);
        expect(arn).toContain(`{"Ref":"${apiId}"},"/${WEBSOCKET_STAGE}/*/@connections/*"`);
      } else {
        expect(manage).toEqual([]);
      }
    }
  });

  it('uses no AWS managed policy and writes logs only to the handler own log group', () => {
    // CDK's own BucketDeployment uploader (the pages' files, run only while deploying) and API Gateway's logging
    // role (its own managed policy) are the exceptions.
    const logsRole = built.stack.getLogicalId(built.stack.apiGatewayLogsRole!.node.defaultChild as never);
    for (const [id, role] of resources('AWS::IAM::Role')) {
      if (id.startsWith('CustomCDKBucketDeployment') || id === logsRole) continue;
      expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
    }
    for (const name of Object.keys(roleIds)) {
      const logs = statementsOf(name).filter((s) => actions(s).some((a) => a.startsWith('logs:')));
      expect(logs).toEqual([
        {
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${name}Logs`)), 'Arn'] },
        },
      ]);
    }
  });
});

describe('When something goes wrong', () => {
  const alarmOn = (metricName: string, namespace: string) =>
    resources('AWS::CloudWatch::Alarm').filter(
      ([, a]) => a.Properties.MetricName === metricName && a.Properties.Namespace === namespace,
    );

  it('alarms on errors and throttles of every handler', () => {
    for (const metric of ['Errors', 'Throttles']) {
      const alarms = alarmOn(metric, 'AWS/Lambda');
      const watched = alarms.map(([, a]) => (a.Properties.Dimensions as { Value: { Ref: string } }[])[0]!.Value.Ref);
      expect(watched.sort()).toEqual(Object.values(fnIds).sort());
    }
  });

  it.each([['ThrottledRequests'], ['SystemErrors']])(
    'alarms on DynamoDB %s across the operations the store uses',
    (metricName) => {
      const matching = resources('AWS::CloudWatch::Alarm').filter(([, a]) =>
        JSON.stringify(a.Properties.Metrics ?? []).includes(`"MetricName":"${metricName}"`),
      );
      expect(matching).toHaveLength(1);
      const operations = JSON.stringify(matching[0]![1].Properties.Metrics);
      for (const op of ['GetItem', 'BatchGetItem', 'UpdateItem', 'Query', 'TransactWriteItems']) {
        expect(operations).toContain(`"Value":"${op}"`);
      }
    },
  );

  it.each([
    [MetricName.storeErrors, 'streamgate:storeErrorAlarmThreshold'],
    [MetricName.ghostsReclaimed, 'streamgate:ghostReclaimAlarmThreshold'],
  ])('alarms on a surge of %s from the service metrics', (metricName, thresholdKey) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: metricName,
      Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      Statistic: 'Sum',
      Threshold: context[thresholdKey],
      TreatMissingData: 'notBreaching',
    });
  });

  it('draws one dashboard with every service metric, refusals by reason', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const dashboard = resources('AWS::CloudWatch::Dashboard')[0]![1];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const name of Object.values(MetricName)) expect(body).toContain(name);
    for (const reason of Object.values(RefusalReason)) expect(body).toContain(`\\"reason\\",\\"${reason}\\"`);
  });
});

describe('When the stack is deployed', () => {
  it('prints the URLs and the table name', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual([
      'CallbackUrl',
      'PlayerApiUrl',
      'PlayerClientId',
      'PlayerPageUrl',
      'StaffClientId',
      'SupportApiUrl',
      'SupportConsoleUrl',
      'TableName',
      'UserPoolId',
      'WebSocketUrl',
    ]);
    expect(JSON.stringify(outputs.WebSocketUrl!.Value)).toContain('wss://');
  });
});

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

  it('uploads the files, the shared sign-in module and a config.json with the hosted sign-in of the staff client', () => {
    const deployment = pageDeployment('Console');
    expect(deployment.Properties.SourceObjectKeys).toHaveLength(3);
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

/** The BucketDeployment of a page (`Console`, `PlayerPage`). */
function pageDeployment(page: string): Resource {
  const deployment = built.stack.node.findChild(page).node.findChild('Deploy').node.findChild('CustomResource');
  return template.toJSON().Resources[built.stack.getLogicalId(deployment.node.defaultChild as never)];
}

describe('When cdk-nag checks the app (AwsSolutions)', () => {
  it('finds nothing that is not acknowledged', () => {
    const report = built.nag.validateScope(built.app);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources[0]?.constructPath}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgement a reason', () => {
    const acknowledged: { path: string; id: string; reason: string }[] = [];
    const visit = (node: IConstruct) => {
      for (const entry of node.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
          acknowledged.push({ path: node.node.path, id, reason: String(reason) });
        }
      }
      for (const child of node.node.children) visit(child);
    };
    visit(Stack.of(built.stack));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const a of acknowledged) expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(60);
  });
});
