/**
 * streamgate in one stack: the players' WebSocket API, the support HTTP API, the handlers, the table, the sweep's
 * schedule, alarms and a dashboard. The handlers are the same files the local stack runs.
 */
import { readFileSync } from 'node:fs';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  type IAccessLogSettings,
  LogGroupLogDestination,
  WebSocketApi,
  WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { leaseShardsFor } from '../core/store/schema.js';
import { sdkBundleSync } from '../local/sdk-bundle.js';
import { CONSOLE_VENDOR_FILES } from '../local/web-pages.js';
import { acknowledgeConnectedRoute, acknowledgeManageConnections, acknowledgeRuntime } from './acknowledgements.js';
import { Events } from './events.js';
import { HandlerFunction } from './handler-function.js';
import { Identity } from './identity.js';
import { Monitoring } from './monitoring.js';
import { identityOf, type Settings } from './settings.js';
import { StreamTable } from './table.js';
import { hostOf, WebPage } from './web-page.js';

export interface StreamgateStackProps extends StackProps {
  settings: Settings;
}

/** The support routes (all of `handlers/support.ts` but `/health`); each needs a staff token. */
export const SUPPORT_ROUTES: { path: string; methods: HttpMethod[] }[] = [
  { path: '/users/{userId}/connections', methods: [HttpMethod.GET] },
  { path: '/users/{userId}/limit', methods: [HttpMethod.PUT, HttpMethod.DELETE] },
  { path: '/users/{userId}/policy', methods: [HttpMethod.PUT, HttpMethod.DELETE] },
  { path: '/users/{userId}/audit', methods: [HttpMethod.GET] },
  { path: '/connections/{connectionId}', methods: [HttpMethod.DELETE] },
  { path: '/signals', methods: [HttpMethod.GET] },
  { path: '/users/{userId}/usage', methods: [HttpMethod.GET] },
  { path: '/usage', methods: [HttpMethod.GET] },
];

/**
 * The player routes (`handlers/player.ts`): any valid player token, no scope. On an HTTP API of their own because
 * API Gateway's CORS is per API and overrides the integration's headers: players run on any origin, while the
 * support API answers the console's origin only.
 */
export const PLAYER_ROUTES: { path: string; methods: HttpMethod[] }[] = [
  { path: '/me/streams', methods: [HttpMethod.GET] },
  { path: '/me/streams/{streamId}', methods: [HttpMethod.DELETE] },
];

export const WEBSOCKET_STAGE = 'live';

/** The support API's paths the console calls on its own origin (CloudFront routes them to the API). */
export const CONSOLE_API_PATHS = ['/health', '/users/*', '/connections/*', '/signals', '/usage'];

/** What the access logs of both HTTP APIs (support, player) record per request. */
const HTTP_ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  routeKey: '$context.routeKey',
  status: '$context.status',
  principal: '$context.authorizer.claims.sub',
  integrationLatency: '$context.integrationLatency',
  error: '$context.error.message',
  authorizerError: '$context.authorizer.error',
};

export class StreamgateStack extends Stack {
  readonly functions: Record<
    'Authorizer' | 'Connect' | 'Disconnect' | 'Messages' | 'Sweep' | 'Support' | 'Player' | 'Events',
    HandlerFunction
  >;
  readonly webSocketApi: WebSocketApi;
  readonly webSocketStage: WebSocketStage;
  readonly supportApi: HttpApi;
  readonly supportStage: HttpStage;
  readonly playerApi: HttpApi;
  readonly playerStage: HttpStage;
  readonly streamTable: StreamTable;
  readonly monitoring: Monitoring;
  readonly events: Events;
  readonly supportConsole: WebPage;
  readonly playerPage: WebPage;
  readonly identity: Identity;
  /** the account's API Gateway CloudWatch role, when the stack makes it */
  readonly apiGatewayLogsRole?: Role;

