/**
 * Every cdk-nag finding this app accepts, with the reason. cdk-nag 3 acknowledges findings one by one (no rule-wide
 * wildcard), so a new finding of the same rule still stops synth.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { CfnApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IConstruct } from 'constructs';
import type { HandlerFunction } from './handler-function.js';

export function acknowledgeRuntime(fn: HandlerFunction): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'Node.js 22 is the runtime the contract names and the one the handlers are tested on (nodejs22.x is supported ' +
      'by Lambda until 2027); moving to a newer runtime is a deliberate change with its own test run',
  });
}

/** `execute-api:ManageConnections` on `.../<stage>/*\/@connections/*`: connection ids exist only at run time. */
export function acknowledgeManageConnections(grantee: IConstruct, stage: WebSocketStage): void {
  const stack = Stack.of(stage);
  const apiLogicalId = stack.resolve((stage.api.node.defaultChild as CfnApi).logicalId) as string;
  const resource = `arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiLogicalId}>/${stage.stageName}/*/@connections/*`;
  Validations.of(grantee).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${resource}]`,
    reason:
      'The @connections management API is authorized per connection id, and ids are known only at run time; the ' +
      'grant is limited to this API, this stage and the ManageConnections action (GetConnection, DeleteConnection)',
  });
}

/** WebSocket routes after `$connect`: API Gateway accepts an authorizer on `$connect` only. */
export function acknowledgeConnectedRoute(route: IConstruct): void {
  Validations.of(route).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason:
      'API Gateway runs WebSocket authorizers on $connect only; messages and $disconnect arrive on a connection ' +
      'that $connect already authorized, and the handlers act only on that connection',
  });
}
