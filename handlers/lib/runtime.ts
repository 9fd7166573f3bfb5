/** Built once per Lambda container (or once per local process): config, clients, logger. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { AdmissionDeps } from '../../core/admission.js';
import { loadConfig } from '../../core/config.js';
import { ApiGatewayConnections, createManagementClient } from '../../core/gateway.js';
import { RecentlyAlive } from '../../core/reclaim.js';
import { createDocumentClient, StreamStore } from '../../core/store/store.js';

export const config = loadConfig(process.env);

export const logger = new Logger({ serviceName: 'streamgate' });

export const store = new StreamStore(createDocumentClient(config.dynamodbEndpoint), { tableName: config.tableName });

export const gateway = new ApiGatewayConnections(createManagementClient(config.managementEndpoint));

export const deps: AdmissionDeps = {
  store,
  gateway,
  defaultLimit: config.defaultLimit,
  leaseMs: config.leaseMs,
  maxConnectionMs: config.maxConnectionMs,
  handshakeGraceMs: config.handshakeGraceMs,
  recentlyAlive: new RecentlyAlive(),
  logger,
};
