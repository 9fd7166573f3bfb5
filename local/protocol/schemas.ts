/**
 * The public protocol as zod schemas: the WebSocket frames both ways, the handshake's query, and the bodies of the
 * player and support APIs. The served OpenAPI and AsyncAPI documents (documents.ts) are generated from these, and a
 * test checks real answers of the running stack against them, so neither the documents nor the handlers can drift
 * from the other unseen. The ids' rules and the enums come from the code that enforces them.
 */
import { z } from 'zod';
import { ENDED_REASONS } from '../../core/ended.js';
import { DeviceSchema, StreamIdSchema, UserIdSchema } from '../../core/params.js';
import { LIMIT_POLICIES } from '../../core/policy.js';
import { LIMIT_OVERRIDE_RANGE } from '../../core/ranges.js';
import { ErrorCode } from '../../handlers/lib/responses.js';

const iso = z.iso.datetime({ offset: true }).describe('a time, ISO 8601');
const userId = UserIdSchema;
const nullableStreamId = z.union([StreamIdSchema, z.null()]);
const nullableDevice = z.union([z.string(), z.null()]);
const count = z.int().min(0);
const policy = z.enum(LIMIT_POLICIES).describe('what happens at the limit');
const errorCode = z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]);

// --- the WebSocket API --------------------------------------------------------------------------------------------

export const HandshakeQuery = z.strictObject({
  userId: z.optional(UserIdSchema).describe('dev mode: who is watching'),
  token: z.string().optional().describe("jwt mode: the player's token (the user is its `sub`)"),
  streamId: z.optional(StreamIdSchema).describe("the player's own id for this playback, kept across reconnects"),
  device: z.optional(DeviceSchema).describe('a label other screens see'),
  resume: z
    .optional(z.enum(['1', '0']))
    .describe(
      '1: this player reconnects by itself; a socket the server did not end keeps its slot for RESUME_HOLD_SECONDS, ' +
        'and a close with code 4000 (the player ending the stream) frees it at once',
    ),
});

export const HeartbeatMessage = z
  .strictObject({ action: z.literal('heartbeat') })
  .describe('renews the lease; send one every half lease (at most every 5 minutes)');
export const StatusMessage = z.strictObject({ action: z.literal('status') }).describe("asks for the user's count");

export const HeartbeatFrame = z
  .strictObject({ type: z.literal('heartbeat'), connectionId: z.string(), leaseExpiresAt: iso })
  .describe('the answer to a heartbeat: the next is due before half the time left to leaseExpiresAt');
export const StatusFrame = z.strictObject({
  type: z.literal('status'),
  userId,
  active: count,
  limit: count,
  connectionId: z.string(),
});
export const ErrorFrame = z
  .strictObject({ type: z.literal('error'), code: errorCode, message: z.string() })
  .describe('a message the service could not take; the socket stays open');
export const EndedFrame = z
  .strictObject({
    type: z.literal('ended'),
    reason: z.enum(ENDED_REASONS),
    device: nullableDevice.describe('the device that took the slot (takenOver, evicted), else null'),
  })
  .describe('sent once, just before the server closes the socket, saying why');
export const ThrottledFrame = z
  .strictObject({ message: z.literal('Too Many Requests'), connectionId: z.string(), requestId: z.string() })
  .describe("API Gateway's answer to a throttled message: not handled, the socket stays open");

// --- HTTP ----------------------------------------------------------------------------------------------------------

export const ErrorBody = z.strictObject({ error: z.strictObject({ code: errorCode, message: z.string() }) });

export const OwnStreams = z.strictObject({
  userId,
  limit: count,
  active: count,
  policy,
  streams: z
    .array(z.strictObject({ streamId: nullableStreamId, device: nullableDevice, connectedAt: iso, lastSeenAt: iso }))
    .describe('newest first'),
});

export const UserConnections = z.strictObject({
  userId,
  limit: count,
  limitOverride: z.union([count, z.null()]),
  policy,
  policyOverride: z.union([policy, z.null()]),
  active: count,
  connections: z.array(
    z.strictObject({
      connectionId: z.string(),
      streamId: nullableStreamId,
      device: nullableDevice,
      connectedAt: iso,
      lastSeenAt: iso,
      sourceIp: z.union([z.string(), z.null()]),
    }),
  ),
  drift: z.int().optional().describe('only when the counter disagrees with the connections it counts'),
});

export const UserLimit = z.strictObject({
  userId,
  limit: count,
  active: count,
  limitOverride: z.union([count, z.null()]),
});
export const UserPolicy = z.strictObject({ userId, policy, policyOverride: z.union([policy, z.null()]) });
export const UserAudit = z.strictObject({
  userId,
  entries: z.array(
    z.strictObject({
      at: iso,
      staff: z.string(),
      action: z.enum(['endConnection', 'setLimit', 'clearLimit', 'setPolicy']),
      detail: z.record(z.string(), z.union([z.string(), z.number(), z.null()])),
    }),
  ),
});
export const Signals = z.strictObject({
  day: z.string(),
  signals: z.array(
    z.strictObject({
      userId,
      reason: z.enum(['networks', 'refusals']),
      day: z.string(),
      at: z.number(),
      seen: count,
      threshold: count,
      networks: z.optional(z.array(z.string())),
    }),
  ),
});
const usageHour = z.strictObject({
  hour: iso,
  /** the most streams at once in the hour (an hour without a change: the count carried into it) */
  peak: count,
  admissions: count,
  refusals: count,
  evictions: count,
  /** streams whose slot was taken back from a ghost: at a connect that needed it (`reclaimed`) or by the sweep */
  reclaims: count,
  ended: count,
  /** users: exact; service-wide: seconds rounded down to two significant digits; null when no stream ended */
  medianDurationMs: z.union([count, z.null()]),
});
const usage = {
  from: iso,
  to: iso,
  /** streams counted now */
  active: count,
  /** one per hour of [from, to), oldest first */
  hours: z.array(usageHour),
};
export const ServiceUsage = z.strictObject(usage);
export const UserUsage = z.strictObject({ userId, ...usage });
export const LimitBody = z.strictObject({
  limit: z.int().min(LIMIT_OVERRIDE_RANGE.min).max(LIMIT_OVERRIDE_RANGE.max),
});
export const PolicyBody = z.strictObject({ policy });
export const HealthOk = z.strictObject({ status: z.literal('ok'), storeLatencyMs: z.number() });
export const HealthDown = z.strictObject({ status: z.literal('unavailable'), reason: z.string() });

/** Every schema, by the name the documents give it (`#/components/schemas/NAME`). */
export const SCHEMAS = {
  HandshakeQuery,
  HeartbeatMessage,
  StatusMessage,
  HeartbeatFrame,
  StatusFrame,
  ErrorFrame,
  EndedFrame,
  ThrottledFrame,
  ErrorBody,
  OwnStreams,
  UserConnections,
  UserLimit,
  UserPolicy,
  UserAudit,
  Signals,
  ServiceUsage,
  UserUsage,
  LimitBody,
  PolicyBody,
  HealthOk,
  HealthDown,
} as const;

export type SchemaName = keyof typeof SCHEMAS;

/** A schema as JSON Schema (draft 2020-12, which OpenAPI 3.1 uses), without its `$schema` line. */
export function jsonSchema(name: SchemaName): Record<string, unknown> {
  const { $schema: _, ...schema } = z.toJSONSchema(SCHEMAS[name], { io: 'output', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return schema;
}
