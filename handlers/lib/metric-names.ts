/**
 * The names of the service's own CloudWatch metrics (EMF), shared by the handlers that emit them and the CDK app
 * that alarms on them and draws them, so a renamed metric cannot leave an alarm watching nothing.
 * No imports: the CDK app loads this without pulling in a handler's runtime.
 */

/** The Powertools service name: the `service` dimension on every metric and the `service` key on every log line. */
export const SERVICE_NAME = 'streamgate';

/** The CloudWatch namespace the metrics are published under in AWS. */
export const METRICS_NAMESPACE = 'Streamgate';

export const MetricName = {
  /** a stream counted under its user's limit (takeovers included) */
  admitted: 'StreamAdmitted',
  /** a `$connect` refused; dimension `reason` (see RefusalReason) */
  refused: 'StreamRefused',
  /** a counted stream given back (`$disconnect`, kick, sweep, reclaim) */
  released: 'StreamReleased',
  /** a reconnect that replaced the connection holding the same stream id */
  takeovers: 'StreamTakeover',
  /** counted connections found gone and released while a connect was refused at the limit */
  ghostsReclaimed: 'GhostReclaimed',
  /** connections the scheduled sweep released */
  swept: 'SweepReleased',
  /** DynamoDB transactions tried again after a conflict */
  conflictsRetried: 'TransactionConflictRetried',
  /** store calls that failed for good (the caller answered 503 or gave up) */
  storeErrors: 'StoreError',
  /** `$connect` handler time, from event to answer (milliseconds) */
  connectLatency: 'ConnectLatency',
} as const;

export type MetricName = (typeof MetricName)[keyof typeof MetricName];

/** The `reason` dimension of `StreamRefused`. */
export const RefusalReason = {
  limit: 'limit',
  invalid: 'invalid',
  unauthorized: 'unauthorized',
  unavailable: 'unavailable',
  /** a newer connection of the same stream arrived meanwhile */
  replaced: 'replaced',
  /** the store answered the admitting write too late for the socket to open within its window (lifecycle.ts) */
  tooLate: 'tooLate',
} as const;

export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason];
