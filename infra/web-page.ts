/**
 * A web page in AWS (the support console, the demo player): the same static files the local stack serves at
 * `/<page>/`, plus the shared ones (`web/shared/`, served beside each page), in a private S3 bucket that only
 * CloudFront reads (origin access control), HTTPS only, with the local stack's security headers and a `config.json`
 * naming the deployed APIs. Each page has a distribution, so an origin, of its own.
 *
 * The content security policy lets the page's scripts connect to its own origin and to the origins given with
 * `allowConnect` only (the player's WebSocket and API, the Cognito sign-in), as the local stack's does.
 */
import { CfnOutput, Duration, Fn, Lazy, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { contentSecurityPolicy } from '../local/web-pages.js';
import { PROJECT_ROOT } from './handler-function.js';

/** The files every page loads beside its own (the sign-in module). */
export const SHARED_FILES = 'web/shared';

export interface WebPageProps {
  /** the page's folder, as the local stack serves it (`web/console`) */
  files: string;
  /** what the page is, for the distribution's comment and the output's description */
  description: string;
  /** the stack output with the page's address */
  outputKey: string;
  /** where the deployment's CDK uploader logs (one log group for every page) */
  uploaderLogs: ILogGroup;
  /** files made at synth beside the page's own, by name (the player SDK's bundle, as the local stack serves it) */
  builtFiles?: Readonly<Record<string, string>>;
}

/** The host of an `https://host/...` or `wss://host/...` URL token, at deploy time. */
export const hostOf = (url: string) => Fn.select(2, Fn.split('/', url));

export class WebPage extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  private readonly connectSources: string[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: WebPageProps,
  ) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Files', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // Only the page's own files live here; every deploy writes them again.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });
    const headers = new ResponseHeadersPolicy(this, 'Headers', {
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          // The local stack's policy, with the origins this page connects to (known once the APIs exist).
          contentSecurityPolicy: Lazy.string({ produce: () => contentSecurityPolicy(this.connectSources) }),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
    });
    this.distribution = new Distribution(this, 'Cdn', {
      comment: `streamgate ${props.description}`,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: headers,
      },
    });
    this.acknowledge();
  }

  /** The page's address, where the sign-in returns: `https://<distribution>/`. */
  get url(): string {
    return `https://${this.distribution.distributionDomainName}/`;
  }

  /** Lets the page's scripts connect to these origins too (`connect-src`). */
  allowConnect(...origins: string[]) {
    this.connectSources.push(...origins);
  }

  /**
   * Serves these paths of an HTTP API on the page's own origin, so the page calls it as `'self'` (no CORS, nothing
   * added to `connect-src`), as the local stack serves the support API beside the console. Nothing is cached, and
   * every viewer header but Host (the bearer token included) reaches API Gateway.
   */
  routeToApi(stage: HttpStage, pathPatterns: string[]) {
    const origin = new HttpOrigin(hostOf(stage.url), { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY });
    for (const pathPattern of pathPatterns) {
      this.distribution.addBehavior(pathPattern, origin, {
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      });
    }
  }

  /** Uploads the page's files with its `config.json` (the deployed APIs' addresses, the sign-in), and prints its URL. */
  publish(config: Record<string, unknown>) {
    new BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      sources: [
        // From the repository, whatever the working directory of `cdk synth`.
        Source.asset(`${PROJECT_ROOT}${this.props.files}`, { exclude: ['config.json'] }),
        Source.asset(`${PROJECT_ROOT}${SHARED_FILES}`),
        Source.jsonData('config.json', config),
        ...Object.entries(this.props.builtFiles ?? {}).map(([name, body]) => Source.data(name, body)),
      ],
      distribution: this.distribution,
      distributionPaths: ['/*'],
      logGroup: this.props.uploaderLogs,
    });
    this.acknowledgeUploader();
    new CfnOutput(this, 'Url', {
      key: this.props.outputKey,
      value: this.url,
      description: this.props.description,
    });
  }

  /**
   * The uploader is CDK's own BucketDeployment Lambda (one per stack, created by CDK, run only during deploys): its
   * findings are about code and policies CDK writes, scoped to the asset bucket and the pages' buckets.
   */
  private acknowledgeUploader() {
    const stack = Stack.of(this);
    const uploader = stack.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (!uploader) return;
    const reason =
      "CDK's BucketDeployment uploader, run only while deploying: the policies CDK writes for it read the CDK asset " +
      "bucket, write the pages' buckets and invalidate their distributions; the runtime is the one CDK ships";
    const assetBucket = 'arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*';
    const bucketId = stack.resolve((this.bucket.node.defaultChild as CfnBucket).logicalId) as string;
    Validations.of(uploader).acknowledge(
      ...[
        'AwsSolutions-L1',
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map(
          (action) => `AwsSolutions-IAM5[Action::${action}]`,
        ),
        `AwsSolutions-IAM5[Resource::${assetBucket}]`,
        `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
        // cloudfront:CreateInvalidation does not take a resource narrower than '*' in CDK's policy.
        'AwsSolutions-IAM5[Resource::*]',
      ].map((id) => ({ id, reason })),
    );
  }

  /** The page's cdk-nag findings, each with why it is accepted. */
  private acknowledge() {
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The bucket holds only the page static files, readable only through CloudFront; what people do with the ' +
        'page is logged by the APIs it calls (access logs, the audit history), so object access logs add nothing',
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason: 'Viewers and support staff work from anywhere; the APIs behind the page require a token',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason: 'Static files only; the APIs the page calls have their own throttling and JWT authorizers',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason: 'Static files only; what people do is logged by the APIs, not by who fetched the page',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The default CloudFront certificate is used until a deployer adds a custom domain (then set a TLSv1.2 ' +
          'security policy with the certificate)',
      },
    );
  }
}
