/** `npm run loadtest -- --url ws://127.0.0.1:3001 --users 200 --streams-per-user 5` */
import { accessSync, constants, existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadOrCreateSigningKey, mintToken, signingKeyPath } from '../../local/signing-key.js';
import { runLoad } from './engine.js';
import { renderHtml } from './html.js';
import { type LoadOptions, parseCommand, USAGE, UsageError } from './options.js';
import { addressOf, unreachable } from './reachable.js';
import { humanReport, progressLine } from './report.js';
import { TOOL } from './version.js';

/** Checks before the run that the report files can be written: a long run must not end in a lost report. */
function checkWritable(flag: string, file: string | undefined) {
  if (!file) return;
  const path = resolve(file);
  try {
    accessSync(existsSync(path) ? path : dirname(path), constants.W_OK);
  } catch {
    throw new UsageError(`${flag}: cannot write ${file}`);
  }
}

function parse(argv: string[]): LoadOptions | number {
  try {
    const command = parseCommand(argv);
    if (command.kind === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (command.kind === 'version') {
      process.stdout.write(`${TOOL.name} ${TOOL.version}\n`);
      return 0;
    }
    checkWritable('--output', command.options.output);
    checkWritable('--html', command.options.html);
    return command.options;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    return 2;
  }
}

async function main(): Promise<number> {
  let options = parse(process.argv.slice(2));
  if (typeof options === 'number') return options;
  // Nothing to test at an address nobody answers: say so at once (exit 2), rather than fail every handshake.
  const problem = await unreachable(options.url);
  if (problem) {
    const { host, port } = addressOf(options.url);
    process.stderr.write(`loadtest: cannot connect to ${options.url} (${host} port ${port}): ${problem}\n`);
    return 2;
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
  const json = `${JSON.stringify(report)}\n`;
  if (options.json) process.stdout.write(json);
  if (options.output) {
    writeFileSync(options.output, json);
    process.stderr.write(`  report written to ${options.output}\n`);
  }
  if (options.html) {
    writeFileSync(options.html, renderHtml(report));
    process.stderr.write(`  HTML report written to ${options.html}\n`);
  }
  return report.verdict.exitCode;
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
