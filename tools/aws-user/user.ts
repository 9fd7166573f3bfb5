/**
 * `npm run aws:user`: a test player or staff member in the deployment's Cognito user pool (identity=cognito), and
 * how to get their tokens. What it does, on an injected client so it is tested without an AWS account.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  AdminUpdateUserAttributesCommand,
  type AttributeType,
  type CognitoIdentityProviderClient,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { LIMIT_ATTRIBUTE, STAFF_GROUP } from '../../infra/identity-names.js';

export interface UserOptions {
  username: string;
  staff: boolean;
  /** the plan's limit (`custom:streams`); absent: the service's default */
  limit?: number;
  email?: string;
  poolId: string;
  playerClientId: string;
  staffClientId: string;
  region: string;
  /** write the user's ID token here (mode 0600), for `npm run smoke` or curl */
  tokenFile?: string;
}

export type Command = { kind: 'run'; options: UserOptions } | { kind: 'help' };

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage: npm run aws:user -- --user NAME [--staff] [--limit N] [--email E] [--token-file F]
                        (--outputs cdk-outputs.json | --pool-id ID --player-client ID --staff-client ID)

Makes (or resets) a user of the deployment's Cognito user pool (streamgate:identity=cognito) with a new password,
prints the password and how to get the user's tokens. Needs AWS credentials allowed to administer the pool.

  --user NAME          the sign-in name (1 to 128 of A-Z a-z 0-9 . _ - @)
  --staff              a member of the staff group: the support API and console accept the user
  --limit N            the plan limit (custom:${LIMIT_ATTRIBUTE}, 0 to 100); absent: the service default
  --email E            the user's email (optional)
  --token-file F       also sign in now and write the user's ID token to F (mode 0600), for npm run smoke
  --outputs FILE       what npx cdk deploy --outputs-file FILE wrote (UserPoolId, PlayerClientId, StaffClientId)
  --stack NAME         the stack in that file (default: the only one, else streamgate)
  --pool-id ID, --player-client ID, --staff-client ID   instead of --outputs
  --region R           default: the pool id's region`;

const USERNAME = /^[A-Za-z0-9._@-]{1,128}$/;
const POOL_ID = /^([a-z]{2}(?:-[a-z]+)+-\d)_[A-Za-z0-9]+$/;

export function parseUserArgs(argv: string[], readFile: (file: string) => string): Command {
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse(argv));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return { kind: 'help' };
  if (values.user === undefined) throw new UsageError('--user is required');
  if (!USERNAME.test(values.user)) throw new UsageError('--user must be 1 to 128 of A-Z a-z 0-9 . _ - @');
  let limit: number | undefined;
  if (values.limit !== undefined) {
    if (!/^\d{1,3}$/.test(values.limit) || Number(values.limit) > 100) {
      throw new UsageError(`--limit must be a whole number from 0 to 100, not ${JSON.stringify(values.limit)}`);
    }
    limit = Number(values.limit);
  }
  if (values.email !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email)) {
    throw new UsageError('--email must be an email address');
  }
  const outputs = values.outputs === undefined ? {} : fromOutputs(values.outputs, readFile, values.stack);
  const poolId = values['pool-id'] ?? outputs.UserPoolId;
  const playerClientId = values['player-client'] ?? outputs.PlayerClientId;
  const staffClientId = values['staff-client'] ?? outputs.StaffClientId;
  if (poolId === undefined || playerClientId === undefined || staffClientId === undefined) {
    throw new UsageError(
      'give --outputs FILE (a stack deployed with streamgate:identity=cognito), or --pool-id, --player-client and --staff-client',
    );
  }
  const poolRegion = POOL_ID.exec(poolId)?.[1];
  if (poolRegion === undefined) throw new UsageError(`--pool-id ${JSON.stringify(poolId)} is not a user pool id`);
  return {
    kind: 'run',
    options: {
      username: values.user,
      staff: values.staff,
      ...(limit === undefined ? {} : { limit }),
      ...(values.email === undefined ? {} : { email: values.email }),
      poolId,
      playerClientId,
      staffClientId,
      region: values.region ?? poolRegion,
      ...(values['token-file'] === undefined ? {} : { tokenFile: values['token-file'] }),
    },
  };
}

function fromOutputs(file: string, readFile: (file: string) => string, stack?: string): Record<string, string> {
  let parsed: Record<string, Record<string, string>>;
  try {
    parsed = JSON.parse(readFile(file));
  } catch (error) {
    throw new UsageError(`--outputs: cannot read ${file} as JSON: ${(error as Error).message}`);
  }
  const names = Object.keys(parsed ?? {});
  const name = stack ?? (names.length === 1 ? names[0]! : 'streamgate');
  const outputs = Object.hasOwn(parsed, name) ? parsed[name] : undefined;
  if (!outputs)
    throw new UsageError(`--outputs has no stack ${JSON.stringify(name)} (it has ${names.join(', ') || 'none'})`);
  if (outputs.UserPoolId === undefined) {
    throw new UsageError(`stack ${name} has no user pool: it was deployed with streamgate:identity=external`);
  }
  return outputs;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      user: { type: 'string' },
      staff: { type: 'boolean', default: false },
      limit: { type: 'string' },
      email: { type: 'string' },
      outputs: { type: 'string' },
      stack: { type: 'string' },
      'pool-id': { type: 'string' },
      'player-client': { type: 'string' },
      'staff-client': { type: 'string' },
      region: { type: 'string' },
      'token-file': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
}

