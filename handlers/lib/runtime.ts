/**
 * What every handler needs, built once from a config object: clients, logger, the core's collaborators. A Lambda
 * entry builds it from the environment at cold start (`runtimeFromEnv`); the local stack builds it from its settings.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { AdmissionDeps } from '../../core/admission.js';
import { type Config, loadConfig } from '../../core/config.js';
import type { Refusal } from '../../core/events/refusals.js';
import { ApiGatewayConnections, createManagementClient } from '../../core/gateway.js';
import type { ConnectionGateway, CoreEvents } from '../../core/ports.js';
import { createDocumentClient, createDynamoStore, type DynamoStreamStore } from '../../core/store/dynamodb/store.js';
import { MetricName, SERVICE_NAME } from './metric-names.js';
import { emfMetrics, type ServiceMetrics, silentMetrics } from './metrics.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  /** every staff action is written here, whatever the service's log level */
  audit: Logger;
  store: DynamoStreamStore;
  gateway: ConnectionGateway;
  deps: AdmissionDeps;
  /** silent unless given (the Lambda entries give EMF; the local stack and the tests keep quiet) */
  metrics: ServiceMetrics;
  /** told of each refusal at the limit, at once and without waiting (the local stack's events); unset in Lambda */
  refusals?: (refusal: Refusal) => void;
}

export interface RuntimeOptions {
  /** the service logger's level; Powertools reads `POWERTOOLS_LOG_LEVEL` when unset */
  logLevel?: string;
  metrics?: ServiceMetrics;
  refusals?: (refusal: Refusal) => void;
}

export function createRuntime(config: Config, options: RuntimeOptions = {}): Runtime {
  const logger = new Logger({
    serviceName: SERVICE_NAME,
    ...(options.logLevel ? { logLevel: options.logLevel as LogLevel } : {}),
  });
  const audit = new Logger({ serviceName: SERVICE_NAME, logLevel: 'INFO', persistentKeys: { log: 'audit' } });
  const metrics = options.metrics ?? silentMetrics;
  // What the core reports, as metrics; throttled retries are not counted here (DynamoDB's own metrics show them).
  const events: CoreEvents = (event) => {
    if (event.kind === 'ghostReclaimed') metrics.count(MetricName.ghostsReclaimed);
    else if (event.cause === 'conflict') metrics.count(MetricName.conflictsRetried);
  };
  const store = createDynamoStore(createDocumentClient(config.dynamodbEndpoint), {
    tableName: config.tableName,
    events,
    leaseShards: config.leaseShards,
  });
  const gateway = new ApiGatewayConnections(createManagementClient(config.managementEndpoint));
  const deps: AdmissionDeps = {
    store,
    gateway,
    defaultLimit: config.defaultLimit,
    leaseMs: config.leaseMs,
    maxConnectionMs: config.maxConnectionMs,
    handshakeGraceMs: config.handshakeGraceMs,
    openingWindowMs: config.openingWindowMs,
    resumeHoldMs: config.resumeHoldMs,
    defaultPolicy: config.defaultPolicy,
    logger,
    events,
  };
  const refusals = options.refusals;
  return {
    config,
    logger,
    audit,
    store,
    gateway,
    deps,
    metrics,
    // Whatever it does, a refusal is still answered: a listener's failure is logged, never thrown.
    refusals:
      refusals &&
      ((refusal) => {
        try {
          refusals(refusal);
        } catch (error) {
          logger.warn('a refusal listener failed', { error: String(error) });
        }
      }),
  };
}

let fromEnv: Runtime | undefined;

/**
 * The Lambda entries' runtime: reads and validates the environment once per container, and throws ConfigError at
 * cold start on anything missing or malformed.
 */
export function runtimeFromEnv(): Runtime {
  fromEnv ??= createRuntime(loadConfig(process.env), { metrics: emfMetrics() });
  return fromEnv;
}
