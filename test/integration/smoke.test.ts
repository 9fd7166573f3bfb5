/**
 * `npm run smoke` as a deployer runs it after `cdk deploy`, here against the local stack (the same handlers behind
 * the API Gateway emulator): it passes on a healthy stack in dev mode and in jwt mode (tokens, `--outputs`), and
 * fails, naming the step, against a stack whose limit is not the one expected and against a stack that is down.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken, newSigningKey } from '../../local/signing-key.js';
import type { LocalStack } from '../../local/stack.js';
import { type SmokeReport, STEPS } from '../../tools/smoke/run.js';
import { runTsx } from '../support/cli.js';
import { newUserId, startTestStack } from '../support/stack.js';

const SMOKE = 'tools/smoke/cli.ts';
const dir = mkdtempSync(join(tmpdir(), 'streamgate-smoke-'));

/** The flags that point the smoke test at a local stack. */
const at = (stack: LocalStack) => ['--ws', stack.wsUrl, '--player-api', stack.httpUrl, '--support-api', stack.httpUrl];

const smoke = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const run = await runTsx(SMOKE, ['--json', '--timeout', '5000', ...args], { ...process.env, ...env });
  const report = run.stdout ? (JSON.parse(run.stdout) as SmokeReport) : undefined;
  return { ...run, report };
};

describe('When a deployer runs the smoke test against a healthy stack', () => {
  let dev: LocalStack;
  let jwt: LocalStack;
  let key: Awaited<ReturnType<typeof newSigningKey>>;

  beforeAll(async () => {
    key = await newSigningKey();
    [dev, jwt] = await Promise.all([
      startTestStack({ streamLimit: 3, sweepIntervalSeconds: 0 }),
      startTestStack({ authMode: 'jwt', streamLimit: 3, signingKey: key, sweepIntervalSeconds: 0 }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([dev?.stop(), jwt?.stop()]);
  });

  it('passes every step in dev mode, with the admin token as staff', async () => {
    // Act
    const run = await smoke([
      ...at(dev),
      '--user',
      newUserId('smoke'),
      '--staff-token',
      dev.adminToken,
      '--limit',
      '3',
    ]);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.report!.pass).toBe(true);
    expect(run.report!.steps.map((s) => [s.step, s.status])).toEqual(Object.values(STEPS).map((s) => [s, 'pass']));
    expect(run.stderr).toContain('smoke: PASS, 11 of 11 steps');
  });

  it('passes every step in jwt mode, with the URLs from a cdk outputs file and the tokens from the environment', async () => {
    // Prepare: the file `cdk deploy --outputs-file` writes, and tokens as an identity provider issues them.
    const outputs = join(dir, 'cdk-outputs.json');
    writeFileSync(
      outputs,
      JSON.stringify({
        streamgate: { WebSocketUrl: jwt.wsUrl, PlayerApiUrl: `${jwt.httpUrl}/`, SupportApiUrl: `${jwt.httpUrl}/` },
      }),
    );
    const player = newUserId('smoke-jwt');
    const staffFile = join(dir, 'staff.token');
    writeFileSync(staffFile, `${await mintToken(key, { userId: 'agent-7', staff: true })}\n`);
    const report = join(dir, 'report.json');

    // Act
    const run = await smoke(['--outputs', outputs, '--staff-token-file', staffFile, '--output', report], {
      SMOKE_PLAYER_TOKEN: await mintToken(key, { userId: player }),
    });

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.report).toMatchObject({ pass: true, userId: player, limit: 3 });
    expect(run.report!.steps.every((s) => s.status === 'pass')).toBe(true);
  });
});

describe('When the stack is not what the deployer expects', () => {
  it('fails at the limit step, and skips the rest, when the limit is not the one expected', async () => {
    // Prepare: a stack whose limit is 2, checked by a deployer who expects 3
    const stack = await startTestStack({ streamLimit: 2, sweepIntervalSeconds: 0 });
    try {
      // Act
      const run = await smoke([
        ...at(stack),
        '--user',
        newUserId('smoke'),
        '--staff-token',
        stack.adminToken,
        '--limit',
        '3',
      ]);

      // Assess
      expect(run.code).toBe(1);
      expect(run.report).toMatchObject({ pass: false, failedStep: STEPS.limit });
      expect(run.stderr).toContain(`FAIL  ${STEPS.limit}`);
      expect(run.stderr).toContain('the player API says the limit is 2, expected 3');
      expect(run.stderr).toContain(`smoke: FAIL at "${STEPS.limit}"`);
      expect(run.report!.steps.filter((s) => s.status === 'skip')).toHaveLength(Object.keys(STEPS).length - 3);
    } finally {
      await stack.stop();
    }
  });

  it('fails at the first step, naming why, when the stack is down', async () => {
    // Prepare: a stack that was there and is gone
    const stack = await startTestStack({ sweepIntervalSeconds: 0 });
    const args = [...at(stack), '--user', 'alice', '--staff-token', stack.adminToken];
    await stack.stop();

    // Act
    const run = await smoke(args);

    // Assess
    expect(run.code).toBe(1);
    expect(run.report).toMatchObject({ pass: false, failedStep: STEPS.playerApi });
    expect(run.stderr).toMatch(
      /FAIL {2}the player API answers \(\d+ ms\): GET http:\/\/127\.0\.0\.1:\d+\/me\/streams: ECONNREFUSED/,
    );
  });

  it('fails at the staff listing when the staff token is refused', async () => {
    // Prepare
    const stack = await startTestStack({ sweepIntervalSeconds: 0 });
    try {
      // Act
      const run = await smoke([...at(stack), '--user', newUserId('smoke'), '--staff-token', 'not-the-admin-token']);

      // Assess
      expect(run.code).toBe(1);
      expect(run.report!.failedStep).toBe(STEPS.staffListing);
      expect(run.stderr).toContain('answered 401 (the staff token is missing, expired or not for this deployment)');
    } finally {
      await stack.stop();
    }
  });
});
