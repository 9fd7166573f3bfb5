/**
 * `npm run aws:user -- --user alice [--staff] [--limit N] [--token-file F] --outputs cdk-outputs.json`: a test user in
 * the deployment's Cognito user pool, and how to get their tokens (see user.ts). Needs AWS credentials.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { instructions, parseUserArgs, USAGE, UsageError, type UserOptions, upsertUser } from './user.js';

async function main() {
  let options: UserOptions;
  try {
    const command = parseUserArgs(process.argv.slice(2), (file) => readFileSync(file, 'utf8'));
    if (command.kind === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    options = command.options;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`aws:user: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  // The pinned SDK's notice that later releases need Node 22 is not the deployer's concern here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new CognitoIdentityProviderClient({ region: options.region });
  const result = await upsertUser(client, options);
  if (options.tokenFile !== undefined && result.idToken !== undefined) {
    writeFileSync(options.tokenFile, `${result.idToken}\n`, { mode: 0o600 });
  }
  process.stdout.write(`${instructions(options, result)}\n`);
}

main().catch((error) => {
  // Missing credentials, no such pool, not allowed: one line with AWS's own words.
  console.error(`aws:user: ${(error as Error).name}: ${(error as Error).message}`);
  process.exit(1);
});
