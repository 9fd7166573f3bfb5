/**
 * The store's operations, the only code that writes DynamoDB requests. The table shape and key formats live in
 * `./schema.ts`, reading items in `./items.ts`, running transactions in `./transactions.ts`.
 */
import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  type TransactWriteCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { LimitPolicy } from '../policy.js';
import type { CoreEvents } from '../ports.js';
import {
  type AuditRecord,
  type CloseReason,
  type ConnectionRecord,
  type CounterRecord,
  closed,
  type NewConnection,
  toAudit,
  toConnection,
  toCounter,
} from './items.js';
import {
  AUDIT_SECONDS,
  AUDIT_SORT_PREFIX,
  counterAttributes,
  DEFAULT_LEASE_SHARDS,
  keys,
  LEASE_INDEX,
  PARTITION_KEY,
  SORT_KEY,
  TOMBSTONE_SECONDS,
} from './schema.js';
import { requestToken, runTransaction } from './transactions.js';

/** The client comes from here too, so that a caller needs one import to get a store. */
export { createDocumentClient } from './client.js';

export type AdmitOutcome =
  | { kind: 'admitted' }
  /** this connectionId was already written: a redelivered `$connect` */
  | { kind: 'duplicate'; existing: ConnectionRecord }
  | { kind: 'limitReached'; counter: CounterRecord }
  | { kind: 'streamHeld'; heldBy: string; counter: CounterRecord };

export type TakeOverOutcome =
  | { kind: 'tookOver' }
  | { kind: 'duplicate'; existing: ConnectionRecord }
  /** the stream is no longer held by that connection: start over */
  | { kind: 'changed' };

export type EvictOutcome =
  | { kind: 'evicted' }
  /** this connectionId was already written: a redelivered `$connect` */
  | { kind: 'duplicate'; existing: ConnectionRecord }
  /**
   * the counter is not as it was read (the victim was released or evicted by another connect, room came free, the
   * policy or the limit changed): here it is now, to look again
   */
  | { kind: 'changed'; counter: CounterRecord };

export interface EvictOptions {
  /** the connection to end, and the stream id it holds on the counter (if any) */
  victim: { connectionId: string; streamId?: string };
  /** the limit when the user has no override: the plan's (token claim) or the service's default */
  defaultLimit: number;
  /** the policy when the user has no override: the eviction happens only if `evict-oldest` is in force */
  defaultPolicy: LimitPolicy;
  maxConnectionMs: number;
}

export type ReleaseOutcome =
  | { kind: 'released'; connection: ConnectionRecord }
  | { kind: 'alreadyReleased'; connection: ConnectionRecord }
  | { kind: 'unknown' };

export interface StoreOptions {
  tableName: string;
  /** told about each transaction tried again (for metrics) */
  events?: CoreEvents;
  /** how many partitions the sweep's index spreads open connections over (`leaseShardsFor` sizes it) */
  leaseShards?: number;
}

export interface AdmitOptions {
  /** the limit when the user has no override: the plan's (token claim) or the service's default */
  defaultLimit: number;
  /** API Gateway's hard limit on a socket's life; sets the item's TTL */
  maxConnectionMs: number;
  /** which try this is for the event; part of the idempotency token so a later try is not the earlier one */
  round?: number;
}

export interface TakeOverOptions {
  /** the connection that holds the stream now */
  heldBy: string;
  maxConnectionMs: number;
}

/** Open connections that connected in `[from, to)`, from the sweep's index. */
export interface AgeWindow {
  from: number;
  to: number;
}

const userKey = keys.counter;
const connKey = keys.connection;
const countedAttr = counterAttributes.counted;
const streamAttr = counterAttributes.stream;

export class StreamStore {
  readonly tableName: string;
  private readonly events?: CoreEvents;
  readonly leaseShards: number;

  constructor(
    /** public so that tests can count the calls a lifecycle makes; nothing else sends through it */
    readonly db: DynamoDBDocumentClient,
    options: StoreOptions,
  ) {
    this.tableName = options.tableName;
    this.events = options.events;
    this.leaseShards = options.leaseShards ?? DEFAULT_LEASE_SHARDS;
  }

