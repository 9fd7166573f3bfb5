/**
 * The machine-readable protocol, generated from the zod schemas (schemas.ts): an OpenAPI 3.1 document for the player
 * and support APIs and an AsyncAPI 3.0 document for the WebSocket protocol, for teams that build their own client (a
 * native player) to the same rules as the SDK. The local stack serves them at `/openapi.json` and `/asyncapi.json`.
 */
import { jsonSchema, SCHEMAS, type SchemaName } from './schemas.js';

const ref = (name: SchemaName) => ({ $ref: `#/components/schemas/${name}` });
const schemas = (names: readonly SchemaName[]) => Object.fromEntries(names.map((n) => [n, jsonSchema(n)]));
const jsonOf = (name: SchemaName, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});
const error = (description: string) => jsonOf('ErrorBody', description);
/** A path parameter; ids (users, streams) take the handshake's alphabet, from the same schema. */
const pathParam = (name: 'userId' | 'streamId' | 'connectionId', description: string) => {
  const id = (jsonSchema('HandshakeQuery').properties as Record<string, { pattern?: string }>)[name];
  return { name, in: 'path', required: true, description, schema: { type: 'string', pattern: id?.pattern } };
};
const userIdParam = pathParam('userId', 'the user');
/** The usage routes' range: whole hours (times are floored to the hour), at most 744 (31 days). */
const usageRangeParams = [
  {
    name: 'from',
    in: 'query',
    required: false,
    description: 'ISO 8601 time, floored to the hour (default: 24 hours before `to`)',
    schema: { type: 'string' },
  },
  {
    name: 'to',
    in: 'query',
    required: false,
    description: 'ISO 8601 time, floored to the hour, not included (default: the end of the current hour)',
    schema: { type: 'string' },
  },
];

const HTTP_SCHEMAS: readonly SchemaName[] = [
  'ErrorBody',
  'OwnStreams',
  'UserConnections',
  'UserLimit',
  'UserPolicy',
  'UserAudit',
  'Signals',
  'ServiceUsage',
  'UserUsage',
  'LimitBody',
  'PolicyBody',
  'HealthOk',
  'HealthDown',
];

/** The staff routes' common answers beside their own. */
const staffErrors = {
  400: error('a parameter or body breaks the rules; nothing is written'),
  401: error('no admin token (dev mode) or no valid staff token (jwt mode)'),
  403: error('a valid token that is not staff'),
  503: error('the store cannot answer'),
};
const staff = { tags: ['support'], security: [{ bearer: [] }] };

export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'streamgate player and support APIs',
      version,
      description:
        'The player API (a player sees and ends its own streams; CORS for any origin) and the support API (staff). ' +
        'Locally both are on HTTP_PORT; in AWS on two HTTP APIs (outputs PlayerApiUrl and SupportApiUrl).',
    },
    servers: [{ url: '/', description: 'where this document is served: the local stack (HTTP_PORT)' }],
    tags: [{ name: 'player' }, { name: 'support' }],
    paths: {
      '/me/streams': {
        get: {
          operationId: 'listOwnStreams',
          tags: ['player'],
          summary: "the caller's open streams on every device, the limit and the policy at the limit",
          security: [{ bearer: [] }, { devUserId: [] }],
          responses: {
            200: jsonOf('OwnStreams', 'newest first'),
            400: error('a userId outside the alphabet'),
            401: error('no identity, or a token that is not valid'),
            503: error('the store cannot answer'),
          },
        },
      },
      '/me/streams/{streamId}': {
        delete: {
          operationId: 'endOwnStream',
          tags: ['player'],
          summary: "ends one of the caller's streams: its socket gets `ended` (endedByUser), and the slot is free",
          security: [{ bearer: [] }, { devUserId: [] }],
          parameters: [pathParam('streamId', "the stream's id")],
          responses: {
            204: { description: 'ended; the slot is free' },
            400: error('a streamId outside the alphabet'),
            401: error('no identity, or a token that is not valid'),
            404: error('not an open stream of the caller (STREAM_NOT_FOUND)'),
            503: error('the store cannot answer'),
          },
        },
      },
      '/health': {
        get: {
          operationId: 'health',
          tags: ['support'],
          security: [],
          responses: {
            200: jsonOf('HealthOk', 'the store answers'),
            503: jsonOf('HealthDown', 'the store does not answer in time'),
          },
        },
      },
      '/users/{userId}/connections': {
        get: {
          ...staff,
          operationId: 'listUserConnections',
          parameters: [userIdParam],
          responses: { 200: jsonOf('UserConnections', 'newest first'), ...staffErrors },
        },
      },
      '/users/{userId}/limit': {
        put: {
          ...staff,
          operationId: 'setUserLimit',
          parameters: [userIdParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('LimitBody') } } },
          responses: { 200: jsonOf('UserLimit', "the user's new state"), ...staffErrors },
        },
        delete: {
          ...staff,
          operationId: 'clearUserLimit',
          parameters: [userIdParam],
          responses: { 200: jsonOf('UserLimit', 'back to the default'), ...staffErrors },
        },
      },
      '/users/{userId}/policy': {
        put: {
          ...staff,
          operationId: 'setUserPolicy',
          parameters: [userIdParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('PolicyBody') } } },
          responses: { 200: jsonOf('UserPolicy', "the user's new policy"), ...staffErrors },
        },
        delete: {
          ...staff,
          operationId: 'clearUserPolicy',
          parameters: [userIdParam],
          responses: { 200: jsonOf('UserPolicy', "back to the service's policy"), ...staffErrors },
        },
      },
      '/users/{userId}/audit': {
        get: {
          ...staff,
          operationId: 'userAudit',
          parameters: [userIdParam],
          responses: { 200: jsonOf('UserAudit', 'newest first'), ...staffErrors },
        },
      },
      '/signals': {
        get: {
          ...staff,
          operationId: 'sharingSignals',
          parameters: [
            {
              name: 'day',
              in: 'query',
              required: false,
              description: 'the UTC day, YYYY-MM-DD (today when left out)',
              schema: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            },
          ],
          responses: {
            200: jsonOf('Signals', 'the accounts that looked shared that day, never blocked'),
            ...staffErrors,
          },
        },
      },
      '/usage': {
        get: {
          ...staff,
          operationId: 'serviceUsage',
          parameters: usageRangeParams,
          responses: {
            200: jsonOf('ServiceUsage', 'service-wide usage per hour, oldest first, every hour of the range'),
            ...staffErrors,
          },
        },
      },
      '/users/{userId}/usage': {
        get: {
          ...staff,
          operationId: 'userUsage',
          parameters: [userIdParam, ...usageRangeParams],
          responses: {
            200: jsonOf('UserUsage', "the user's usage per hour, oldest first, every hour of the range"),
            ...staffErrors,
          },
        },
      },
      '/connections/{connectionId}': {
        delete: {
          ...staff,
          operationId: 'endConnection',
          parameters: [pathParam('connectionId', 'the connection')],
          responses: {
            204: { description: 'the socket was told (kicked) and closed, and its stream released' },
            404: error('no such connection (CONNECTION_NOT_FOUND)'),
            ...staffErrors,
          },
        },
      },
    },
    components: {
      schemas: schemas(HTTP_SCHEMAS),
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'jwt mode: a player token (player API) or a staff token (support API); dev mode: ADMIN_TOKEN',
        },
        devUserId: { type: 'apiKey', in: 'query', name: 'userId', description: 'dev mode only: who the player is' },
      },
    },
  };
}

