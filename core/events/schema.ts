/**
 * The events streamgate tells the systems around it, as CloudEvents 1.0 in structured JSON. Each type's `data` has a
 * zod schema here; `eventJsonSchemas()` turns them into the JSON Schemas the docs publish. A type's schema version
 * goes up only with a change a consumer could trip on (a field removed or retyped); new optional fields keep it.
 */
import { z } from 'zod';

export const EVENT_SOURCE = 'streamgate';
export const EVENT_SCHEMA_VERSION = 1;

const CLOSE_REASONS = [
  'disconnected',
  'takenOver',
  'kicked',
  'endedByUser',
  'evicted',
  'reclaimed',
  'swept',
  /** its own `$connect` answered too late for its socket to open (it never played) */
  'withdrawn',
  /** counted once, its item since gone (TTL or by hand): the sweep or a refused connect forgot it */
  'forgotten',
] as const;

const stream = {
  userId: z.string(),
  connectionId: z.string(),
  streamId: z.string().optional(),
  device: z.string().optional(),
  /** the source address's network: /24 for IPv4, /48 for IPv6; never the address itself */
  network: z.string().optional(),
  /** how many streams the user has counted after this change */
  active: z.number().int().nonnegative(),
};

export const eventData = {
  'stream.admitted': z.object({ ...stream, connectedAt: z.string() }).strict(),
  'stream.ended': z
    .object({
      ...stream,
      reason: z.enum(CLOSE_REASONS),
      connectedAt: z.string(),
      endedAt: z.string(),
      durationMs: z.number().int().nonnegative(),
    })
    .strict(),
  'stream.refused': z.object({ ...stream, limit: z.number().int().nonnegative(), refusedAt: z.string() }).strict(),
  'user.sharingSuspected': z
    .object({
      userId: z.string(),
      /** `networks`: streams playing at once from more networks than allowed; `refusals`: refused too often today */
      reason: z.enum(['networks', 'refusals']),
      /** what was seen: the networks, or the refusals today */
      seen: z.number().int().nonnegative(),
      threshold: z.number().int().nonnegative(),
      networks: z.array(z.string()).optional(),
      day: z.string(),
    })
    .strict(),
  'user.limitChanged': z
    .object({
      userId: z.string(),
      limit: z.number().int().nonnegative().nullable(),
      previous: z.number().int().nullable(),
    })
    .strict(),
  'user.policyChanged': z
    .object({ userId: z.string(), policy: z.string().nullable(), previous: z.string().nullable() })
    .strict(),
} as const;

export type EventType = keyof typeof eventData;
export const EVENT_TYPES = Object.keys(eventData) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof eventData)[T]>;
export type EndReason = (typeof CLOSE_REASONS)[number];

/** One event; over every type, a union a consumer narrows by `type`. */
export type CloudEvent<T extends EventType = EventType> = T extends EventType
  ? {
      specversion: '1.0';
      /** stable for one step of one connection (or one change of a user): a consumer deduplicates by it */
      id: string;
      source: typeof EVENT_SOURCE;
      type: T;
      /** the user the event is about */
      subject: string;
      time: string;
      datacontenttype: 'application/json';
      dataschema: string;
      data: EventData<T>;
    }
  : never;

export const dataSchemaOf = (type: EventType) => `urn:streamgate:events:${type}:v${EVENT_SCHEMA_VERSION}`;

export function cloudEvent<T extends EventType>(
  type: T,
  fields: { id: string; subject: string; time: number; data: EventData<T> },
): CloudEvent<T> {
  return {
    specversion: '1.0',
    id: fields.id,
    source: EVENT_SOURCE,
    type,
    subject: fields.subject,
    time: new Date(fields.time).toISOString(),
    datacontenttype: 'application/json',
    dataschema: dataSchemaOf(type),
    data: fields.data,
  } as CloudEvent<T>; // TypeScript cannot follow a generic through the distributive type; the fields above are T's
}

/** Every type's `data` as JSON Schema (draft 2020-12), keyed by its `dataschema` URN. */
export function eventJsonSchemas(): Record<string, unknown> {
  return Object.fromEntries(
    EVENT_TYPES.map((type) => [dataSchemaOf(type), { title: type, ...z.toJSONSchema(eventData[type]) }]),
  );
}
