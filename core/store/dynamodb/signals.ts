/** Sharing signals and the refusal counts behind them (core/events/signals.ts), written by the events processor. */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { SharingReason, SharingSignal, SignalStore } from '../../events/signals.js';
import { keys, PARTITION_KEY, SIGNAL_SECONDS } from '../schema.js';

const expiresAt = (at: number) => Math.floor(at / 1000) + SIGNAL_SECONDS;

export class DynamoSignalStore implements SignalStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async hasSignal(day: string, userId: string, reason: SharingReason): Promise<boolean> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: keys.signal(day, userId, reason), ConsistentRead: true }),
    );
    return Item !== undefined;
  }

  async recordSignal(signal: SharingSignal): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.signal(signal.day, signal.userId, signal.reason), ...signal, expiresAt: expiresAt(signal.at) },
      }),
    );
  }

  /**
   * One write per refusal: counted once per connection id (a refusal delivered twice is not counted twice), and only
   * up to `cap`, so the item never holds more than `cap` ids however often a player retries.
   */
  async countRefusal(day: string, userId: string, connectionId: string, cap: number): Promise<number> {
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.refusals(userId, day),
          UpdateExpression: 'ADD #count :one, ids :id SET expiresAt = if_not_exists(expiresAt, :expires)',
          ConditionExpression: '(attribute_not_exists(#count) OR #count < :cap) AND NOT contains(ids, :idText)',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: {
            ':one': 1,
            ':id': new Set([connectionId]),
            ':idText': connectionId,
            ':cap': cap,
            ':expires': expiresAt(Date.parse(`${day}T00:00:00Z`) + 86_400_000),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Number(Attributes?.count ?? 0);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Counted already (this refusal again), or past the cap: the count as it stands.
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: keys.refusals(userId, day), ConsistentRead: true }),
      );
      return Number(Item?.count ?? 0);
    }
  }

  async listSignals(day: string): Promise<SharingSignal[]> {
    const signals: SharingSignal[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':pk': keys.signal(day, '', '')[PARTITION_KEY] },
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) {
        signals.push({
          userId: String(item.userId),
          reason: item.reason === 'refusals' ? 'refusals' : 'networks',
          day: String(item.day),
          at: Number(item.at),
          seen: Number(item.seen),
          threshold: Number(item.threshold),
          ...(Array.isArray(item.networks) ? { networks: item.networks.map(String) } : {}),
        });
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return signals;
  }
}