  constructor(scope: Construct, id: string, props: StreamgateStackProps) {
    super(scope, id, props);
    const s = props.settings;
    const logRetention = s.logRetentionDays as RetentionDays;

    this.streamTable = new StreamTable(this, 'Streams');
    const table = this.streamTable.table;

    // Created before the handlers: they need the stage's callback URL, and the routes need the handlers.
    this.webSocketApi = new WebSocketApi(this, 'PlayerSockets', {
      apiName: `${id}-players`,
      description: 'Players: one WebSocket per stream, counted under the user limit',
      routeSelectionExpression: '$request.body.action',
    });
    this.webSocketStage = new WebSocketStage(this, 'PlayerStage', {
      webSocketApi: this.webSocketApi,
      stageName: WEBSOCKET_STAGE,
      autoDeploy: true,
      throttle: { rateLimit: s.stageRateLimit, burstLimit: s.stageBurstLimit },
      accessLogSettings: s.webSocketAccessLogs
        ? this.accessLogs('PlayerAccessLogs', logRetention, {
            requestId: '$context.requestId',
            connectionId: '$context.connectionId',
            routeKey: '$context.routeKey',
            eventType: '$context.eventType',
            status: '$context.status',
            integrationLatency: '$context.integrationLatency',
            error: '$context.error.message',
            authorizerError: '$context.authorizer.error',
          })
        : undefined,
    });

    if (s.webSocketAccessLogs && s.apiGatewayCloudWatchRole === 'create') {
      this.apiGatewayLogsRole = this.apiGatewayLogging();
    }

    // The pages first: the sign-in returns to their addresses. One log group for CDK's uploader of both.
    const uploaderLogs = new LogGroup(this, 'PageUploaderLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.supportConsole = new WebPage(this, 'Console', {
      files: 'web/console',
      description: 'support console (staff sign in)',
      outputKey: 'SupportConsoleUrl',
      uploaderLogs,
      // The charting library of the usage charts, from node_modules as the local stack serves it (no CDN).
      builtFiles: Object.fromEntries(
        Object.entries(CONSOLE_VENDOR_FILES).map(([name, path]) => [name, readFileSync(path, 'utf8')]),
      ),
    });
    this.playerPage = new WebPage(this, 'PlayerPage', {
      files: 'web/player',
      description: 'demo player (players sign in)',
      outputKey: 'PlayerPageUrl',
      uploaderLogs,
      // The page runs on the player SDK, built from client/ as the local stack builds it.
      builtFiles: { 'streamgate.js': sdkBundleSync('streamgate.js') },
    });
    this.identity = new Identity(this, 'Identity', identityOf(s), {
      playerUrl: this.playerPage.url,
      consoleUrl: this.supportConsole.url,
    });

    const environment = {
      TABLE_NAME: table.tableName,
      AUTH_MODE: 'jwt',
      MANAGEMENT_ENDPOINT: this.webSocketStage.callbackUrl,
      STREAM_LIMIT: String(s.streamLimit),
      LEASE_SECONDS: String(s.leaseSeconds),
      LIMIT_POLICY: s.limitPolicy,
      MAX_CONNECTION_SECONDS: String(s.maxConnectionSeconds),
      HANDSHAKE_GRACE_SECONDS: String(s.handshakeGraceSeconds),
      OPENING_WINDOW_SECONDS: String(s.openingWindowSeconds),
      SHARING_NETWORKS: String(s.sharingNetworks),
      SHARING_REFUSALS_PER_DAY: String(s.sharingRefusalsPerDay),
      LEASE_SHARDS: String(leaseShardsFor(s.expectedConnectsPerSecond)),
      // Identity (core/identity/config.ts): who signs the tokens, the plan-limit claim, what makes staff.
      ...this.identity.environment,
    };
    const handler = (name: string, entry: string, description: string, timeout = Duration.seconds(10)) =>
      new HandlerFunction(this, name, {
        entry,
        description,
        environment,
        logRetention,
        memorySize: s.memoryMb,
        timeout,
      });
    this.functions = {
      Authorizer: handler('Authorizer', 'handlers/authorizer.ts', '$connect authorizer: verify the player token'),
      Connect: handler('Connect', 'handlers/connect.ts', '$connect: admit the stream under the user limit'),
      Disconnect: handler('Disconnect', 'handlers/disconnect.ts', '$disconnect: give the stream back'),
      // Not 'Default': CDK leaves a child named Default out of logical ids.
      Messages: handler('Messages', 'handlers/default.ts', '$default: heartbeat and status messages'),
      Sweep: handler('Sweep', 'handlers/sweep.ts', 'release ghosts whose lease ran out', Duration.minutes(1)),
      Support: handler('Support', 'handlers/support.ts', 'support API: connections and limit overrides'),
      Player: handler('Player', 'handlers/player.ts', "player API: a player's own streams, list and end"),
      Events: handler(
        'Events',
        'handlers/events.ts',
        'lifecycle events from the table to the event bus',
        Duration.minutes(1),
      ),
    };
    const f = this.functions;

