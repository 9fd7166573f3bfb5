/**
 * The CDK app's template: what `cdk deploy` would create. Synthesized once for the whole file (bundling the
 * handlers with the local esbuild), with the context in cdk.json, cdk-nag included, as `npx cdk synth` does.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Stack, Validations } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDocumentClient, createDynamoStore } from '../../core/store/dynamodb/store.js';
import { HISTORY_QUERY_ACTIONS, LEASE_INDEX_ACTIONS, TABLE_ACTIONS } from '../../core/store/permissions.js';
import { leaseShardsFor, TABLE_SHAPE } from '../../core/store/schema.js';
import { METRICS_NAMESPACE, MetricName, RefusalReason, SERVICE_NAME } from '../../handlers/lib/metric-names.js';
import { type BuiltApp, buildApp } from '../../infra/build.js';
import { PLAYER_ROUTES, SUPPORT_ROUTES, WEBSOCKET_STAGE } from '../../infra/stack.js';
import { ensureTable } from '../../local/dynamodb-local.js';
import { wsEvent } from '../support/events.js';

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
  it('checks tokens with a JWT authorizer whose issuer and audience come from context', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Issuer: context['streamgate:jwtIssuer'],
        Audience: [context['streamgate:jwtAudience']],
      },
    });
  });

  it('requires the staff scope on every support route', () => {
    const expected = SUPPORT_ROUTES.flatMap((r) => r.methods.map((m) => `${m} ${r.path}`)).sort();
    const supportApiId = built.stack.getLogicalId(built.stack.supportApi.node.defaultChild as never);
    const staffRoutes = resources('AWS::ApiGatewayV2::Route')
      .filter(([, r]) => r.Properties.AuthorizationType === 'JWT')
      .filter(([, r]) => JSON.stringify(r.Properties.ApiId) === JSON.stringify({ Ref: supportApiId }))
      .map(([, r]) => {
        expect(r.Properties.AuthorizationScopes).toEqual([context['streamgate:staffScope']]);
        expect(r.Properties.AuthorizerId).toEqual({ Ref: expect.any(String) });
        return r.Properties.RouteKey;
      })
      .sort();
    expect(staffRoutes).toEqual(expected);
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

  it("checks the player's token against the same issuer and audience as the socket's", () => {
    const authorizers = onPlayerApi('AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    expect(authorizers[0]![1].Properties).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: context['streamgate:jwtIssuer'], Audience: [context['streamgate:jwtAudience']] },
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
            JWT_ISSUER: context['streamgate:jwtIssuer'],
            JWT_AUDIENCE: context['streamgate:jwtAudience'],
            JWT_JWKS_URL: context['streamgate:jwksUrl'],
            JWT_STAFF_VALUE: context['streamgate:staffScope'],
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
  /** The bundle of a handler and its environment as the template sets it, references made concrete. */
  const deployed = (name: string) => {
    const [, fn] = handlerFunctions().find(([id]) => id === fnIds[name])!;
    const meta = (fn as unknown as { Metadata: Record<string, string> }).Metadata;
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    const env = Object.fromEntries(Object.entries(variables).filter(([, v]) => typeof v === 'string')) as Record<
      string,
      string
    >;
    return { file: `${built.app.outdir}/${meta['aws:asset:path']}/index.mjs`, env };
  };

  it('admits and releases a stream against a real table with the shipped $connect and $disconnect bundles', async () => {
    // Prepare: the two bundles in a fresh Node process, as Lambda loads them (no TypeScript, no node_modules), on
    // DynamoDB Local; in jwt mode the identity is what the authorizer put in the request context.
    const endpoint = inject('dynamodbEndpoint');
    const tableName = `bundles-${Date.now()}`;
    await ensureTable(endpoint, tableName);
    const connect = deployed('Connect');
    const disconnect = deployed('Disconnect');
    const connectedAt = Date.now();
    const connectEvent = wsEvent('CONNECT', 'bundle-conn-1', connectedAt);
    connectEvent.requestContext.authorizer = { userId: 'bundle-user', principalId: 'bundle-user' };
    const events = { connect: connectEvent, disconnect: wsEvent('DISCONNECT', 'bundle-conn-1', connectedAt) };
    const script = [
      `const connect = await import(${JSON.stringify(`file://${connect.file}`)});`,
      `const disconnect = await import(${JSON.stringify(`file://${disconnect.file}`)});`,
      'const events = JSON.parse(process.env.EVENTS);',
      'const context = { awsRequestId: "r1", functionName: "f", invokedFunctionArn: "arn", memoryLimitInMB: "256" };',
      'const admitted = await connect.handler(events.connect, context);',
      'const released = await disconnect.handler(events.disconnect, context);',
      'process.stdout.write(JSON.stringify({ admitted, released }));',
    ].join(' ');

    // Act
    const run = spawnSync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'eu-west-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...connect.env,
        TABLE_NAME: tableName,
        DYNAMODB_ENDPOINT: endpoint,
        MANAGEMENT_ENDPOINT: 'http://127.0.0.1:9/unused',
        EVENTS: JSON.stringify(events),
      },
      encoding: 'utf8',
      timeout: 30_000,
    });

    // Assess
    expect(run.status, run.stderr).toBe(0);
    const { admitted, released } = JSON.parse(run.stdout.slice(run.stdout.lastIndexOf('{"admitted"')));
    expect(admitted.statusCode).toBe(200);
    expect(released.statusCode).toBe(200);
    const store = createDynamoStore(createDocumentClient(endpoint), { tableName });
    expect(await store.getCounter('bundle-user')).toMatchObject({ active: 0 });
    expect(await store.getConnection('bundle-conn-1')).toMatchObject({ userId: 'bundle-user', state: 'closed' });
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
    for (const name of Object.keys(roleIds)) {
      const statements = statementsOf(name);
      const onTable = statements.filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
      if (name === 'Authorizer') {
        // It reads only the token.
        expect(onTable).toEqual([]);
        continue;
      }
      expect(onTable).toContainEqual(
        expect.objectContaining({ Action: [...TABLE_ACTIONS], Resource: { 'Fn::GetAtt': [tableId, 'Arn'] } }),
      );
      const query = onTable.filter((s) => actions(s).includes('dynamodb:Query'));
      if (name === 'Sweep') {
        expect(query).toEqual([
          expect.objectContaining({
            Action: LEASE_INDEX_ACTIONS[0],
            Resource: {
              'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, `/index/${TABLE_SHAPE.leaseIndex.name}`]],
            },
          }),
        ]);
      } else if (name === 'Support') {
        // The audit history: one user's partition of the table.
        expect(query).toEqual([
          expect.objectContaining({ Action: HISTORY_QUERY_ACTIONS[0], Resource: { 'Fn::GetAtt': [tableId, 'Arn'] } }),
        ]);
      } else {
        expect(query).toEqual([]);
      }
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
    // CDK's own BucketDeployment uploader (the console's files, run only while deploying) is the one exception.
    for (const [id, role] of resources('AWS::IAM::Role')) {
      if (id.startsWith('CustomCDKBucketDeployment')) continue;
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
      'SupportApiUrl',
      'SupportConsoleUrl',
      'TableName',
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
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          ContentSecurityPolicy: Match.objectLike({
            ContentSecurityPolicy: Match.stringLikeRegexp("frame-ancestors 'none'"),
          }),
        }),
      }),
    });
  });

  it('uploads the files with a config.json naming the support API', () => {
    const deployments = resources('Custom::CDKBucketDeployment');
    expect(deployments).toHaveLength(1);
    const markers = JSON.stringify(deployments[0]![1].Properties.SourceMarkers);
    // config.json is built from the support API's URL, resolved at deploy time.
    expect(markers).toContain(built.stack.getLogicalId(built.stack.supportApi.node.defaultChild as never));
  });

  it("lets the support API answer the console's origin and no other", () => {
    const origins = new Capture();
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: Match.objectLike({ AllowOrigins: origins, AllowHeaders: ['authorization', 'content-type'] }),
    });
    expect(origins.asArray()).toHaveLength(1);
    expect(JSON.stringify(origins.asArray()[0])).toContain('DomainName');
  });
});

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