const WS_SCHEMAS: readonly SchemaName[] = [
  'HandshakeQuery',
  'HeartbeatMessage',
  'StatusMessage',
  'HeartbeatFrame',
  'StatusFrame',
  'ErrorFrame',
  'EndedFrame',
  'ThrottledFrame',
];

const message = (name: SchemaName, summary: string) => ({ name, summary, payload: ref(name) });
const channel = { $ref: '#/channels/stream' };
const messageRef = (name: string) => ({ $ref: `#/channels/stream/messages/${name}` });

/** `wsUrl`: where the players' sockets are (`ws://HOST:WS_PORT` locally). */
export function asyncApiDocument(version: string, wsUrl: string): Record<string, unknown> {
  const url = new URL(wsUrl);
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'streamgate player WebSocket protocol',
      version,
      description:
        'One socket per stream a player plays. The handshake answers 101 (admitted), 429 LIMIT_REACHED, 401, 400, ' +
        '409 REPLACED (a newer connect of the same streamId) or 503 UNAVAILABLE (connect again), with ' +
        '{"error":{"code","message"}}; a browser cannot read them and asks the player API (GET /me/streams). A connect ' +
        'with a streamId the user holds takes that stream over (the slot is kept). Every close the server decides is ' +
        'preceded by one `ended` frame; any other close may be reconnected with the same streamId.',
    },
    servers: {
      local: {
        host: url.host,
        protocol: url.protocol.replace(':', ''),
        description: 'the local stack (WS_PORT); in AWS the WebSocketUrl output (wss, stage path)',
      },
    },
    channels: {
      stream: {
        address: '/',
        description: 'a stream: the socket opened with the handshake query below',
        bindings: { ws: { method: 'GET', query: ref('HandshakeQuery'), bindingVersion: '0.1.0' } },
        messages: {
          heartbeat: message('HeartbeatMessage', 'renews the lease'),
          status: message('StatusMessage', "asks for the user's count"),
          heartbeatAnswer: message('HeartbeatFrame', 'the lease, renewed'),
          statusAnswer: message('StatusFrame', "the user's count"),
          error: message('ErrorFrame', 'a message the service could not take'),
          ended: message('EndedFrame', 'why the server is closing the socket'),
          throttled: message('ThrottledFrame', "API Gateway's throttling"),
        },
      },
    },
    operations: {
      heartbeat: {
        action: 'receive',
        channel,
        messages: [messageRef('heartbeat')],
        reply: { channel, messages: [messageRef('heartbeatAnswer'), messageRef('error'), messageRef('throttled')] },
      },
      status: {
        action: 'receive',
        channel,
        messages: [messageRef('status')],
        reply: { channel, messages: [messageRef('statusAnswer'), messageRef('error'), messageRef('throttled')] },
      },
      ended: { action: 'send', channel, messages: [messageRef('ended')] },
    },
    components: { schemas: schemas(WS_SCHEMAS) },
  };
}

/** Every schema either document holds: the test checks the two lists cover them all. */
export const DOCUMENTED_SCHEMAS = [...HTTP_SCHEMAS, ...WS_SCHEMAS];
export const ALL_SCHEMAS = Object.keys(SCHEMAS) as SchemaName[];