    // Least privilege: the store's item actions on the table for the handlers that use the store (the authorizer
    // reads only the token); the lease index only for the sweep; @connections only for the handlers that check or
    // close sockets (reclaim, takeover, sweep, kick, a message from a socket that no longer counts, a player ending
    // its own stream).
    const storeUsers = [f.Connect, f.Disconnect, f.Messages, f.Sweep, f.Support, f.Player];
    for (const fn of storeUsers) this.streamTable.grantItems(fn);
    this.streamTable.grantLeaseQuery(f.Sweep);
    this.streamTable.grantHistoryQuery(f.Support);
    const socketClosers = [f.Connect, f.Messages, f.Sweep, f.Support, f.Player];
    for (const fn of socketClosers) this.webSocketStage.grantManagementApiAccess(fn);

    for (const fn of Object.values(f)) acknowledgeRuntime(fn);
    for (const fn of socketClosers) acknowledgeManageConnections(fn.role!, this.webSocketStage);

    // Browsers cannot set headers on a WebSocket, so the token comes as `?token=`; without one API Gateway answers
    // 401 before any Lambda runs.
    this.webSocketApi.addRoute('$connect', {
      integration: new WebSocketLambdaIntegration('ConnectIntegration', f.Connect),
      authorizer: new WebSocketLambdaAuthorizer('PlayerToken', f.Authorizer, {
        identitySource: ['route.request.querystring.token'],
      }),
    });
    const disconnect = this.webSocketApi.addRoute('$disconnect', {
      integration: new WebSocketLambdaIntegration('DisconnectIntegration', f.Disconnect),
    });
    // The handler's answer (heartbeat, status, error frames) goes back to the player as the route's response.
    const message = this.webSocketApi.addRoute('$default', {
      integration: new WebSocketLambdaIntegration('MessagesIntegration', f.Messages),
      returnResponse: true,
    });
    for (const route of [disconnect, message]) acknowledgeConnectedRoute(route);

