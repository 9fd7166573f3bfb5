/**
 * The CDK app's template, part: The handlers as Lambda runs them: Node.js 22 on ARM64, their configuration, and each
 * bundle loaded in a fresh Node process with the template's environment, answering as in AWS. Synthesized once for
 * this file (bundling the handlers with the local esbuild), with the context in cdk.json, cdk-nag included, as `npx
 * cdk synth` does.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { promisify } from 'node:util';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDocumentClient, createDynamoStore } from '../../core/store/dynamodb/store.js';
import { leaseShardsFor } from '../../core/store/schema.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../handlers/lib/metric-names.js';
import { WEBSOCKET_STAGE } from '../../infra/stack.js';
import { ensureTable } from '../../local/dynamodb-local.js';
import { wsEvent } from '../support/events.js';
import { context, helpersOf, type Synthesized, synthesize } from '../support/synth.js';
import { sign, testKey } from '../support/tokens.js';

const execFileAsync = promisify(execFile);

// Prepare: one synthesis for every test in this file.
let { built, template, fnIds } = {} as Synthesized;
beforeAll(() => ({ built, template, fnIds } = synthesize({ bundle: true })));
const { ids, poolIssuer, handlerFunctions } = helpersOf(() => ({ built, template }));

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
