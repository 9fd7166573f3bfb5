/**
 * A DynamoDB Streams record as a table change: the same whether Lambda hands it over (`DynamoDBStreamEvent`, times in
 * epoch seconds) or the Streams API returns it (the local reader, times as dates).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { CONNECTION_SORT_KEY, COUNTER_SORT_KEY } from '../store/schema.js';
import type { TableChange } from './changes.js';

type Image = Record<string, unknown>;

export interface StreamRecordLike {
  dynamodb?: {
    Keys?: Image;
    NewImage?: Image;
    OldImage?: Image;
    SequenceNumber?: string;
    ApproximateCreationDateTime?: number | Date;
  };
}

/**
 * An image as plain values, attribute by attribute: one the decoder cannot read (the Streams client reads DynamoDB
 * Local's `NULL` as an empty value) is left out rather than losing the record.
 */
function plain(image: Image | undefined): Record<string, unknown> | undefined {
  if (!image) return undefined;
  const values: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(image)) {
    try {
      const decoded = unmarshall({ [name]: value } as Record<string, AttributeValue>);
      // Defined, not assigned: an attribute named `__proto__` stays an attribute.
      Object.defineProperty(values, name, {
        value: decoded[name],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } catch {
      // unreadable: left out
    }
  }
  return values;
}

/**
 * Counters make the events (core/events/changes.ts) and connections' items fill them in (spared a read when the
 * batch holds them): other items' images are not decoded at all.
 */
const DECODED_SORT_KEYS = new Set([COUNTER_SORT_KEY, CONNECTION_SORT_KEY]);

export function changeOf(record: StreamRecordLike): TableChange {
  const d = record.dynamodb ?? {};
  const keys = plain(d.Keys) ?? {};
  const at = d.ApproximateCreationDateTime;
  const images = DECODED_SORT_KEYS.has(String(keys.sk));
  return {
    sequence: d.SequenceNumber ?? '',
    keys: { pk: String(keys.pk ?? ''), sk: String(keys.sk ?? '') },
    old: images ? plain(d.OldImage) : undefined,
    new: images ? plain(d.NewImage) : undefined,
    at: at === undefined ? Date.now() : typeof at === 'number' ? at * 1000 : at.getTime(),
  };
}
