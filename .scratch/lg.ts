import { readFileSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../infra/build.js';
const context = JSON.parse(readFileSync('/work/wt-deploy/cdk.json', 'utf8')).context;
const { stack } = buildApp({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
const t = Template.fromStack(stack).toJSON();
for (const [id, r] of Object.entries<any>(t.Resources)) if (r.Type === 'AWS::Logs::LogGroup') console.log(id, JSON.stringify(r.Properties));
