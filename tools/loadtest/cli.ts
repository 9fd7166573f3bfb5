/** `npm run loadtest -- --url ws://127.0.0.1:3001 --users 200 --streams-per-user 5` */
import { loadOrCreateSigningKey, mintToken, signingKeyPath } from '../../local/signing-key.js';
import { runLoad } from './engine.js';
import { type LoadOptions, parseLoadOptions, USAGE, UsageError } from './options.js';
import { humanReport, progressLine } from './report.js';

async function main(): Promise<number> {
  let options: LoadOptions;
  try {
    options = parseLoadOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) process.stderr.write(`${error.message}\n\n`);
    process.stderr.write(`${USAGE}\n`);
    return error.message ? 2 : 0;
  }
  if (options.mintTokens) options = { ...options, tokens: await mintTokens(options) };
  const tty = process.stderr.isTTY;
  const report = await runLoad(options, {
    onProgress: (p) => {
      // A live line on a terminal; one line every 5 s in logs.
      if (tty) process.stderr.write(`\r\x1b[2K${progressLine(p)}`);
      else if (Math.round(p.elapsedMs / 1000) % 5 === 0) process.stderr.write(`${progressLine(p)}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  process.stderr.write(humanReport(report));
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  if (report.violations > 0) return 1;
  if (report.lockedOut > 0) return 3;
  return 0;
}

/** One token per virtual user, signed with the key the local stack trusts, valid for the whole run and then some. */
async function mintTokens(options: LoadOptions): Promise<string[]> {
  const file = signingKeyPath(process.env);
  const { key, created } = await loadOrCreateSigningKey(file);
  if (created) process.stderr.write(`made a new signing key in ${file}: a stack started before does not know it\n`);
  const ttlSeconds = Math.ceil(options.rampS + options.durationS + options.settleS) + 3600;
  return Promise.all(
    Array.from({ length: options.users }, (_, i) =>
      mintToken(key, { userId: `${options.userPrefix}-${i}`, ttlSeconds }),
    ),
  );
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`loadtest failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