/** A password the pool's policy accepts (12 or more; lower, upper, digit, symbol), from the system's CSPRNG. */
export function newPassword(length = 20): string {
  const sets = ['abcdefghijkmnopqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '!#%+-.:=?@^_'];
  const all = sets.join('');
  const chars = sets.map((set) => set[randomInt(set.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  // Shuffled, so the classes are not always in the first four places.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

export interface UserResult {
  username: string;
  /** the Cognito `sub`: the user id streamgate counts streams under */
  userId: string;
  password: string;
  created: boolean;
  staff: boolean;
  /** the ID token, when asked for */
  idToken?: string;
}

type Client = Pick<CognitoIdentityProviderClient, 'send'>;

/** Makes the user (or resets an existing one's password), sets the limit and the group, and signs in if asked. */
export async function upsertUser(client: Client, o: UserOptions, password = newPassword()): Promise<UserResult> {
  const attributes: AttributeType[] = [
    ...(o.limit === undefined ? [] : [{ Name: `custom:${LIMIT_ATTRIBUTE}`, Value: String(o.limit) }]),
    ...(o.email === undefined
      ? []
      : [
          { Name: 'email', Value: o.email },
          { Name: 'email_verified', Value: 'true' },
        ]),
  ];
  let created = true;
  try {
    await client.send(
      new AdminCreateUserCommand({
        UserPoolId: o.poolId,
        Username: o.username,
        UserAttributes: attributes,
        // No invitation message: the password is printed here, and set permanent below.
        MessageAction: 'SUPPRESS',
      }),
    );
  } catch (error) {
    if (!(error instanceof UsernameExistsException)) throw error;
    created = false;
    if (attributes.length > 0) {
      await client.send(
        new AdminUpdateUserAttributesCommand({
          UserPoolId: o.poolId,
          Username: o.username,
          UserAttributes: attributes,
        }),
      );
    }
  }
  await client.send(
    new AdminSetUserPasswordCommand({
      UserPoolId: o.poolId,
      Username: o.username,
      Password: password,
      Permanent: true,
    }),
  );
  if (o.staff) {
    await client.send(
      new AdminAddUserToGroupCommand({ UserPoolId: o.poolId, Username: o.username, GroupName: STAFF_GROUP }),
    );
  }
  const user = await client.send(new AdminGetUserCommand({ UserPoolId: o.poolId, Username: o.username }));
  const userId = user.UserAttributes?.find((a) => a.Name === 'sub')?.Value;
  if (userId === undefined) throw new Error(`Cognito returned no sub for ${o.username}`);
  let idToken: string | undefined;
  if (o.tokenFile !== undefined) {
    const auth = await client.send(
      new AdminInitiateAuthCommand({
        UserPoolId: o.poolId,
        ClientId: o.staff ? o.staffClientId : o.playerClientId,
        AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
        AuthParameters: { USERNAME: o.username, PASSWORD: password },
      }),
    );
    idToken = auth.AuthenticationResult?.IdToken;
    if (idToken === undefined) {
      throw new Error(`signing ${o.username} in asked for ${auth.ChallengeName ?? 'more'}, not a token`);
    }
  }
  return { username: o.username, userId, password, created, staff: o.staff, ...(idToken ? { idToken } : {}) };
}

/** What to tell the deployer: who was made, and how to get tokens for the smoke test and curl. */
export function instructions(o: UserOptions, r: UserResult): string {
  const client = o.staff ? o.staffClientId : o.playerClientId;
  const who = r.staff ? 'staff member' : 'player';
  return [
    `${r.created ? 'made' : 'reset'} ${who} ${r.username}: user id (the token's sub) ${r.userId}`,
    `password: ${r.password}   (shown once; nothing keeps it)`,
    '',
    r.staff
      ? 'sign in on the support console (SupportConsoleUrl) with that name and password, or get an ID token:'
      : 'sign in on the demo player (PlayerPageUrl) with that name and password, or get an ID token:',
    `  aws cognito-idp admin-initiate-auth --region ${o.region} --user-pool-id ${o.poolId} --client-id ${client} \\`,
    `    --auth-flow ADMIN_USER_PASSWORD_AUTH --auth-parameters 'USERNAME=${r.username},PASSWORD=<the password>' \\`,
    `    --query AuthenticationResult.IdToken --output text > ${r.staff ? 'staff' : 'player'}.token`,
    ...(o.tokenFile ? [`(done: the ID token is in ${o.tokenFile}, valid for an hour)`] : []),
    '',
    'then: npm run smoke -- --outputs cdk-outputs.json --player-token-file player.token --staff-token-file staff.token',
  ].join('\n');
}
