/**
 * The hourly usage (core/events/usage.ts) in the table, written by the events processor and read by the support API.
 *
 * Each step (one counter change) is applied exactly once, however often its batch comes again (at-least-once
 * delivery, a processor killed mid-batch, a batch split by Lambda's bisection). A user-hour item records the last
 * counter change it applied (`seq`); a user's changes come in the order of their partition's sequence, so a step is
 * applied iff its sequence is past that. A write reads the items first, drops the steps already applied, and writes
 * every user-hour, the service's total and its hours in one transaction whose conditions say "nothing moved since I
 * read": the user-hour's `seq`, the service's `total`, the service-hour's `peak`. Two processors (one Lambda per
 * shard) never lose each other's changes: the later one's condition fails, it reads again and tries again. A
 * separate marker per refusal, written in the same transaction as its counts, does the same for refusals (they have
 * no sequence).
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { StoreContentionError } from '../../errors.js';
import {
  HOUR_MS,
  type HourDelta,
  hourOf,
  pendingSteps,
  planUsage,
  type StoredHour,
  sequenceKey,
  type UsagePlan,
  type UsageReader,
  type UsageReads,
  type UsageRefusal,
  type UsageStep,
  type UsageWriter,
  userHourKey,
} from '../../events/usage.js';
import {
  keys,
  PARTITION_KEY,
  SERVICE_HOUR_PREFIX,
  SERVICE_USAGE_PARTITION,
  SORT_KEY,
  USAGE_REFUSAL_MARK_SECONDS,
  USAGE_SECONDS,
  USAGE_SORT_PREFIX,
} from '../schema.js';
import { runTransaction } from './transactions.js';

/** Histogram buckets are attributes of their own (`d:<seconds>`), so a write ADDs to them without reading. */
const BUCKET_PREFIX = 'd:';

/** User-hours per transaction: DynamoDB takes 100 items, and the service's total and hours need a few. */
const USER_HOURS_PER_WRITE = 90;

/** Times a write reads again after another processor moved what it read, before it gives up (the batch is retried). */
const ATTEMPTS = 20;

/** Keys per BatchGetItem: DynamoDB's most. */
const BATCH_GET_KEYS = 100;

const expiresAt = (hour: number) => Math.floor((hour + HOUR_MS) / 1000) + USAGE_SECONDS;
const names = {
  '#peak': 'peak',
  '#level': 'level',
  '#admissions': 'admissions',
  '#ended': 'ended',
  '#evictions': 'evictions',
  '#reclaims': 'reclaims',
  '#hour': 'hour',
  '#expiresAt': 'expiresAt',
};

export class DynamoUsageStore implements UsageReader, UsageWriter {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async recordSteps(steps: UsageStep[]): Promise<void> {
    for (const chunk of chunks(steps)) await this.recordChunk(chunk);
  }

