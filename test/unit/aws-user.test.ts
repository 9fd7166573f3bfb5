/**
 * `npm run aws:user`: its command line (property tests) and what it asks Cognito, on a mocked client (no AWS account
 * here): a new or existing user, the plan limit, the staff group, and an ID token on request.
 */
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  AdminUpdateUserAttributesCommand,
  CognitoIdentityProviderClient,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  instructions,
  newPassword,
  parseUserArgs,
  UsageError,
  type UserOptions,
  upsertUser,
} from '../../tools/aws-user/user.js';

const OUTPUTS = JSON.stringify({
  streamgate: {
    UserPoolId: 'eu-west-1_AbCdEf123',
    PlayerClientId: 'player-client-id',
    StaffClientId: 'staff-client-id',
    WebSocketUrl: 'wss://x/live',
  },
});
const read = (files: Record<string, string>) => (file: string) => {
  if (!Object.hasOwn(files, file)) throw new Error(`ENOENT: ${file}`);
  return files[file]!;
};
const run = (argv: string[]) => {
  const command = parseUserArgs(argv, read({ 'out.json': OUTPUTS }));
  if (command.kind !== 'run') throw new Error('not a run');
  return command.options;
};

describe('When a deployer asks for a Cognito test user', () => {
  it('takes the pool and both clients from the cdk outputs, and the region from the pool id', () => {
    expect(run(['--user', 'alice', '--outputs', 'out.json'])).toEqual({
      username: 'alice',
      staff: false,
      poolId: 'eu-west-1_AbCdEf123',
      playerClientId: 'player-client-id',
      staffClientId: 'staff-client-id',
      region: 'eu-west-1',
    });
  });

  it('takes any user name of the alphabet, any limit from 0 to 100, staff or not', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9._@-]{1,128}$/),
        fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
        fc.boolean(),
        (user, limit, staff) => {
          fc.pre(!user.startsWith('-'));
          const argv = ['--user', user, '--outputs', 'out.json'];
          if (limit !== undefined) argv.push('--limit', String(limit));
          if (staff) argv.push('--staff');
          expect(run(argv)).toMatchObject({ username: user, staff, ...(limit === undefined ? {} : { limit }) });
        },
      ),
    );
  });

  it.each([
    ['no user', ['--outputs', 'out.json'], /--user is required/],
    ['a user name with a space', ['--user', 'a b', '--outputs', 'out.json'], /--user must be/],
    ['a limit over 100', ['--user', 'a', '--limit', '101', '--outputs', 'out.json'], /--limit must be/],
    ['a negative limit', ['--user', 'a', '--limit=-1', '--outputs', 'out.json'], /--limit must be/],
    ['no pool', ['--user', 'a'], /give --outputs FILE/],
    [
      'a pool id that is not one',
      ['--user', 'a', '--pool-id', 'pool', '--player-client', 'p', '--staff-client', 's'],
      /not a user pool id/,
    ],
    ['an outputs file that cannot be read', ['--user', 'a', '--outputs', 'gone.json'], /cannot read gone\.json/],
    ['an unknown flag', ['--user', 'a', '--outputs', 'out.json', '--admin'], /Unknown option '--admin'/],
  ])('refuses %s', (_name, argv, message) => {
    expect(() => parseUserArgs(argv, read({ 'out.json': OUTPUTS }))).toThrow(UsageError);
    expect(() => parseUserArgs(argv, read({ 'out.json': OUTPUTS }))).toThrow(message);
  });

  it('refuses a stack deployed with an external identity provider, saying so', () => {
    const external = JSON.stringify({ streamgate: { WebSocketUrl: 'wss://x/live' } });
    expect(() => parseUserArgs(['--user', 'a', '--outputs', 'o'], read({ o: external }))).toThrow(
      /deployed with streamgate:identity=external/,
    );
  });

  it('makes passwords the pool accepts: 20 characters with lower, upper, digit and symbol, never twice the same', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = newPassword();
      expect(p).toHaveLength(20);
      for (const cls of [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/]) expect(p).toMatch(cls);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
  });
});

