/**
 * Alarms and one dashboard. Alarms watch what needs a human: handlers crashing or throttled, DynamoDB throttling or
 * failing, and surges of the service's own store errors and reclaimed ghosts (a ghost surge means `$disconnect`s
 * are being lost, or players are crashing).
 */
import { Duration } from 'aws-cdk-lib';
import type { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Operation, type Table } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, MetricName, RefusalReason, SERVICE_NAME } from '../handlers/lib/metric-names.js';

export interface MonitoringProps {
  functions: Record<string, IFunction>;
  table: Table;
  webSocketApi: WebSocketApi;
  webSocketStage: WebSocketStage;
  storeErrorAlarmThreshold: number;
  ghostReclaimAlarmThreshold: number;
  alarmTopicArn?: string;
}

const PERIOD = Duration.minutes(5);

/** The operations the store sends (TransactWriteItems is what a Put/Update/ConditionCheck inside one reports as). */
const STORE_OPERATIONS = [
  Operation.GET_ITEM,
  Operation.BATCH_GET_ITEM,
  Operation.UPDATE_ITEM,
  Operation.QUERY,
  Operation.TRANSACT_WRITE_ITEMS,
];

/** One of the service's own metrics; Powertools adds the `service` dimension to every metric it emits. */
export const serviceMetric = (metricName: string, statistic = 'Sum', dimensions: Record<string, string> = {}) =>
  new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME, ...dimensions },
    statistic,
    period: PERIOD,
  });

export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const topic = props.alarmTopicArn ? Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : undefined;
    const alarm = (name: string, metric: IMetric, threshold: number, description: string) => {
      const created = new Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No traffic is not a failure.
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      if (topic) created.addAlarmAction(new SnsAction(topic));
      this.alarms.push(created);
    };

    for (const [name, fn] of Object.entries(props.functions)) {
      // Handlers catch their own failures and answer; a Lambda error is a crash, a timeout or a failed cold start.
      alarm(
        `${name}Errors`,
        fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
        1,
        `${name} handler crashed or timed out`,
      );
      alarm(
        `${name}Throttles`,
        fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
        1,
        `${name} handler throttled: players are being refused by Lambda, not by their limit`,
      );
    }
    alarm(
      'TableThrottles',
      props.table.metricThrottledRequestsForOperations({ operations: STORE_OPERATIONS, period: PERIOD }),
      1,
      'DynamoDB throttled the store',
    );
    alarm(
      'TableSystemErrors',
      props.table.metricSystemErrorsForOperations({ operations: STORE_OPERATIONS, period: PERIOD }),
      1,
      'DynamoDB answered with server errors',
    );
    alarm(
      'StoreErrorSurge',
      serviceMetric(MetricName.storeErrors),
      props.storeErrorAlarmThreshold,
      'Store calls failing for good: connects are refused with 503 (fail closed)',
    );
    alarm(
      'GhostReclaimSurge',
      serviceMetric(MetricName.ghostsReclaimed),
      props.ghostReclaimAlarmThreshold,
      'Many ghosts reclaimed: $disconnect events are being lost or players are crashing',
    );

    const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width: 12, height: 6 });
    const fns = Object.entries(props.functions);
    const stageMetric = (metricName: string) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.webSocketApi.apiId, Stage: props.webSocketStage.stageName },
        statistic: 'Sum',
        period: Duration.minutes(1),
      });
    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: [
        [
          graph(
            'Streams',
            [
              serviceMetric(MetricName.admitted),
              serviceMetric(MetricName.released),
              serviceMetric(MetricName.takeovers),
            ],
            // Refusals carry a `reason` dimension: one line per reason.
            Object.values(RefusalReason).map((reason) =>
              serviceMetric(MetricName.refused, 'Sum', { reason }).with({ label: `refused: ${reason}` }),
            ),
          ),
          graph('Connect latency (ms)', [
            serviceMetric(MetricName.connectLatency, 'p50'),
            serviceMetric(MetricName.connectLatency, 'p99'),
          ]),
        ],
        [
          graph('Ghosts', [serviceMetric(MetricName.ghostsReclaimed), serviceMetric(MetricName.swept)]),
          graph('Store', [serviceMetric(MetricName.storeErrors)], [serviceMetric(MetricName.conflictsRetried)]),
        ],
        [
          graph(
            'Handler errors and throttles',
            fns.map(([name, fn]) => fn.metricErrors({ label: `${name} errors`, statistic: 'Sum' })),
            fns.map(([name, fn]) => fn.metricThrottles({ label: `${name} throttles`, statistic: 'Sum' })),
          ),
          graph(
            'Handler duration p99 (ms)',
            fns.map(([name, fn]) => fn.metricDuration({ label: name, statistic: 'p99' })),
          ),
        ],
        [
          graph(
            'WebSocket API',
            [stageMetric('ConnectCount'), stageMetric('MessageCount')],
            [stageMetric('ClientError'), stageMetric('ExecutionError'), stageMetric('IntegrationError')],
          ),
          graph(
            'DynamoDB',
            [
              props.table.metricConsumedReadCapacityUnits({ statistic: 'Sum' }),
              props.table.metricConsumedWriteCapacityUnits({ statistic: 'Sum' }),
            ],
            // One math expression per graph: both name their per-operation metrics alike.
            [props.table.metricThrottledRequestsForOperations({ operations: STORE_OPERATIONS, label: 'throttled' })],
          ),
        ],
      ],
    });
  }
}
