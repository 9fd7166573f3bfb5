/**
 * The store on DynamoDB: what the handlers run on, locally (DynamoDB Local) and in Lambda. One table; each concern in
 * its own file (the count guard's writes, releases, reads, staff changes and history, the sweep's index), all sharing
 * one `Table` (client, table name, how transactions and conditional updates run).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StreamStore } from '../port.js';
import { auditTrail, recordAudit, setLimitOverride, setPolicyOverride } from './audit.js';
import { admit, evict, takeOver } from './counter.js';
import { countedConnections, getConnection, getCounter, ping } from './reads.js';
import { closeItem, forgetMissing, hold, release, releaseGhosts, repairCount, uncountConnection } from './releases.js';
import { connectionsAged, setSweptTo, sweptTo } from './sweep-index.js';
import { createTable, type StoreOptions } from './table.js';

export { createDocumentClient } from './client.js';
export type { StoreOptions } from './table.js';

export interface DynamoStreamStore extends StreamStore {
  /** public so that tests and the latency fault can see every call a lifecycle makes; nothing else sends through it */
  readonly db: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly leaseShards: number;
}

export function createDynamoStore(db: DynamoDBDocumentClient, options: StoreOptions): DynamoStreamStore {
  const table = createTable(db, options);
  return {
    db,
    tableName: table.tableName,
    leaseShards: table.leaseShards,
    admit: (conn, o) => admit(table, conn, o),
    takeOver: (conn, o) => takeOver(table, conn, o),
    evict: (conn, o) => evict(table, conn, o),
    closeItem: (id, reason, at, known) => closeItem(table, id, reason, at, known),
    uncount: (connection) => uncountConnection(table, connection),
    release: (id, reason, at, known) => release(table, id, reason, at, known),
    hold: (id, heldUntil) => hold(table, id, heldUntil),
    releaseGhosts: (counter, ids, at) => releaseGhosts(table, counter, ids, at),
    forgetMissing: (counter, id) => forgetMissing(table, counter, id),
    repairCount: (userId, counts) => repairCount(table, userId, counts),
    getConnection: (id) => getConnection(table, id),
    getCounter: (userId) => getCounter(table, userId),
    countedConnections: (counter) => countedConnections(table, counter),
    ping: (timeoutMs) => ping(table, timeoutMs),
    setLimitOverride: (userId, limit, o) => setLimitOverride(table, userId, limit, o),
    setPolicyOverride: (userId, policy, o) => setPolicyOverride(table, userId, policy, o),
    recordAudit: (entry) => recordAudit(table, entry),
    auditTrail: (userId, o) => auditTrail(table, userId, o),
    connectionsAged: (window) => connectionsAged(table, window),
    sweptTo: () => sweptTo(table),
    setSweptTo: (at) => setSweptTo(table, at),
  };
}
