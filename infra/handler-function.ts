/**
 * One Lambda function per handler file, all built the same way: the handler files the local stack runs, bundled by
 * esbuild into one minified ES module for Node.js 22 on ARM64, with source maps, its own log group and role.
 */
import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../handlers/lib/metric-names.js';

/** The repository root: entries, the lock file and esbuild are found from here whatever the working directory. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Some dependencies still `require()` Node built-ins; an ES module has no `require`, so the bundle makes one.
 * (esbuild's own `__require` shim throws "Dynamic require is not supported" without it.)
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** Required by the SDK's default credential chain only after the environment had no credentials (never in Lambda). */
const LAZY_CREDENTIAL_PROVIDERS = [
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/nested-clients',
  '@aws-sdk/token-providers',
  '@smithy/credential-provider-imds',
];

/**
 * Imported by the SDK's HTTP protocol only for operations that stream events; DynamoDB and the @connections API have
 * none. Bundled, it is 20 KB the handler parses at every cold start and never runs.
 */
const UNUSED_SDK_MODULES = ['@smithy/core/event-streams'];

export interface HandlerFunctionProps {
  /** the handler file, relative to the repository root (it exports `handler`) */
  entry: string;
  description: string;
  /** the handler's own settings; the service-wide Powertools settings are added here */
  environment: Record<string, string>;
  logRetention: RetentionDays;
  memorySize: number;
  timeout: Duration;
}

export class HandlerFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    // Created before the function (in the parent scope) so the function's role can be limited to this group.
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      // Logs are evidence after an incident; they outlive the stack and expire by retention.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // An own role instead of the managed AWSLambdaBasicExecutionRole, which may write to any log group.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${id} handler of ${SERVICE_NAME}`,
    });
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    super(scope, id, {
      entry: `${PROJECT_ROOT}${props.entry}`,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role,
      logGroup,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        // Stack traces in the logs point at the TypeScript (the maps ship next to the bundle).
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        // External (index.mjs.map beside the bundle), so the map does not count against the bundle's size.
        sourceMap: true,
        sourcesContent: false,
        // The pinned AWS SDK is bundled: the versions the tests ran, and one minified file loads in a fraction of the
        // time the SDK's many CommonJS files take (`npm run bundles`: a `$connect` bundle that imports the SDK from
        // node_modules spent about twice the init time of the bundled one). Only the credential providers Lambda never
        // reaches stay outside: it has credentials in its environment, and the default chain loads the others lazily,
        // from the runtime's SDK.
        externalModules: [...LAZY_CREDENTIAL_PROVIDERS, ...UNUSED_SDK_MODULES],
        esbuildArgs: {
          // Licence comments of the bundled packages are not shipped in the code (they are in node_modules).
          '--legal-comments': 'none',
        },
        logLevel: LogLevel.WARNING,
      },
    });
  }
}