  private async recordChunk(steps: UsageStep[]): Promise<void> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const reads = await this.readFor(steps);
      const pending = pendingSteps(steps, reads);
      if (pending.length === 0) return;
      const plan = planUsage(pending, reads);
      const cancelled = await runTransaction(this.db, this.writesOf(plan, reads));
      if (!cancelled) return;
      // Another processor (or this batch's earlier try) moved an item since the read: read again.
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
    throw new StoreContentionError('the usage items kept changing under the events processor');
  }

  /** Every item a chunk's write depends on, in one or two BatchGetItem calls (a chunk is at most 90 user-hours). */
  private async readFor(steps: UsageStep[]): Promise<UsageReads> {
    const userHours = new Map(steps.map((s) => [userHourKey(s.userId, hourOf(s.at)), s]));
    const hours = [...new Set(steps.map((s) => hourOf(s.at)))];
    const wanted = new Map<string, Record<string, string>>();
    const keyOf = (key: Record<string, string>) => `${key[PARTITION_KEY]}\u0000${key[SORT_KEY]}`;
    for (const key of [
      ...[...userHours.values()].map((s) => keys.userUsage(s.userId, hourOf(s.at))),
      ...hours.map((hour) => keys.serviceUsage(hour)),
      keys.serviceActive(),
    ])
      wanted.set(keyOf(key), key);
    const found = new Map<string, Record<string, unknown>>();
    for (const item of await this.batchGet([...wanted.values()]))
      found.set(keyOf(item as Record<string, string>), item);
    const users = new Map<string, { peak?: number; sequence?: string; kept: number }>();
    for (const [key, s] of userHours) {
      const item = found.get(keyOf(keys.userUsage(s.userId, hourOf(s.at))));
      if (item)
        users.set(key, {
          peak: numberOrUndefined(item.peak),
          sequence: typeof item.seq === 'string' ? item.seq : undefined,
          kept: Number(item.kept ?? 0),
        });
    }
    const service = new Map<number, { peak?: number }>();
    for (const hour of hours) {
      const item = found.get(keyOf(keys.serviceUsage(hour)));
      if (item) service.set(hour, { peak: numberOrUndefined(item.peak) });
    }
    const total = Number(found.get(keyOf(keys.serviceActive()))?.total ?? 0);
    return { users, service, total };
  }

  /** Consistent reads of `wanted` (at most 100 a call), the keys DynamoDB left unprocessed asked again. */
  private async batchGet(wanted: Array<Record<string, string>>): Promise<Array<Record<string, unknown>>> {
    const items: Array<Record<string, unknown>> = [];
    for (let i = 0; i < wanted.length; i += BATCH_GET_KEYS) {
      let keysLeft: Array<Record<string, unknown>> | undefined = wanted.slice(i, i + BATCH_GET_KEYS);
      for (let attempt = 1; keysLeft && keysLeft.length > 0; attempt++) {
        if (attempt > ATTEMPTS) throw new StoreContentionError('the usage items could not be read');
        if (attempt > 1) await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
        const page: BatchGetCommandOutput = await this.db.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: {
                Keys: keysLeft,
                ConsistentRead: true,
                ProjectionExpression: '#pk, #sk, #peak, #seq, #kept, #total',
                ExpressionAttributeNames: {
                  '#pk': PARTITION_KEY,
                  '#sk': SORT_KEY,
                  '#peak': 'peak',
                  '#seq': 'seq',
                  '#kept': 'kept',
                  '#total': 'total',
                },
              },
            },
          }),
        );
        items.push(...(page.Responses?.[this.tableName] ?? []));
        keysLeft = page.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    return items;
  }

  private writesOf(plan: UsagePlan, reads: UsageReads): TransactWriteCommandInput {
    const items: NonNullable<TransactWriteCommandInput['TransactItems']> = [];
    for (const [key, user] of plan.users) {
      const applied = reads.users.get(key)?.sequence;
      const update = hourUpdate(user);
      update.set.push('#seq = :seq', '#userId = :userId');
      Object.assign(update.names, { '#seq': 'seq', '#userId': 'userId' });
      update.values[':seq'] = sequenceKey(user.sequence);
      update.values[':userId'] = user.userId;
      if (user.durations.length > 0) {
        update.set.push('#durations = list_append(if_not_exists(#durations, :none), :durations)');
        update.add.push('#kept :kept');
        Object.assign(update.names, { '#durations': 'durations', '#kept': 'kept' });
        Object.assign(update.values, { ':none': [], ':durations': user.durations, ':kept': user.durations.length });
      }
      if (applied !== undefined) update.values[':applied'] = applied;
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keys.userUsage(user.userId, user.hour),
          ...expression(update),
          // Nothing applied to this user-hour since the read: the steps dropped as applied are exactly those.
          ConditionExpression: applied === undefined ? 'attribute_not_exists(#seq)' : '#seq = :applied',
        },
      });
    }
    for (const hourly of plan.service.values()) {
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keys.serviceUsage(hourly.hour),
          ...expression(hourUpdate(hourly)),
          // A peak someone raised past ours since the read: read again rather than lower it.
          ConditionExpression: 'attribute_not_exists(#peak) OR #peak <= :peak',
        },
      });
    }
    items.push({
      Update: {
        TableName: this.tableName,
        Key: keys.serviceActive(),
        UpdateExpression: 'SET #total = :total',
        // The total moves by differences: applied to any other total than the one read, it would drift for good.
        ConditionExpression: reads.total === 0 ? 'attribute_not_exists(#total) OR #total = :read' : '#total = :read',
        ExpressionAttributeNames: { '#total': 'total' },
        ExpressionAttributeValues: { ':total': plan.total, ':read': reads.total },
      },
    });
    return { TransactItems: items };
  }

  async recordRefusals(refusals: UsageRefusal[]): Promise<void> {
    for (const refusal of refusals) await this.recordRefusal(refusal);
  }

  private async recordRefusal({ userId, connectionId, at }: UsageRefusal): Promise<void> {
    const hour = hourOf(at);
    const add = (key: Record<string, string>, extra: Record<string, unknown> = {}) => ({
      Update: {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: `ADD #refusals :one SET #expiresAt = if_not_exists(#expiresAt, :expires), #hour = :hour${
          ':userId' in extra ? ', #userId = :userId' : ''
        }`,
        ExpressionAttributeNames: {
          '#refusals': 'refusals',
          '#expiresAt': 'expiresAt',
          '#hour': 'hour',
          ...(':userId' in extra ? { '#userId': 'userId' } : {}),
        },
        ExpressionAttributeValues: { ':one': 1, ':expires': expiresAt(hour), ':hour': hour, ...extra },
      },
    });
    // The mark's is the only condition: a cancelled write is a refusal counted before, and nothing to do.
    await runTransaction(this.db, {
      TransactItems: [
        {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.usageRefusal(connectionId),
              expiresAt: Math.floor(at / 1000) + USAGE_REFUSAL_MARK_SECONDS,
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          },
        },
        add(keys.userUsage(userId, hour), { ':userId': userId }),
        add(keys.serviceUsage(hour)),
      ],
    });
  }

  async userHours(userId: string, from: number, to: number) {
    return this.hoursOf(keys.userUsage(userId, 0)[PARTITION_KEY], USAGE_SORT_PREFIX, from, to);
  }

  async serviceHours(from: number, to: number) {
    return this.hoursOf(SERVICE_USAGE_PARTITION, SERVICE_HOUR_PREFIX, from, to);
  }

  async serviceActive(): Promise<number> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: keys.serviceActive(), ConsistentRead: true }),
    );
    return Number(Item?.total ?? 0);
  }

  private async hoursOf(pk: string, prefix: string, from: number, to: number) {
    const sk = (hour: number) => `${prefix}${new Date(hour).toISOString()}`;
    const hours: StoredHour[] = [];
    for await (const item of this.query({
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': pk, ':from': sk(from), ':to': sk(to - HOUR_MS) },
    }))
      hours.push(storedHour(item));
    // The level before `from`: the newest earlier hour that had a change (one of refusals only has none).
    let carried = 0;
    for await (const item of this.query({
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
      FilterExpression: 'attribute_exists(#level)',
      ExpressionAttributeNames: { '#level': 'level' },
      ExpressionAttributeValues: { ':pk': pk, ':from': prefix, ':to': sk(from - HOUR_MS) },
      ScanIndexForward: false,
      Limit: 24,
    })) {
      carried = Number(item.level);
      break;
    }
    return { hours, carried };
  }

  private async *query(
    input: Pick<
      QueryCommandInput,
      'KeyConditionExpression' | 'FilterExpression' | 'ExpressionAttributeValues' | 'ScanIndexForward' | 'Limit'
    > & { ExpressionAttributeNames?: Record<string, string> },
  ) {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          ...input,
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY, ...input.ExpressionAttributeNames },
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) yield item;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }
}

