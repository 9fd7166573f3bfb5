/**
 * The CDK app's template, part: the events (infra/events.ts): the table's stream, the processor, the bus, the
 * dead-letter queue, the alarms and the processor's grants. One synthesis, without bundling.
 */
import { Capture, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { REFUSAL_LOG_MESSAGE } from '../../core/events/refusals.js';
import { TABLE_SHAPE } from '../../core/store/schema.js';
import { type Synthesized, synthesize } from '../support/synth.js';

// Prepare: one synthesis for every test in this file.
let { template, fnIds, roleIds } = {} as Synthesized;
beforeAll(() => ({ template, fnIds, roleIds } = synthesize({ bundle: false })));

const policyOf = (roleId: string) =>
  Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
    JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`),
  )!.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>;

describe('When the table records its changes', () => {
  it('keeps old and new images in its stream, as the shared schema says', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: TABLE_SHAPE.stream },
    });
  });
});

describe('When the processor reads the stream', () => {
  it('reads from the oldest record, one batch per shard at a time, split and retried, then parked in the queue', () => {
    const queue = new Capture();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnIds.Events },
      EventSourceArn: { 'Fn::GetAtt': [Match.anyValue(), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      ParallelizationFactor: 1,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
    });
    expect(template.findResources('AWS::SQS::Queue')[queue.asString()]?.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  it("puts events on the stack's own bus, named after the stack, and knows its name", () => {
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'streamgate' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EVENT_BUS_NAME: { Ref: Match.anyValue() } }) },
    });
  });

  it('may put events on that bus, read items, and write items (its signals and usage), and never query', () => {
    const statements = policyOf(roleIds.Events!);
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions).toContain('events:PutEvents');
    expect(actions).toContain('dynamodb:GetItem');
    expect(actions).toContain('dynamodb:BatchGetItem');
    expect(actions.filter((a) => /^dynamodb:(Delete|BatchWrite|TransactWrite)/.test(a))).toEqual([]);
    expect(actions.filter((a) => /^dynamodb:(Put|Update)/.test(a)).sort()).toEqual([
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(actions.filter((a) => /^dynamodb:(Query|Scan)/.test(a))).toEqual([]);
    const putEvents = statements.find((s) => s.Action === 'events:PutEvents')!;
    expect(JSON.stringify(putEvents.Resource)).toMatch(/Bus/);
  });
});

describe('When staff read the usage', () => {
  it('lets the support function query a partition of the table and read single items, and never scan', () => {
    // Act
    const statements = policyOf(roleIds.Support!);
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));

    // Assess
    expect(actions).toContain('dynamodb:Query');
    expect(actions).toContain('dynamodb:GetItem');
    expect(actions.filter((a) => /^dynamodb:(Scan|BatchWrite|Delete)/.test(a))).toEqual([]);
  });
});

describe('When a connect is refused at the limit', () => {
  it('hands the refusal lines of the $connect function, and only those, to the processor', () => {
    template.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
      FilterPattern: `{ $.message = "${REFUSAL_LOG_MESSAGE}" }`,
      DestinationArn: { 'Fn::GetAtt': [fnIds.Events, 'Arn'] },
      LogGroupName: { Ref: Match.stringLikeRegexp('^ConnectLogs') },
    });
  });
});

describe('When events fall behind or are parked', () => {
  it('alarms on an iterator age of 5 minutes and on any parked batch', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Namespace: 'AWS/Lambda',
      Statistic: 'Maximum',
      Threshold: 300_000,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnIds.Events } }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 1,
    });
  });
});
