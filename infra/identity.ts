/**
 * Who signs player and staff tokens in AWS, and how each API trusts them (`streamgate:identity`):
 *
 * - `cognito` (the default): a user pool made here, with an app client for players (the demo player page signs in
 *   through it), one for staff (the support console), and a `staff` group. Tokens are the pool's ID tokens: `sub` is
 *   the user id, `aud` the app client, `custom:streams` the plan's limit (an attribute only an administrator can
 *   set), `cognito:groups` lists `staff` for support staff. The support API admits only the staff client's tokens,
 *   and the handler requires the group.
 * - `external`: the team's own OpenID Connect provider (issuer, audience, JWKS); staff carry a scope, which the
 *   support API's authorizer and the handler both check.
 *
 * API Gateway's HTTP JWT authorizers verify RSA signatures only: Cognito signs with RS256, and an external provider's
 * algorithms are refused at synth unless they are RSA (infra/settings.ts).
 */
import { Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer, HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import {
  AccountRecovery,
  ClientAttributes,
  FeaturePlan,
  Mfa,
  NumberAttribute,
  OAuthScope,
  UserPool,
  type UserPoolClient,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
  UserPoolGroup,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { LIMIT_ATTRIBUTE, STAFF_GROUP } from './identity-names.js';
import type { IdentitySettings } from './settings.js';

export { LIMIT_ATTRIBUTE, STAFF_GROUP };

/** The Cognito signing algorithm (the only one the pool uses). */
const COGNITO_ALGORITHM = 'RS256';

/** How a web page signs its user in: Cognito's hosted sign-in, or a token pasted in (external). */
export type PageSignIn = { kind: 'cognito'; domain: string; clientId: string; redirectUri: string } | { kind: 'token' };

/** The pages the identity serves, by their public URL (`https://…/`): the sign-in returns there. */
export interface IdentityPages {
  playerUrl: string;
  consoleUrl: string;
}

export class Identity extends Construct {
  /** the handlers' identity settings (core/identity/config.ts, core/config.ts) */
  readonly environment: Record<string, string>;
  /** the issuer every authorizer trusts */
  readonly issuer: string;
  /** the support routes' authorizer, and the scopes it requires (none under cognito: the group is checked) */
  readonly staffAuthorizer: IHttpRouteAuthorizer;
  readonly staffScopes: string[] | undefined;
  /** the player routes' authorizer: any valid player token */
  readonly playerAuthorizer: IHttpRouteAuthorizer;
  readonly playerSignIn: PageSignIn;
  readonly consoleSignIn: PageSignIn;
  /** cognito only */
  readonly userPool?: UserPool;
  readonly playerClient?: UserPoolClient;
  readonly staffClient?: UserPoolClient;
  readonly staffGroup?: UserPoolGroup;
  readonly domain?: UserPoolDomain;

  constructor(scope: Construct, id: string, settings: IdentitySettings, pages: IdentityPages) {
    super(scope, id);
    if (settings.kind === 'external') {
      this.issuer = settings.issuer;
      // The same issuer and audience for both APIs; staff tokens carry the scope, which the authorizer requires.
      this.staffAuthorizer = new HttpJwtAuthorizer('StaffJwt', settings.issuer, { jwtAudience: [settings.audience] });
      this.staffScopes = [settings.staffScope];
      this.playerAuthorizer = new HttpJwtAuthorizer('PlayerJwt', settings.issuer, { jwtAudience: [settings.audience] });
      this.environment = {
        JWT_ISSUER: settings.issuer,
        JWT_AUDIENCE: settings.audience,
        JWT_JWKS_URL: settings.jwksUrl,
        JWT_ALGORITHMS: settings.algorithms.join(','),
        JWT_LIMIT_CLAIM: settings.limitClaim,
        JWT_STAFF_CLAIM: 'scope',
        JWT_STAFF_VALUE: settings.staffScope,
      };
      this.playerSignIn = { kind: 'token' };
      this.consoleSignIn = { kind: 'token' };
      return;
    }

    this.userPool = new UserPool(this, 'Users', {
      // Players and staff are created by an administrator (`npm run aws:user`) or by the team's own sign-up.
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      signInCaseSensitive: false,
      customAttributes: { [LIMIT_ATTRIBUTE]: new NumberAttribute({ min: 0, max: 100, mutable: true }) },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      // The hosted sign-in and token issuing is all this uses: the cheapest plan has both.
      featurePlan: FeaturePlan.LITE,
      // Identities outlive the stack, as the table's counts do (see the deploy guide's teardown).
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.staffGroup = new UserPoolGroup(this, 'Staff', {
      userPool: this.userPool,
      groupName: STAFF_GROUP,
      description: 'support staff: the support API and console',
    });
    // A prefix unique to this stack (its id's UUID) unless the deployer chose one: prefixes are global per region.
    const domainPrefix =
      settings.domainPrefix ?? Fn.join('', ['streamgate-', Fn.select(2, Fn.split('/', Aws.STACK_ID))]);
    this.domain = this.userPool.addDomain('SignIn', { cognitoDomain: { domainPrefix } });

    const client = (clientId: string, pageUrl: string) =>
      this.userPool!.addClient(clientId, {
        // A browser page holds no secret: authorization code with PKCE.
        generateSecret: false,
        // The hosted sign-in (SRP), and ADMIN_USER_PASSWORD_AUTH so a deployer's IAM credentials can fetch test
        // tokens (`npm run aws:user`); no plain USER_PASSWORD_AUTH.
        authFlows: { userSrp: true, adminUserPassword: true },
        oAuth: {
          flows: { authorizationCodeGrant: true },
          scopes: [OAuthScope.OPENID, OAuthScope.EMAIL],
          callbackUrls: [pageUrl],
          logoutUrls: [pageUrl],
        },
        supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
        preventUserExistenceErrors: true,
        idTokenValidity: Duration.hours(1),
        accessTokenValidity: Duration.hours(1),
        refreshTokenValidity: Duration.hours(12),
        // The plan limit is read, never written, by the user: only an administrator sets it.
        readAttributes: new ClientAttributes()
          .withStandardAttributes({ email: true, emailVerified: true })
          .withCustomAttributes(LIMIT_ATTRIBUTE),
        writeAttributes: new ClientAttributes().withStandardAttributes({ email: true }),
      });
    this.playerClient = client('PlayerClient', pages.playerUrl);
    this.staffClient = client('StaffClient', pages.consoleUrl);

    // The players' API takes the player client's tokens; the support API only the staff client's (and the handler
    // then requires the staff group: a player signing in to the staff client gets 403).
    this.playerAuthorizer = new HttpUserPoolAuthorizer('PlayerJwt', this.userPool, {
      userPoolClients: [this.playerClient],
    });
    this.staffAuthorizer = new HttpUserPoolAuthorizer('StaffJwt', this.userPool, {
      userPoolClients: [this.staffClient],
    });
    this.staffScopes = undefined;
    // The issuer exactly as HttpUserPoolAuthorizer writes it, so the socket's authorizer trusts the same one.
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
    this.environment = {
      JWT_ISSUER: this.issuer,
      JWT_AUDIENCE: this.playerClient.userPoolClientId,
      JWT_JWKS_URL: `${this.issuer}/.well-known/jwks.json`,
      JWT_ALGORITHMS: COGNITO_ALGORITHM,
      JWT_LIMIT_CLAIM: `custom:${LIMIT_ATTRIBUTE}`,
      JWT_STAFF_CLAIM: 'cognito:groups',
      JWT_STAFF_VALUE: STAFF_GROUP,
    };
    // What `npm run aws:user` and the deploy guide need (`cdk deploy --outputs-file`).
    new CfnOutput(this, 'UserPoolIdOutput', { key: 'UserPoolId', value: this.userPool.userPoolId });
    new CfnOutput(this, 'PlayerClientIdOutput', {
      key: 'PlayerClientId',
      value: this.playerClient.userPoolClientId,
      description: 'app client of the demo player (players sign in)',
    });
    new CfnOutput(this, 'StaffClientIdOutput', {
      key: 'StaffClientId',
      value: this.staffClient.userPoolClientId,
      description: 'app client of the support console (staff sign in)',
    });
    const domain = this.domain.baseUrl();
    this.playerSignIn = {
      kind: 'cognito',
      domain,
      clientId: this.playerClient.userPoolClientId,
      redirectUri: pages.playerUrl,
    };
    this.consoleSignIn = {
      kind: 'cognito',
      domain,
      clientId: this.staffClient.userPoolClientId,
      redirectUri: pages.consoleUrl,
    };
    this.acknowledge();
  }

  /** The pool's cdk-nag findings, each with why it is accepted. */
  private acknowledge() {
    Validations.of(this.userPool!).acknowledge(
      {
        id: 'AwsSolutions-COG2',
        reason:
          'MFA is optional (TOTP): viewers of a streaming service are not asked for a second factor by default; a ' +
          'team that wants it for staff turns it on per user, or requires it with its own identity provider',
      },
      ...['AwsSolutions-COG3', 'AwsSolutions-COG8'].map((rule) => ({
        id: rule,
        reason:
          'Threat protection needs the Plus plan (billed per active user); this pool only signs tokens for the ' +
          'stream limit, and a team that needs adaptive authentication brings its own provider (identity=external)',
      })),
    );
  }
}