    // The console calls the API on its own CloudFront origin (routeToApi below), as locally: no CORS, and its
    // content security policy connects to 'self' only.
    this.supportApi = new HttpApi(this, 'SupportApi', {
      apiName: `${id}-support`,
      description: 'Support staff: list and end connections, per-user limit overrides',
      createDefaultStage: false,
    });
    this.supportStage = new HttpStage(this, 'SupportStage', {
      httpApi: this.supportApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: s.supportRateLimit, burstLimit: s.supportBurstLimit },
      accessLogSettings: this.accessLogs('SupportAccessLogs', logRetention, HTTP_ACCESS_LOG_FIELDS),
    });
    const support = new HttpLambdaIntegration('SupportIntegration', f.Support);
    const [health] = this.supportApi.addRoutes({ path: '/health', methods: [HttpMethod.GET], integration: support });
    Validations.of(health!).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'GET /health is a public liveness probe: it reads nothing and answers {"status":"ok","storeLatencyMs":n}',
    });
    for (const route of SUPPORT_ROUTES) {
      this.supportApi.addRoutes({
        ...route,
        integration: support,
        authorizer: this.identity.staffAuthorizer,
        authorizationScopes: this.identity.staffScopes,
      });
    }
    this.supportConsole.routeToApi(this.supportStage, CONSOLE_API_PATHS);

    // Players call from their own pages, on any origin; the bearer token (never a cookie) is the credential, so any
    // origin may send one. Preflights are answered by API Gateway without authorization.
    this.playerApi = new HttpApi(this, 'PlayerApi', {
      apiName: `${id}-player`,
      description: "Players: list and end the caller's own streams",
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: ['*'],
        allowHeaders: ['authorization'],
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.DELETE],
        maxAge: Duration.minutes(10),
      },
    });
    this.playerStage = new HttpStage(this, 'PlayerApiStage', {
      httpApi: this.playerApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: s.playerRateLimit, burstLimit: s.playerBurstLimit },
      accessLogSettings: this.accessLogs('PlayerApiAccessLogs', logRetention, HTTP_ACCESS_LOG_FIELDS),
    });
    // The same issuer and audience as the socket's tokens, no scope: a player's own token is enough, and the
    // handler acts only on that token's `sub`.
    const player = new HttpLambdaIntegration('PlayerIntegration', f.Player);
    for (const route of PLAYER_ROUTES) {
      this.playerApi.addRoutes({ ...route, integration: player, authorizer: this.identity.playerAuthorizer });
    }

    new Rule(this, 'SweepSchedule', {
      description: 'Release ghosts whose lease ran out',
      schedule: Schedule.rate(Duration.minutes(s.sweepRateMinutes)),
      // A late sweep is only worth running until the next one is due.
      targets: [new LambdaFunction(f.Sweep, { retryAttempts: 1, maxEventAge: Duration.minutes(s.sweepRateMinutes) })],
    });

    this.events = new Events(this, 'LifecycleEvents', {
      table,
      processor: f.Events,
      refusalLogs: f.Connect.logGroup,
      busName: id,
      alarmTopicArn: s.alarmTopicArn,
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: f,
      table,
      webSocketApi: this.webSocketApi,
      webSocketStage: this.webSocketStage,
      storeErrorAlarmThreshold: s.storeErrorAlarmThreshold,
      ghostReclaimAlarmThreshold: s.ghostReclaimAlarmThreshold,
      alarmTopicArn: s.alarmTopicArn,
    });

    new CfnOutput(this, 'EventBusName', {
      value: this.events.bus.eventBusName,
      description: 'lifecycle events (docs/events.md): rules on this bus reach billing, analytics, alerts',
    });
    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocketStage.url, description: 'players connect here' });
    new CfnOutput(this, 'CallbackUrl', {
      value: this.webSocketStage.callbackUrl,
      description: '@connections management API',
    });
    // The console: the support API on its own origin, so `apiUrl` is empty, as locally.
    const signIn = this.identity.domain ? [this.identity.domain.baseUrl()] : [];
    this.supportConsole.allowConnect(...signIn);
    this.supportConsole.publish({ apiUrl: '', signIn: this.identity.consoleSignIn });
    // The demo player: the WebSocket and the player API, each on its own origin.
    this.playerPage.allowConnect(
      `wss://${hostOf(this.webSocketStage.url)}`,
      `https://${hostOf(this.playerStage.url)}`,
      ...signIn,
    );
    this.playerPage.publish({
      wsUrl: this.webSocketStage.url,
      apiUrl: this.playerApi.apiEndpoint,
      authMode: 'jwt',
      signIn: this.identity.playerSignIn,
    });

    new CfnOutput(this, 'SupportApiUrl', { value: this.supportStage.url, description: 'support API (staff token)' });
    new CfnOutput(this, 'PlayerApiUrl', {
      value: this.playerStage.url,
      description: "player API (the player's token)",
    });
    new CfnOutput(this, 'TableName', { value: table.tableName });
  }

  /**
   * API Gateway writes WebSocket access logs with one role per account and region, set in its account settings. The
   * stack makes it and sets it; both are kept when the stack goes, because other APIs of the account may log
   * through it by then (`apiGatewayCloudWatchRole=existing` leaves an account's own role alone).
   */
  private apiGatewayLogging(): Role {
    const role = new Role(this, 'ApiGatewayLogsRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway writes access and execution logs to CloudWatch Logs (account setting)',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        "API Gateway's own managed policy for its account-wide logging role: the log groups it writes are named by " +
        'API Gateway per API and stage, so no narrower resource can be written here',
    });
    // No L2 exists for the account setting (RestApi's cloudWatchRole makes one only for REST APIs).
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    // The stage's access logs are refused until the account names a role.
    this.webSocketStage.node.addDependency(account);
    return role;
  }

  private accessLogs(id: string, retention: RetentionDays, fields: Record<string, string>): IAccessLogSettings {
    const logGroup = new LogGroup(this, id, { retention, removalPolicy: RemovalPolicy.RETAIN });
    return {
      destination: new LogGroupLogDestination(logGroup),
      format: AccessLogFormat.custom(JSON.stringify(fields)),
    };
  }
}
