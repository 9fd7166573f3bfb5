/**
 * `npm run smoke -- --outputs cdk-outputs.json` (or `--ws`, `--player-api`, `--support-api`): checks a deployment
 * (AWS or `npm start`) end to end, step by step. The human report goes to stderr; `--json` prints the JSON report on
 * stdout and `--output FILE` writes it. Exit 0 only if every step passed, 1 when one failed (it is named), 2 for bad
 * usage.
 */
import { writeFileSync } from 'node:fs';
import { parseSmokeArgs, type SmokeOptions, USAGE, UsageError } from './options.js';
import { runSmoke } from './run.js';

function usage(message: string): never {
  console.error(`smoke: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main() {
  let options: SmokeOptions;
  try {
    const command = parseSmokeArgs(process.argv.slice(2));
    if (command.kind === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    options = command.options;
  } catch (error) {
    if (error instanceof UsageError) usage(error.message);
    throw error;
  }
  if (options.output !== undefined) {
    // Checked before the run, so a run is never lost to a path that cannot be written.
    try {
      writeFileSync(options.output, '');
    } catch (error) {
      usage(`--output: cannot write ${options.output}: ${(error as NodeJS.ErrnoException).code}`);
    }
  }
  console.error(`smoke: ${options.ws} (player API ${options.playerApi}, support API ${options.supportApi})`);
  const report = await runSmoke(options, (line) => console.error(line));
  const passed = report.steps.filter((s) => s.status === 'pass').length;
  console.error(
    report.pass
      ? `smoke: PASS, ${passed} of ${report.steps.length} steps`
      : `smoke: FAIL at "${report.failedStep}" (${passed} of ${report.steps.length} steps passed)`,
  );
  const json = `${JSON.stringify(report)}\n`;
  if (options.output !== undefined) writeFileSync(options.output, json);
  if (options.json) process.stdout.write(json);
  process.exitCode = report.pass ? 0 : 1;
}

main().catch((error) => {
  console.error(`smoke: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