  /**
   * Counts a new connection and writes its item in one transaction, if the user is under their limit
   * (the override when set, else `defaultLimit`) and does not already hold `streamId`.
   */
  async admit(conn: NewConnection, options: AdmitOptions): Promise<AdmitOutcome> {
    const { defaultLimit, maxConnectionMs, round = 0 } = options;
    const names: Record<string, string> = { '#c': countedAttr(conn.connectionId) };
    let set = 'SET userId = :u, active = if_not_exists(active, :zero) + :one, #c = :at';
    let condition =
      'attribute_not_exists(#c) AND ((attribute_exists(limitOverride) AND active < limitOverride) OR ' +
      '(attribute_not_exists(limitOverride) AND (attribute_not_exists(active) OR active < :limit)))';
    if (conn.streamId) {
      names['#s'] = streamAttr(conn.streamId);
      set += ', #s = :id';
      condition += ' AND attribute_not_exists(#s)';
    }
    const input: TransactWriteCommandInput = {
      // The send time is part of the token: a redelivered `$connect` writes anew and finds its own item (duplicate).
      ClientRequestToken: requestToken('admit', conn.connectionId, conn.handshakeAt ?? conn.connectedAt, round),
      TransactItems: [
        {
          Update: {
            TableName: this.tableName,
            Key: userKey(conn.userId),
            UpdateExpression: set,
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: {
              ':u': conn.userId,
              ':zero': 0,
              ':one': 1,
              ':at': conn.connectedAt,
              ':limit': defaultLimit,
              ...(conn.streamId ? { ':id': conn.connectionId } : {}),
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        this.putConnection(conn, maxConnectionMs),
      ],
    };
    const reasons = await this.transact(input);
    if (!reasons) return { kind: 'admitted' };
    const [counterReason, connReason] = reasons;
    if (connReason?.code === 'ConditionalCheckFailed') {
      return { kind: 'duplicate', existing: toConnection(connReason.item) };
    }
    const counter = toCounter(conn.userId, counterReason?.item);
    const heldBy = conn.streamId ? counter.streams.get(conn.streamId) : undefined;
    if (heldBy) return { kind: 'streamHeld', heldBy, counter };
    return { kind: 'limitReached', counter };
  }

  /**
   * Hands `streamId` from `oldConnectionId` to the new connection in one transaction: the old one is closed, the
   * new one counted in its place, and `active` does not move.
   */
  async takeOver(conn: NewConnection & { streamId: string }, options: TakeOverOptions): Promise<TakeOverOutcome> {
    const { heldBy: oldConnectionId, maxConnectionMs } = options;
    const at = conn.connectedAt;
    const input: TransactWriteCommandInput = {
      ClientRequestToken: requestToken(
        'takeOver',
        conn.connectionId,
        conn.handshakeAt ?? conn.connectedAt,
        oldConnectionId,
      ),
      TransactItems: [
        {
          Update: {
            TableName: this.tableName,
            Key: userKey(conn.userId),
            UpdateExpression: 'SET #s = :new, #cNew = :at REMOVE #cOld',
            ConditionExpression: '#s = :old AND attribute_exists(#cOld) AND attribute_not_exists(#cNew)',
            ExpressionAttributeNames: {
              '#s': streamAttr(conn.streamId),
              '#cNew': countedAttr(conn.connectionId),
              '#cOld': countedAttr(oldConnectionId),
            },
            ExpressionAttributeValues: { ':new': conn.connectionId, ':old': oldConnectionId, ':at': at },
          },
        },
        this.closeConnection(oldConnectionId, 'takenOver', at, { allowMissing: true }),
        this.putConnection(conn, maxConnectionMs),
      ],
    };
    const reasons = await this.transact(input);
    if (!reasons) return { kind: 'tookOver' };
    const connReason = reasons[2];
    if (connReason?.code === 'ConditionalCheckFailed') {
      return { kind: 'duplicate', existing: toConnection(connReason.item) };
    }
    return { kind: 'changed' };
  }

  /**
   * `evict-oldest`: ends `victim` and counts the new connection in its place, in one transaction. The counter swaps
   * one member for the other (and the stream claims with them), so `active` does not move: the count never passes
   * the limit. On condition that the victim is still counted (two connects that chose the same victim cannot both
   * evict it), that the user holds exactly their limit (no eviction when there is room, or when staff lowered the
   * limit below the count) and that `evict-oldest` is in force for the user.
   */
  async evict(conn: NewConnection, options: EvictOptions): Promise<EvictOutcome> {
    const { victim, defaultLimit, defaultPolicy, maxConnectionMs } = options;
    const at = conn.connectedAt;
    const names: Record<string, string> = {
      '#cNew': countedAttr(conn.connectionId),
      '#cOld': countedAttr(victim.connectionId),
    };
    const values: Record<string, unknown> = {
      ':at': at,
      ':limit': defaultLimit,
      ':evict': 'evict-oldest' satisfies LimitPolicy,
    };
    const set = ['#cNew = :at'];
    const remove = ['#cOld'];
    const conditions = [
      'attribute_exists(#cOld)',
      'attribute_not_exists(#cNew)',
      '((attribute_exists(limitOverride) AND active = limitOverride) OR ' +
        '(attribute_not_exists(limitOverride) AND active = :limit))',
      defaultPolicy === 'evict-oldest'
        ? '(attribute_not_exists(policyOverride) OR policyOverride = :evict)'
        : 'policyOverride = :evict',
    ];
    if (conn.streamId) {
      names['#sNew'] = streamAttr(conn.streamId);
      values[':new'] = conn.connectionId;
      set.push('#sNew = :new');
      conditions.push('attribute_not_exists(#sNew)');
    }
    if (victim.streamId) {
      names['#sOld'] = streamAttr(victim.streamId);
      values[':old'] = victim.connectionId;
      remove.push('#sOld');
      conditions.push('#sOld = :old');
    }
    const reasons = await this.transact({
      ClientRequestToken: requestToken(
        'evict',
        conn.connectionId,
        conn.handshakeAt ?? conn.connectedAt,
        victim.connectionId,
      ),
      TransactItems: [
        {
          Update: {
            TableName: this.tableName,
            Key: userKey(conn.userId),
            UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        // Missing or closed already: then the counter no longer counts it either, and the condition above fails.
        this.closeConnection(victim.connectionId, 'evicted', at, { allowMissing: true }),
        this.putConnection(conn, maxConnectionMs),
      ],
    });
    if (!reasons) return { kind: 'evicted' };
    const [counterReason, , connReason] = reasons;
    if (connReason?.code === 'ConditionalCheckFailed') {
      return { kind: 'duplicate', existing: toConnection(connReason.item) };
    }
    const counter =
      counterReason?.code === 'ConditionalCheckFailed'
        ? toCounter(conn.userId, counterReason.item)
        : await this.getCounter(conn.userId);
    return { kind: 'changed', counter };
  }

  /**
   * Closes a connection and gives its stream back, exactly once: whoever calls second (a redelivered
   * `$disconnect`, a kick racing a disconnect, the sweep) finds it already released. `known` is the connection as the
   * caller just read it (spares a read).
   *
   * Two single-item writes, not a transaction (half the write units): the counter first, on condition it still counts
   * the connection; then the item is closed, on condition it is still open. Between the two the item is open but no
   * longer counted, which nothing treats as a stream; a crash there leaves it for the sweep, whose release finds it
   * uncounted and closes it. 'released' goes to the one caller whose close of the item succeeded, not to the one whose
   * uncount did: two enders can each win one of the two writes (one uncounts, the other closes first), and only one
   * of them may tell the socket why it ends.
   */
  async release(
    connectionId: string,
    reason: CloseReason,
    at: number,
    known?: ConnectionRecord,
  ): Promise<ReleaseOutcome> {
    const connection = known ?? (await this.getConnection(connectionId));
    if (!connection) return { kind: 'unknown' };
    if (connection.state === 'closed') return { kind: 'alreadyReleased', connection };
    // The claim can only belong to this connection while it is counted: a takeover moves both in one write.
    const claims = connection.streamId ? [connection.streamId] : [];
    await this.conditionalUpdate(this.uncount(connection.userId, connectionId, claims).Update);
    // Also closes one that was open but no longer counted: the counter had drifted, or a release crashed in between.
    if (await this.conditionalUpdate(this.closeConnection(connectionId, reason, at).Update)) {
      return { kind: 'released', connection: closed(connection, reason, at) };
    }
    return { kind: 'alreadyReleased', connection };
  }

  /**
   * Releases ghosts found by a refused connect, all in one write of the counter (their members and stream claims
   * removed, `active` down by as many), on condition it still counts every one of them; then closes their items.
   * False when the condition failed: some were released meanwhile (by their `$disconnect`, or another refused
   * connect of the same user, which then closes the items itself).
   */
  async releaseGhosts(counter: CounterRecord, connectionIds: string[], at: number): Promise<boolean> {
    const names: Record<string, string> = {};
    const conditions: string[] = [];
    const removed: string[] = [];
    connectionIds.forEach((id, i) => {
      names[`#c${i}`] = countedAttr(id);
      conditions.push(`attribute_exists(#c${i})`);
      removed.push(`#c${i}`);
    });
    let claim = 0;
    for (const [streamId, holder] of counter.streams) {
      if (!connectionIds.includes(holder)) continue;
      names[`#s${claim}`] = streamAttr(streamId);
      removed.push(`#s${claim++}`);
    }
    const uncounted = await this.conditionalUpdate({
      TableName: this.tableName,
      Key: userKey(counter.userId),
      UpdateExpression: `SET active = active - :n REMOVE ${removed.join(', ')}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':n': connectionIds.length },
    });
    if (!uncounted) return false;
    await Promise.all(
      connectionIds.map((id) => this.conditionalUpdate(this.closeConnection(id, 'reclaimed', at).Update)),
    );
    return true;
  }

  /**
   * Forgets a counted connection whose item no longer exists or is already closed (deleted by TTL or by hand), with
   * any stream claim still pointing at it: a claim left behind would make every reconnect of that stream a takeover
   * of nothing.
   */
  async forgetMissing(counter: CounterRecord, connectionId: string): Promise<boolean> {
    const claims = [...counter.streams].filter(([, holder]) => holder === connectionId).map(([streamId]) => streamId);
    const reasons = await this.transact({
      TransactItems: [
        {
          ConditionCheck: {
            TableName: this.tableName,
            Key: connKey(connectionId),
            ConditionExpression: 'attribute_not_exists(pk) OR #state = :closed',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':closed': 'closed' },
          },
        },
        this.uncount(counter.userId, connectionId, claims),
      ],
    });
    return !reasons;
  }

  /**
   * Whether the store answers at all, within `timeoutMs`: one eventually consistent read of a key no user can have
   * (`#` is outside the id alphabet), so a health check costs half a read unit and never touches real data.
   */
  async ping(timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      await this.db.send(new GetCommand({ TableName: this.tableName, Key: userKey('#health') }), {
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
      return { ok: true };
    } catch (error) {
      const name = (error as Error | undefined)?.name ?? 'Error';
      if (name === 'TimeoutError' || name === 'AbortError')
        return { ok: false, reason: `the store did not answer within ${timeoutMs} ms` };
      return { ok: false, reason: `the store cannot be reached (${name})` };
    }
  }

  async getConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: connKey(connectionId), ConsistentRead: true }),
    );
    return Item ? toConnection(Item) : undefined;
  }

  async getCounter(userId: string): Promise<CounterRecord> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: userKey(userId), ConsistentRead: true }),
    );
    return toCounter(userId, Item);
  }

  /** Every connection the user's counter counts, read consistently; a counted id with no item is `missing`. */
  async countedConnections(counter: CounterRecord): Promise<{ open: ConnectionRecord[]; missing: string[] }> {
    const ids = [...counter.counted.keys()];
    const found = new Map<string, ConnectionRecord>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map(connKey);
      while (keys && keys.length > 0) {
        const out: BatchGetCommandOutput = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const c = toConnection(item);
          found.set(c.connectionId, c);
        }
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    const open: ConnectionRecord[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const c = found.get(id);
      if (c && c.state === 'open') open.push(c);
      else missing.push(id);
    }
    return { open, missing };
  }

  /**
   * Sets (a number) or clears (undefined) the user's limit override, and writes `audit` to the user's history in the
   * same transaction: the change and its record are one write. Returns the counter after the change.
   */
  setLimitOverride(userId: string, limit: number | undefined, options: { audit: AuditRecord }): Promise<CounterRecord> {
    return this.setOverride(userId, 'limitOverride', limit, options.audit);
  }

  /**
   * Sets (a policy) or clears (undefined) the user's policy at the limit, and writes `audit` to the user's history in
   * the same transaction. Returns the counter after the change, with the policy this write set.
   */
  setPolicyOverride(
    userId: string,
    policy: LimitPolicy | undefined,
    options: { audit: AuditRecord },
  ): Promise<CounterRecord> {
    return this.setOverride(userId, 'policyOverride', policy, options.audit);
  }

  private async setOverride<K extends 'limitOverride' | 'policyOverride'>(
    userId: string,
    attribute: K,
    value: CounterRecord[K] | undefined,
    audit: AuditRecord,
  ): Promise<CounterRecord> {
    const base = 'SET userId = :u, active = if_not_exists(active, :zero)';
    await this.transact({
      TransactItems: [
        {
          Update: {
            TableName: this.tableName,
            Key: userKey(userId),
            UpdateExpression: value === undefined ? `${base} REMOVE #o` : `${base}, #o = :value`,
            ExpressionAttributeNames: { '#o': attribute },
            ExpressionAttributeValues: {
              ':u': userId,
              ':zero': 0,
              ...(value === undefined ? {} : { ':value': value }),
            },
          },
        },
        this.putAudit(audit),
      ],
    });
    // The answer says what this write did: a change racing in between would otherwise show up as this one's result
    // (a PUT of 0 answered `limitOverride: null`, found by the support API fuzz target).
    return { ...(await this.getCounter(userId)), [attribute]: value };
  }

  /** Writes one entry of a user's history on its own (for actions that are not a single write of the store's). */
  async recordAudit(entry: AuditRecord): Promise<void> {
    await this.db.send(new PutCommand(this.putAudit(entry).Put));
  }

  /** The user's history, newest first, at most `limit` entries (expired entries may linger until TTL removes them). */
  async auditTrail(userId: string, { limit }: { limit: number }): Promise<AuditRecord[]> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
        ExpressionAttributeValues: { ':pk': userKey(userId)[PARTITION_KEY], ':prefix': AUDIT_SORT_PREFIX },
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return (Items ?? []).map(toAudit);
  }