/** Contiguous runs of steps that touch at most `USER_HOURS_PER_WRITE` user-hours each: one transaction per run. */
function chunks(steps: UsageStep[]): UsageStep[][] {
  const runs: UsageStep[][] = [];
  let run: UsageStep[] = [];
  let touched = new Set<string>();
  for (const step of steps) {
    const key = userHourKey(step.userId, hourOf(step.at));
    if (!touched.has(key) && touched.size === USER_HOURS_PER_WRITE) {
      runs.push(run);
      run = [];
      touched = new Set();
    }
    touched.add(key);
    run.push(step);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

interface UpdateParts {
  set: string[];
  add: string[];
  names: Record<string, string>;
  values: Record<string, unknown>;
}

/** The figures every hour item takes: peak and level set (computed from what was read), counts added. */
function hourUpdate(delta: HourDelta): UpdateParts {
  const parts: UpdateParts = {
    set: ['#peak = :peak', '#level = :level', '#hour = :hour', '#expiresAt = if_not_exists(#expiresAt, :expires)'],
    add: ['#admissions :admissions', '#ended :ended', '#evictions :evictions', '#reclaims :reclaims'],
    names: { ...names },
    values: {
      ':peak': delta.peak,
      ':level': delta.level,
      ':hour': delta.hour,
      ':expires': expiresAt(delta.hour),
      ':admissions': delta.admissions,
      ':ended': delta.ended,
      ':evictions': delta.evictions,
      ':reclaims': delta.reclaims,
    },
  };
  let i = 0;
  for (const [seconds, n] of delta.histogram) {
    parts.add.push(`#b${i} :b${i}`);
    parts.names[`#b${i}`] = `${BUCKET_PREFIX}${seconds}`;
    parts.values[`:b${i}`] = n;
    i++;
  }
  return parts;
}

const expression = (u: UpdateParts) => ({
  UpdateExpression: `SET ${u.set.join(', ')} ADD ${u.add.join(', ')}`,
  ExpressionAttributeNames: u.names,
  ExpressionAttributeValues: u.values,
});

const numberOrUndefined = (v: unknown) => (typeof v === 'number' ? v : undefined);

function storedHour(item: Record<string, unknown>): StoredHour {
  const histogram = new Map<number, number>();
  for (const [name, value] of Object.entries(item))
    if (name.startsWith(BUCKET_PREFIX)) histogram.set(Number(name.slice(BUCKET_PREFIX.length)), Number(value));
  return {
    hour: Number(item.hour),
    peak: numberOrUndefined(item.peak),
    level: numberOrUndefined(item.level),
    admissions: Number(item.admissions ?? 0),
    refusals: Number(item.refusals ?? 0),
    evictions: Number(item.evictions ?? 0),
    reclaims: Number(item.reclaims ?? 0),
    ended: Number(item.ended ?? 0),
    durations: Array.isArray(item.durations) ? item.durations.map(Number) : undefined,
    histogram,
  };
}
