/**
 * The events in AWS (core/events): the table's change stream read by the processor Lambda, which puts each event on
 * the stack's EventBridge bus; the `$connect` function's refusal lines reach it through a log subscription. A batch that keeps failing is split, retried, then parked in a dead-letter queue; two
 * alarms say when events fall behind or are parked. Nothing here is on the players' path.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { FilterPattern, type ILogGroup } from 'aws-cdk-lib/aws-logs';
import { LambdaDestination } from 'aws-cdk-lib/aws-logs-destinations';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { REFUSAL_LOG_MESSAGE } from '../core/events/refusals.js';
import type { HandlerFunction } from './handler-function.js';

export interface EventsProps {
  table: Table;
  /** the processor (handlers/events.ts), built with the stack's function defaults */
  processor: HandlerFunction;
  /** the `$connect` function's log: its refusal lines are `stream.refused` */
  refusalLogs: ILogGroup;
  /** the bus's name: the stack's */
  busName: string;
  alarmTopicArn?: string;
}

/** How far behind the stream the processor may fall before someone is told (events arrive late, none are lost). */
const ITERATOR_AGE_ALARM = Duration.minutes(5);

export class Events extends Construct {
  readonly bus: EventBus;
  readonly deadLetters: Queue;
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: EventsProps) {
    super(scope, id);
    const { table, processor } = props;
    this.bus = new EventBus(this, 'Bus', { eventBusName: props.busName, description: 'streamgate lifecycle events' });
    this.deadLetters = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The stream keeps a record for 24 hours; a parked batch (its shard and sequence range) is kept two weeks.
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the events processor; a dead-letter queue of its own has no use',
    });

    processor.addEnvironment('EVENT_BUS_NAME', this.bus.eventBusName);
    this.bus.grantPutEventsTo(processor);
    // The processor reads counters and connection items (their stream, device, network, why they closed) and its usage
    // items (a batch's at once), and
    // writes only its own items: sharing signals, the refusal counts behind them and the hourly usage (whose
    // transactions need nothing more: each item in one is authorized as its Put or Update). It never queries.
    processor.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [table.tableArn],
      }),
    );
    processor.addEventSource(
      new DynamoEventSource(table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        // A failing batch is split to find the record that fails, retried, and then parked, not retried for a day.
        bisectBatchOnError: true,
        retryAttempts: 10,
        onFailure: new SqsDlq(this.deadLetters),
        // One batch at a time per shard: the order of a user's events is the order of the counter's changes.
        parallelizationFactor: 1,
      }),
    );

    Validations.of(processor.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'dynamodb:ListStreams, which the DynamoDB event source grants, has no resource-level permissions; reading ' +
        'the stream itself is granted on the stream of this table only',
    });

    // A refusal writes nothing to the table: its event comes from the line `$connect` logs anyway.
    props.refusalLogs.addSubscriptionFilter('Refusals', {
      destination: new LambdaDestination(processor),
      filterPattern: FilterPattern.stringValue('$.message', '=', REFUSAL_LOG_MESSAGE),
    });

    const topic = props.alarmTopicArn ? Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : undefined;
    const alarm = (name: string, alarmProps: ConstructorParameters<typeof Alarm>[2]) => {
      const created = new Alarm(this, name, alarmProps);
      if (topic) created.addAlarmAction(new SnsAction(topic));
      return created;
    };
    this.alarms = [
      alarm('FallingBehind', {
        metric: processor.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1) }),
        threshold: ITERATOR_AGE_ALARM.toMilliseconds(),
        evaluationPeriods: 3,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: 'The events processor is more than 5 minutes behind the table: events arrive late',
      }),
      alarm('Parked', {
        metric: this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: 'A batch of table changes could not be turned into events: its events are missing',
      }),
    ];
  }
}