  /** Open connections that connected within `window`, across all users and shards, from the sparse index. */
  async *connectionsAged(
    window: AgeWindow,
  ): AsyncGenerator<{ connectionId: string; userId: string; connectedAt: number }> {
    if (window.to <= window.from) return;
    for (let shard = 0; shard < this.leaseShards; shard++) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const out: QueryCommandOutput = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: LEASE_INDEX.name,
            KeyConditionExpression: '#shard = :shard AND #age BETWEEN :from AND :to',
            ExpressionAttributeNames: { '#shard': LEASE_INDEX.partitionKey, '#age': LEASE_INDEX.sortKey },
            ExpressionAttributeValues: { ':shard': keys.leaseShard(shard), ':from': window.from, ':to': window.to - 1 },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of out.Items ?? []) {
          yield {
            connectionId: String(item.connectionId),
            userId: String(item.userId),
            connectedAt: Number(item[LEASE_INDEX.sortKey]),
          };
        }
        startKey = out.LastEvaluatedKey;
      } while (startKey);
    }
  }

  /** Where the last sweep stopped (ms), if one ever ran. */
  async sweptTo(): Promise<number | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: keys.sweepCursor(), ConsistentRead: true }),
    );
    return Item?.sweptTo === undefined ? undefined : Number(Item.sweptTo);
  }

  /** Moves the sweep's cursor forward to `at` (never back: a slow sweep finishing late does not undo a later one). */
  async setSweptTo(at: number): Promise<void> {
    await this.conditionalUpdate({
      TableName: this.tableName,
      Key: keys.sweepCursor(),
      UpdateExpression: 'SET sweptTo = :at',
      ConditionExpression: 'attribute_not_exists(sweptTo) OR sweptTo < :at',
      ExpressionAttributeValues: { ':at': at },
    });
  }

  /**
   * Makes `active` equal the number of counted connections, if the counter still reads `observed` (a connect or
   * release in between changes it, and then the caller looks again).
   */
  async repairCount(userId: string, { observed, actual }: { observed: number; actual: number }): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(userId),
          UpdateExpression: 'SET active = :actual',
          ConditionExpression: 'active = :observed',
          ExpressionAttributeValues: { ':actual': actual, ':observed': observed },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Stops counting a connection: one fewer active, its member gone, and the stream claims it held. */
  private uncount(userId: string, connectionId: string, streamIds: string[]) {
    const names: Record<string, string> = { '#c': countedAttr(connectionId) };
    for (const [i, streamId] of streamIds.entries()) names[`#s${i}`] = streamAttr(streamId);
    const removed = ['#c', ...streamIds.map((_, i) => `#s${i}`)].join(', ');
    return {
      Update: {
        TableName: this.tableName,
        Key: userKey(userId),
        UpdateExpression: `SET active = active - :one REMOVE ${removed}`,
        ConditionExpression: 'attribute_exists(#c)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ':one': 1 },
      },
    };
  }

  private putAudit(entry: AuditRecord) {
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          ...keys.audit(entry.userId, entry.at, randomBytes(6).toString('base64url')),
          ...entry,
          expiresAt: Math.ceil(entry.at / 1000) + AUDIT_SECONDS,
        },
      },
    };
  }

  private putConnection(conn: NewConnection, maxConnectionMs: number) {
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          ...connKey(conn.connectionId),
          ...conn,
          lastSeenAt: conn.connectedAt,
          state: 'open',
          leaseShard: keys.leaseShardOf(conn.connectionId, this.leaseShards),
          // No socket outlives API Gateway's hard limit; a day past it, even a lost item cleans itself up.
          expiresAt: Math.ceil((conn.connectedAt + maxConnectionMs) / 1000) + TOMBSTONE_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  private closeConnection(
    connectionId: string,
    reason: CloseReason,
    at: number,
    opts: { allowMissing?: boolean } = {},
  ) {
    return {
      Update: {
        TableName: this.tableName,
        Key: connKey(connectionId),
        UpdateExpression:
          'SET #state = :closed, closedAt = :at, closeReason = :reason, expiresAt = :ttl, connectionId = :id ' +
          'REMOVE leaseShard',
        ConditionExpression: opts.allowMissing ? 'attribute_not_exists(pk) OR #state = :open' : '#state = :open',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':closed': 'closed',
          ':open': 'open',
          ':at': at,
          ':reason': reason,
          ':id': connectionId,
          ':ttl': Math.ceil(at / 1000) + TOMBSTONE_SECONDS,
        },
      },
    };
  }

  /** One conditional UpdateItem; false when its condition failed. */
  private async conditionalUpdate(update: UpdateCommandInput): Promise<boolean> {
    try {
      await this.db.send(new UpdateCommand(update));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private transact(input: TransactWriteCommandInput) {
    return runTransaction(this.db, input, {
      onRetry: (cause) => this.events?.({ kind: 'transactionRetried', cause }),
    });
  }
}