describe('When the user is made in the pool', () => {
  const cognito = mockClient(CognitoIdentityProviderClient);
  const client = new CognitoIdentityProviderClient({ region: 'eu-west-1' });
  const base: UserOptions = {
    username: 'alice',
    staff: false,
    poolId: 'eu-west-1_AbCdEf123',
    playerClientId: 'player-client-id',
    staffClientId: 'staff-client-id',
    region: 'eu-west-1',
  };

  beforeEach(() => {
    cognito.reset();
    cognito.on(AdminGetUserCommand).resolves({
      Username: 'alice',
      UserAttributes: [{ Name: 'sub', Value: '6418b458-d091-705e-122e-04bf2945fcdf' }],
    });
  });

  it('creates a player with the plan limit, no invitation, a permanent password, and returns the sub', async () => {
    // Act
    const result = await upsertUser(client, { ...base, limit: 2 }, 'Pass-word-1234');

    // Assess
    expect(cognito.commandCalls(AdminCreateUserCommand)[0]!.args[0].input).toEqual({
      UserPoolId: base.poolId,
      Username: 'alice',
      UserAttributes: [{ Name: 'custom:streams', Value: '2' }],
      MessageAction: 'SUPPRESS',
    });
    expect(cognito.commandCalls(AdminSetUserPasswordCommand)[0]!.args[0].input).toEqual({
      UserPoolId: base.poolId,
      Username: 'alice',
      Password: 'Pass-word-1234',
      Permanent: true,
    });
    expect(cognito.commandCalls(AdminAddUserToGroupCommand)).toHaveLength(0);
    expect(cognito.commandCalls(AdminInitiateAuthCommand)).toHaveLength(0);
    expect(result).toEqual({
      username: 'alice',
      userId: '6418b458-d091-705e-122e-04bf2945fcdf',
      password: 'Pass-word-1234',
      created: true,
      staff: false,
    });
  });

  it('puts a staff member in the staff group and signs them in to the staff client for a token', async () => {
    // Prepare
    cognito.on(AdminInitiateAuthCommand).resolves({ AuthenticationResult: { IdToken: 'eyJ.staff.token' } });

    // Act
    const result = await upsertUser(
      client,
      { ...base, username: 'agent-7', staff: true, tokenFile: 't' },
      'Pw-1234567890',
    );

    // Assess
    expect(cognito.commandCalls(AdminAddUserToGroupCommand)[0]!.args[0].input).toEqual({
      UserPoolId: base.poolId,
      Username: 'agent-7',
      GroupName: 'staff',
    });
    expect(cognito.commandCalls(AdminInitiateAuthCommand)[0]!.args[0].input).toEqual({
      UserPoolId: base.poolId,
      ClientId: 'staff-client-id',
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: 'agent-7', PASSWORD: 'Pw-1234567890' },
    });
    expect(result.idToken).toBe('eyJ.staff.token');
  });

  it('resets an existing user: new password, the limit updated, not created again', async () => {
    // Prepare
    cognito
      .on(AdminCreateUserCommand)
      .rejects(new UsernameExistsException({ message: 'User account already exists', $metadata: {} }));

    // Act
    const result = await upsertUser(client, { ...base, limit: 5 }, 'Another-pw-123');

    // Assess
    expect(result.created).toBe(false);
    expect(cognito.commandCalls(AdminUpdateUserAttributesCommand)[0]!.args[0].input.UserAttributes).toEqual([
      { Name: 'custom:streams', Value: '5' },
    ]);
    expect(cognito.commandCalls(AdminSetUserPasswordCommand)).toHaveLength(1);
  });

  it('says how to sign in and get the token, with the right client, for the smoke test', async () => {
    // Act
    const text = instructions(base, {
      username: 'alice',
      userId: 'sub-1',
      password: 'Pw',
      created: true,
      staff: false,
    });

    // Assess
    expect(text).toContain("made player alice: user id (the token's sub) sub-1");
    expect(text).toContain('--user-pool-id eu-west-1_AbCdEf123 --client-id player-client-id');
    expect(text).toContain('--auth-flow ADMIN_USER_PASSWORD_AUTH');
    expect(text).toContain('npm run smoke -- --outputs cdk-outputs.json --player-token-file player.token');
  });
});
