/**
 * Builds the app: what `cdk synth` runs (through infra/app.ts) and what the template tests build, so the tests
 * check the very app that is deployed, cdk-nag included.
 */
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readSettings } from './settings.js';
import { StreamgateStack } from './stack.js';

export const STACK_NAME = 'streamgate';

export interface BuiltApp {
  app: App;
  stack: StreamgateStack;
  nag: AwsSolutionsChecks;
}

export function buildApp(props: AppProps = {}): BuiltApp {
  const app = new App(props);
  const settings = readSettings((key) => app.node.tryGetContext(key));
  // Environment-agnostic: no lookups, so synth needs no account, no region and no network; `cdk deploy` takes
  // both from the credentials it runs with.
  const stack = new StreamgateStack(app, STACK_NAME, {
    settings,
    description: 'streamgate: per-user concurrent stream limit (API Gateway WebSocket, Lambda, DynamoDB)',
  });
  // cdk-nag 3 is a policy-validation plugin: synth fails on any finding that is not acknowledged with a reason.
  const nag = new AwsSolutionsChecks(app, { verbose: true });
  Validations.of(app).addPlugins(nag);
  return { app, stack, nag };
}
