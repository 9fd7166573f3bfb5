/**
 * The CDK app's template, part: the table, what the handlers may do on AWS, the alarms and dashboard, the outputs and
 * cdk-nag's verdict. Synthesized once for this file, without bundling, with the context in cdk.json, cdk-nag included,
 * as `npx cdk synth` does.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HISTORY_QUERY_ACTIONS, LEASE_INDEX_ACTIONS, TABLE_ACTIONS } from '../../core/store/permissions.js';
import { TABLE_SHAPE } from '../../core/store/schema.js';
import { METRICS_NAMESPACE, MetricName, RefusalReason, SERVICE_NAME } from '../../handlers/lib/metric-names.js';
import { WEBSOCKET_STAGE } from '../../infra/stack.js';
import { context, helpersOf, type Synthesized, synthesize } from '../support/synth.js';

// Prepare: one synthesis for every test in this file.
let { built, template, fnIds, roleIds } = {} as Synthesized;
beforeAll(() => ({ built, template, fnIds, roleIds } = synthesize({ bundle: false })));
const { resources } = helpersOf(() => ({ built, template }));

describe('When the table is created', () => {
  it('uses the keys of the shared schema, on demand', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_SHAPE.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: TABLE_SHAPE.sortKey.name, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('keeps point-in-time recovery, deletion protection and the data on stack deletion', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      }),
    });
  });

  it('expires items on the TTL attribute the store writes', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: TABLE_SHAPE.ttlAttribute, Enabled: true },
    });
  });

  it('has the sparse lease index the sweep queries, projecting what the sweep reads', () => {
    const { leaseIndex } = TABLE_SHAPE;
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: leaseIndex.name,
          KeySchema: [
            { AttributeName: leaseIndex.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: leaseIndex.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: leaseIndex.nonKeyAttributes },
        },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: leaseIndex.sortKey.name, AttributeType: leaseIndex.sortKey.type },
      ]),
    });
  });
});

describe('When the handlers act on AWS', () => {
  type Statement = { Action: string | string[]; Resource: unknown };
  const statementsOf = (roleName: string): Statement[] => {
    const policy = resources('AWS::IAM::Policy').find(([, p]) =>
      (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleIds[roleName]),
    );
    return (policy![1].Properties.PolicyDocument as { Statement: Statement[] }).Statement;
  };
  const actions = (s: Statement) => [s.Action].flat();

  it('never grants a wildcard DynamoDB action', () => {
    for (const [, policy] of resources('AWS::IAM::Policy')) {
      for (const s of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
        for (const action of actions(s)) {
          expect(action).not.toMatch(/^dynamodb:.*\*|^\*$/);
        }
      }
    }
  });

  it('grants the store item actions on the table, Query on the lease index to the sweep, and on the table to support', () => {
    const tableId = built.stack.getLogicalId(built.stack.streamTable.table.node.defaultChild as never);
    const table = JSON.stringify({ 'Fn::GetAtt': [tableId, 'Arn'] });
    const index = JSON.stringify({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, `/index/${TABLE_SHAPE.leaseIndex.name}`]],
    });
    for (const name of Object.keys(roleIds)) {
      // Each DynamoDB action with the resource it is granted on (CDK merges statements of the same resource).
      const grants = statementsOf(name).flatMap((s) =>
        actions(s)
          .filter((a) => a.startsWith('dynamodb:'))
          .map((a) => `${a} ${JSON.stringify(s.Resource)}`),
      );
      if (name === 'Authorizer') {
        // It reads only the token.
        expect(grants).toEqual([]);
        continue;
      }
      if (name === 'Events') {
        // The events processor reads the stream and items, and writes its signals (stack-events.test.ts).
        expect(grants).toContain(`dynamodb:GetItem ${table}`);
        expect(grants.filter((g) => /^dynamodb:(Delete|BatchWrite|TransactWrite)/.test(g))).toEqual([]);
        continue;
      }
      const query =
        name === 'Sweep'
          ? [`${LEASE_INDEX_ACTIONS[0]} ${index}`]
          : // The audit history: one user's partition of the table.
            name === 'Support'
            ? [`${HISTORY_QUERY_ACTIONS[0]} ${table}`]
            : [];
      expect(grants.sort()).toEqual([...TABLE_ACTIONS.map((a) => `${a} ${table}`), ...query].sort());
    }
  });

  it('lets only connect, messages, sweep, support and the player API manage connections, on this API stage only', () => {
    const apiId = built.stack.getLogicalId(built.stack.webSocketApi.node.defaultChild as never);
    for (const name of Object.keys(roleIds)) {
      const manage = statementsOf(name).filter((s) => actions(s).includes('execute-api:ManageConnections'));
      if (['Connect', 'Messages', 'Sweep', 'Support', 'Player'].includes(name)) {
        expect(manage).toHaveLength(1);
        const arn = JSON.stringify(manage[0]!.Resource);
        expect(arn).toContain(`{"Ref":"${apiId}"},"/${WEBSOCKET_STAGE}/*/@connections/*"`);
      } else {
        expect(manage).toEqual([]);
      }
    }
  });

  it('uses no AWS managed policy and writes logs only to the handler own log group', () => {
    // CDK's own BucketDeployment uploader (the pages' files, run only while deploying) and API Gateway's logging
    // role (its own managed policy) are the exceptions.
    const logsRole = built.stack.getLogicalId(built.stack.apiGatewayLogsRole!.node.defaultChild as never);
    for (const [id, role] of resources('AWS::IAM::Role')) {
      if (id.startsWith('CustomCDKBucketDeployment') || id === logsRole) continue;
      expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
    }
    for (const name of Object.keys(roleIds)) {
      const logs = statementsOf(name).filter((s) => actions(s).some((a) => a.startsWith('logs:')));
      expect(logs).toEqual([
        {
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${name}Logs`)), 'Arn'] },
        },
      ]);
    }
  });
});

describe('When something goes wrong', () => {
  const alarmOn = (metricName: string, namespace: string) =>
    resources('AWS::CloudWatch::Alarm').filter(
      ([, a]) => a.Properties.MetricName === metricName && a.Properties.Namespace === namespace,
    );

  it('alarms on errors and throttles of every handler', () => {
    for (const metric of ['Errors', 'Throttles']) {
      const alarms = alarmOn(metric, 'AWS/Lambda');
      const watched = alarms.map(([, a]) => (a.Properties.Dimensions as { Value: { Ref: string } }[])[0]!.Value.Ref);
      expect(watched.sort()).toEqual(Object.values(fnIds).sort());
    }
  });

  it.each([['ThrottledRequests'], ['SystemErrors']])(
    'alarms on DynamoDB %s across the operations the store uses',
    (metricName) => {
      const matching = resources('AWS::CloudWatch::Alarm').filter(([, a]) =>
        JSON.stringify(a.Properties.Metrics ?? []).includes(`"MetricName":"${metricName}"`),
      );
      expect(matching).toHaveLength(1);
      const operations = JSON.stringify(matching[0]![1].Properties.Metrics);
      for (const op of ['GetItem', 'BatchGetItem', 'UpdateItem', 'Query', 'TransactWriteItems']) {
        expect(operations).toContain(`"Value":"${op}"`);
      }
    },
  );

  it.each([
    [MetricName.storeErrors, 'streamgate:storeErrorAlarmThreshold'],
    [MetricName.ghostsReclaimed, 'streamgate:ghostReclaimAlarmThreshold'],
  ])('alarms on a surge of %s from the service metrics', (metricName, thresholdKey) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: metricName,
      Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      Statistic: 'Sum',
      Threshold: context[thresholdKey],
      TreatMissingData: 'notBreaching',
    });
  });

  it('draws one dashboard with every service metric, refusals by reason', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const dashboard = resources('AWS::CloudWatch::Dashboard')[0]![1];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const name of Object.values(MetricName)) expect(body).toContain(name);
    for (const reason of Object.values(RefusalReason)) expect(body).toContain(`\\"reason\\",\\"${reason}\\"`);
  });
});

describe('When the stack is deployed', () => {
  it('prints the URLs and the table name', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual([
      'CallbackUrl',
      'EventBusName',
      'PlayerApiUrl',
      'PlayerClientId',
      'PlayerPageUrl',
      'StaffClientId',
      'SupportApiUrl',
      'SupportConsoleUrl',
      'TableName',
      'UserPoolId',
      'WebSocketUrl',
    ]);
    expect(JSON.stringify(outputs.WebSocketUrl!.Value)).toContain('wss://');
  });
});

describe('When cdk-nag checks the app (AwsSolutions)', () => {
  it('finds nothing that is not acknowledged', () => {
    const report = built.nag.validateScope(built.app);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources[0]?.constructPath}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgement a reason', () => {
    const acknowledged: { path: string; id: string; reason: string }[] = [];
    const visit = (node: IConstruct) => {
      for (const entry of node.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
          acknowledged.push({ path: node.node.path, id, reason: String(reason) });
        }
      }
      for (const child of node.node.children) visit(child);
    };
    visit(Stack.of(built.stack));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const a of acknowledged) expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(60);
  });
});
