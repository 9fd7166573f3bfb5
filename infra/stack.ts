/**
 * streamgate in one stack: the players' WebSocket API, the support HTTP API, the handlers, the table, the sweep's
 * schedule, alarms and a dashboard. The handlers are the same files the local stack runs.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
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
import { HttpJwtAuthorizer, WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { leaseShardsFor } from '../core/store/schema.js';
import { acknowledgeConnectedRoute, acknowledgeManageConnections, acknowledgeRuntime } from './acknowledgements.js';
import { SupportConsole } from './console.js';
import { HandlerFunction } from './handler-function.js';
import { Monitoring } from './monitoring.js';
import type { Settings } from './settings.js';
import { StreamTable } from './table.js';

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
    'Authorizer' | 'Connect' | 'Disconnect' | 'Messages' | 'Sweep' | 'Support' | 'Player',
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
  readonly supportConsole: SupportConsole;

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
      LEASE_SHARDS: String(leaseShardsFor(s.expectedConnectsPerSecond)),
      // Identity (core/identity/config.ts): one issuer for players and staff; staff carry the scope.
      JWT_ISSUER: s.jwtIssuer,
      JWT_AUDIENCE: s.jwtAudience,
      JWT_JWKS_URL: s.jwksUrl,
      JWT_LIMIT_CLAIM: s.limitClaim,
      JWT_STAFF_CLAIM: 'scope',
      JWT_STAFF_VALUE: s.staffScope,
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

    // The console calls the API from its CloudFront origin; that origin is the only one the API allows.
    this.supportConsole = new SupportConsole(this, 'Console');
    this.supportApi = new HttpApi(this, 'SupportApi', {
      apiName: `${id}-support`,
      description: 'Support staff: list and end connections, per-user limit overrides',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: [this.supportConsole.origin],
        allowHeaders: ['authorization', 'content-type'],
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.PUT, CorsHttpMethod.DELETE],
        maxAge: Duration.hours(1),
      },
    });
    this.supportStage = new HttpStage(this, 'SupportStage', {
      httpApi: this.supportApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: s.supportRateLimit, burstLimit: s.supportBurstLimit },
      accessLogSettings: this.accessLogs('SupportAccessLogs', logRetention, HTTP_ACCESS_LOG_FIELDS),
    });
    const staffJwt = new HttpJwtAuthorizer('StaffJwt', s.jwtIssuer, { jwtAudience: [s.jwtAudience] });
    const support = new HttpLambdaIntegration('SupportIntegration', f.Support);
    const [health] = this.supportApi.addRoutes({ path: '/health', methods: [HttpMethod.GET], integration: support });
    Validations.of(health!).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'GET /health is a public liveness probe: it reads nothing and answers {"status":"ok"}',
    });
    for (const route of SUPPORT_ROUTES) {
      this.supportApi.addRoutes({
        ...route,
        integration: support,
        authorizer: staffJwt,
        authorizationScopes: [s.staffScope],
      });
    }

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
    const playerJwt = new HttpJwtAuthorizer('PlayerJwt', s.jwtIssuer, { jwtAudience: [s.jwtAudience] });
    const player = new HttpLambdaIntegration('PlayerIntegration', f.Player);
    for (const route of PLAYER_ROUTES) {
      this.playerApi.addRoutes({ ...route, integration: player, authorizer: playerJwt });
    }

    new Rule(this, 'SweepSchedule', {
      description: 'Release ghosts whose lease ran out',
      schedule: Schedule.rate(Duration.minutes(s.sweepRateMinutes)),
      // A late sweep is only worth running until the next one is due.
      targets: [new LambdaFunction(f.Sweep, { retryAttempts: 1, maxEventAge: Duration.minutes(s.sweepRateMinutes) })],
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

    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocketStage.url, description: 'players connect here' });
    new CfnOutput(this, 'CallbackUrl', {
      value: this.webSocketStage.callbackUrl,
      description: '@connections management API',
    });
    this.supportConsole.publish(this.supportStage.url);

    new CfnOutput(this, 'SupportApiUrl', { value: this.supportStage.url, description: 'support API (staff token)' });
    new CfnOutput(this, 'PlayerApiUrl', {
      value: this.playerStage.url,
      description: "player API (the player's token)",
    });
    new CfnOutput(this, 'TableName', { value: table.tableName });
  }

  private accessLogs(id: string, retention: RetentionDays, fields: Record<string, string>): IAccessLogSettings {
    const logGroup = new LogGroup(this, id, { retention, removalPolicy: RemovalPolicy.RETAIN });
    return {
      destination: new LogGroupLogDestination(logGroup),
      format: AccessLogFormat.custom(JSON.stringify(fields)),
    };
  }
}
