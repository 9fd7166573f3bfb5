/**
 * A DynamoDB Streams record as a table change: the same whether Lambda hands it over (`DynamoDBStreamEvent`, times in
 * epoch seconds) or the Streams API returns it (the local reader, times as dates).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
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

const plain = (image: Image | undefined) =>
  image ? unmarshall(image as Record<string, AttributeValue>, { wrapNumbers: false }) : undefined;

export function changeOf(record: StreamRecordLike): TableChange {
  const d = record.dynamodb ?? {};
  const keys = plain(d.Keys) ?? {};
  const at = d.ApproximateCreationDateTime;
  return {
    sequence: d.SequenceNumber ?? '',
    keys: { pk: String(keys.pk ?? ''), sk: String(keys.sk ?? '') },
    old: plain(d.OldImage),
    new: plain(d.NewImage),
    at: at === undefined ? Date.now() : typeof at === 'number' ? at * 1000 : at.getTime(),
  };
}
