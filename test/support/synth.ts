/**
 * The CDK app synthesized as `npx cdk synth` does (context from cdk.json, cdk-nag included), for the infra tests:
 * once per test file. Bundling the handlers with esbuild takes seconds, so only the files that look at the bundles
 * ask for it; the others synthesize the same template without it, in well under a second.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { type BuiltApp, buildApp } from '../../infra/build.js';

/** The pinned CDK CLI, as `npx cdk` runs it. */
export const CDK_CLI = fileURLToPath(new URL('../../node_modules/aws-cdk/bin/cdk', import.meta.url));

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
export const context: Record<string, unknown> = cdkJson.context;

export type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

export interface Synthesized {
  built: BuiltApp;
  template: Template;
  /** logical ids of the handler functions, by construct id (Connect, Disconnect, ...) */
  fnIds: Record<string, string>;
  roleIds: Record<string, string>;
}

/** `bundle`: esbuild each handler, with asset metadata (the CLI turns it on too; it names each bundle's directory). */
export function synthesize({ bundle = false }: { bundle?: boolean } = {}): Synthesized {
  const built = buildApp({
    context: bundle
      ? { ...context, 'aws:cdk:enable-asset-metadata': true }
      : { ...context, 'aws:cdk:bundling-stacks': [] },
  });
  const template = Template.fromStack(built.stack);
  const fnIds: Record<string, string> = {};
  const roleIds: Record<string, string> = {};
  for (const [name, fn] of Object.entries(built.stack.functions)) {
    fnIds[name] = built.stack.getLogicalId(fn.node.defaultChild as never);
    roleIds[name] = built.stack.getLogicalId(fn.role!.node.defaultChild as never);
  }
  return { built, template, fnIds, roleIds };
}

export const resourcesOf = (template: Template, type: string): [string, Resource][] =>
  Object.entries(template.findResources(type)) as [string, Resource][];

/** Logical ids of the identity's resources. */
export function identityIds(built: BuiltApp) {
  const identity = built.stack.identity;
  const id = (c: { node: { defaultChild?: unknown } }) => built.stack.getLogicalId(c.node.defaultChild as never);
  return {
    pool: id(identity.userPool!),
    playerClient: id(identity.playerClient!),
    staffClient: id(identity.staffClient!),
    domain: id(identity.domain!),
  };
}

/** The user pool's issuer, as every authorizer must trust it. */
export const poolIssuerOf = (built: BuiltApp) => ({
  'Fn::Join': [
    '',
    ['https://cognito-idp.', { Ref: 'AWS::Region' }, '.amazonaws.com/', { Ref: identityIds(built).pool }],
  ],
});

/** The handlers' functions; CDK's own BucketDeployment uploader (the console's files) is not one of them. */
export const handlerFunctionsOf = (template: Template) =>
  resourcesOf(template, 'AWS::Lambda::Function').filter(([id]) => !id.startsWith('CustomCDKBucketDeployment'));

/** The BucketDeployment of a page (`Console`, `PlayerPage`). */
export function pageDeploymentOf(built: BuiltApp, template: Template, page: string): Resource {
  const deployment = built.stack.node.findChild(page).node.findChild('Deploy').node.findChild('CustomResource');
  return template.toJSON().Resources[built.stack.getLogicalId(deployment.node.defaultChild as never)];
}

/** The lookups the infra tests share, on a file's synthesis (read when a test runs, after `beforeAll`). */
export function helpersOf(current: () => Pick<Synthesized, 'built' | 'template'>) {
  return {
    resources: (type: string) => resourcesOf(current().template, type),
    ids: () => identityIds(current().built),
    poolIssuer: () => poolIssuerOf(current().built),
    handlerFunctions: () => handlerFunctionsOf(current().template),
    pageDeployment: (page: string) => pageDeploymentOf(current().built, current().template, page),
  };
}
