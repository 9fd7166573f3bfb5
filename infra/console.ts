/**
 * The support console in AWS: the same static files the local stack serves at `/console/`, in a private S3 bucket
 * that only CloudFront can read (origin access control), with `config.json` naming the support API. The page calls
 * the API from the CloudFront origin, so the API allows that one origin (CORS) and nothing else.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';

/** The console's files, as the local stack serves them. */
export const CONSOLE_FILES = 'web/console';

/** Same policy as the local stack's pages: the console loads only its own files and talks only to the API. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' https:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export class SupportConsole extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Files', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // Only the console's own files live here; every deploy writes them again.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const headers = new ResponseHeadersPolicy(this, 'Headers', {
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: CONTENT_SECURITY_POLICY, override: true },
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
      comment: 'streamgate support console',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: headers,
      },
    });
    this.acknowledge();
  }

  /** The origin the page calls the API from, for the API's CORS allow-list. */
  get origin(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }

  /** Uploads the files with a `config.json` naming the support API (known only once the API exists). */
  publish(apiUrl: string) {
    new BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      sources: [
        Source.asset(CONSOLE_FILES, { exclude: ['config.json'] }),
        Source.jsonData('config.json', { apiUrl: apiUrl }),
      ],
      distribution: this.distribution,
      distributionPaths: ['/*'],
    });
    this.acknowledgeUploader();
    new CfnOutput(this, 'Url', {
      key: 'SupportConsoleUrl',
      value: `https://${this.distribution.distributionDomainName}/`,
      description: 'support console (sign in with a staff token)',
    });
  }

  /**
   * The uploader is CDK's own BucketDeployment Lambda (one per stack, created by CDK, run only during deploys): its
   * findings are about code and policies CDK writes, scoped to the asset bucket and this console bucket.
   */
  private acknowledgeUploader() {
    const stack = Stack.of(this);
    const uploader = stack.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (!uploader) return;
    const reason =
      "CDK's BucketDeployment uploader, run only while deploying: the policies CDK writes for it read the CDK asset " +
      'bucket, write this console bucket and invalidate this distribution; the runtime is the one CDK ships';
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

  /** The console's cdk-nag findings, each with why it is accepted. */
  private acknowledge() {
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The bucket holds only the console static files, readable only through CloudFront; every staff action is ' +
        'logged by the support API (access logs and the audit history), so object access logs add nothing',
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason: 'Support staff work from anywhere; the API itself requires a staff token',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason: 'Static files only; the support API behind it has its own throttling and JWT authorizer',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason: 'Static files only; what staff do is logged by the support API, not by who fetched the page',
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
