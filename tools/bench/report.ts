/** The bench's results: the file under tools/bench/results/ and the human report on stderr. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { failedHandshakes, type LoadReport } from '../loadtest/engine.js';
import type { measureEvents, measureMoments } from './run.js';
import type { DeadStreamRun } from './scenarios.js';
import type { StoreOperations } from './store-operations.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

const pick = (r: LoadReport) => ({
  admitted: r.admitted,
  heldAtEnd: r.heldAtEnd,
  admittedPerSecond: r.admittedPerSecond.mean,
  connectMs: r.latencyMs.admitted,
  violations: r.violations,
  errors: failedHandshakes(r),
});

/** What the phases measured (run.ts): each as its phase returns it. */
type Moments = Awaited<ReturnType<typeof measureMoments>>;

export interface Measured {
  throughput: { rawBefore: number; rawAfter: number; raw: number; e2e: LoadReport };
  sequential: LoadReport;
  moments: Moments;
  storeOperations: StoreOperations;
  idle?: { beforeKiB: number; heldKiB: number; held: number; perSocketKiB: number };
  tool?: { report: LoadReport; beforeKiB: number; heldKiB: number };
  events: Awaited<ReturnType<typeof measureEvents>>;
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : 0);

function moments(m: Moments) {
  const { burstRun, burstRaw, burstCore, refusal, storm, stormCore, deadStreams } = m;
  const strip = <T extends { results: unknown }>({ results: _, ...rest }: T) => rest;
  return {
    burst: {
      ...strip(burstRun.result),
      raw: burstRun.raw,
      /** goal: at least 0.7 */
      ratio: ratio(burstRun.result.admittedPerSecond, burstRun.raw),
      rawBurst: burstRaw,
      ratioToRawBurst: ratio(burstRun.result.admittedPerSecond, burstRaw.admittedPerSecond),
      /** the same burst through the core alone: the design's store work, no stack */
      core: { ...burstCore, ratio: ratio(burstCore.admittedPerSecond, burstRun.raw) },
      ratioToCore: ratio(burstRun.result.admittedPerSecond, burstCore.admittedPerSecond),
    },
    refusal: { ...refusal, goalP50Ms: 20 },
    ghostStorm: {
      ...strip(storm.result),
      raw: storm.raw,
      /** goal: at least 0.35, with p99 under 2 s */
      ratio: ratio(storm.result.admittedPerSecond, storm.raw),
      core: { ...stormCore, ratio: ratio(stormCore.admittedPerSecond, storm.raw) },
      ratioToCore: ratio(storm.result.admittedPerSecond, stormCore.admittedPerSecond),
    },
    /** from a socket's death without `$disconnect` to its slot serving a new connect */
    deadStreamBound: deadStreams,
  };
}

export function results(concurrency: number, measured: Measured) {
  const { throughput, sequential, storeOperations, idle, tool, events } = measured;
  const { raw, rawBefore, rawAfter, e2e } = throughput;
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    concurrency,
    raw: { transactionsPerSecond: Math.round(raw), before: Math.round(rawBefore), after: Math.round(rawAfter) },
    endToEnd: pick(e2e),
    ratio: Math.round((e2e.admittedPerSecond.mean / raw) * 100) / 100,
    sequentialConnectMs: sequential.latencyMs.admitted,
    ...moments(measured.moments),
    storeOperations,
    events,
    idleSockets: idle && {
      held: idle.held,
      stackRssBeforeMiB: Math.round(idle.beforeKiB / 1024),
      stackRssHeldMiB: Math.round(idle.heldKiB / 1024),
      perSocketKiB: Math.round(idle.perSocketKiB * 10) / 10,
    },
    tool: tool && {
      sockets: tool.report.heldAtEnd,
      handshakesPerSecond: tool.report.admittedPerSecond.mean,
      connectMs: tool.report.latencyMs.admitted,
      rssHeldMiB: Math.round(tool.heldKiB / 1024),
      rssGrowthMiB: Math.round((tool.heldKiB - tool.beforeKiB) / 1024),
      errors: failedHandshakes(tool.report),
    },
  };
}

export type Results = ReturnType<typeof results>;

/** The results file under tools/bench/results/, named by the run's date; returns its path. */
export function writeResults(r: Results): string {
  mkdirSync('tools/bench/results', { recursive: true });
  const file = `tools/bench/results/${r.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}

/** The human report on stderr. */
export function printResults(r: Results, file: string) {
  const l = (x: { p50: number; p99: number }) => `p50 ${x.p50} ms, p99 ${x.p99} ms`;
  log('');
  log(`streamgate bench (${r.machine.cpus} cores, ${r.machine.node})`);
  log(
    `  raw guard transactions   ${r.raw.transactionsPerSecond}/s at concurrency ${r.concurrency} (${r.raw.before}/s before, ${r.raw.after}/s after)`,
  );
  log(
    `  end-to-end admissions    ${r.endToEnd.admittedPerSecond}/s at concurrency ${r.concurrency} (${r.endToEnd.admitted} admitted, ${r.endToEnd.violations} violations)`,
  );
  log(`  ratio end-to-end / raw   ${r.ratio}`);
  log(`  connect under load       ${l(r.endToEnd.connectMs)}`);
  log(`  connect one at a time    ${l(r.sequentialConnectMs)} (n=${r.sequentialConnectMs.count})`);
  const b = r.burst;
  log(
    `  burst                    ${b.admittedPerSecond} admitted/s (${b.admitted} admitted, ${b.refused} refused, ${b.errors} errors); admitted ${l(b.admittedMs)}; refused ${l(b.refusedMs)}`,
  );
  log(
    `  ratio burst / raw        ${b.ratio} (goal 0.7; raw around it ${b.raw}/s); to the same burst straight to the store (${b.rawBurst.admittedPerSecond}/s): ${b.ratioToRawBurst}`,
  );
  log(
    `  burst, core alone        ${b.core.admittedPerSecond} admitted/s (${b.core.admitted} admitted, ${b.core.closedAfterAdmission} of them closed after, ${b.core.refused} refused, ${b.core.errors} errors): ${b.core.ratio} of raw, the design's ceiling here; the stack reaches ${b.ratioToCore} of it`,
  );
  log(
    `  refusal at the limit     ${l(r.refusal.refusedMs)} over ${r.refusal.tries} tries (goal p50 < 20 ms); answers ${JSON.stringify(r.refusal.statuses)}`,
  );
  const g = r.ghostStorm;
  log(
    `  ghost storm              ${g.admittedPerSecond} re-admitted/s (${g.admitted} of ${g.ghosts}, ${g.refused} refused, ${g.errors} errors); ${l(g.admittedMs)}`,
  );
  log(`  ratio ghost storm / raw  ${g.ratio} (goal 0.35, p99 < 2000 ms; raw around it ${g.raw}/s)`);
  log(
    `  ghost storm, core alone  ${g.core.admittedPerSecond} re-admitted/s (${g.core.admitted} admitted, ${g.core.closedAfterAdmission} of them closed after, ${g.core.refused} refused, ${g.core.errors} errors): ${g.core.ratio} of raw, the design's ceiling here; the stack reaches ${g.ratioToCore} of it`,
  );
  const d = r.deadStreamBound;
  const dead = (x: DeadStreamRun) => `${l(x.slotFreeMs)} (${x.admitted} of ${x.users} admitted)`;
  log(`  dead-stream bound        ${dead(d.old)} for streams past their window; ${dead(d.young)} for streams 1 s old`);
  const o = r.storeOperations;
  const op = (x: { perSecond: number; dynamoCpuMs: number }) => `${x.perSecond}/s (${x.dynamoCpuMs} ms)`;
  log(
    `  store calls, each alone  guard transaction ${op(o.guardTransaction)}, refused ${op(o.refusedTransaction)}, GetItem ${op(o.getItem)}, BatchGetItem of 3 ${op(o.batchGetOfThree)} (rate at concurrency 50, DynamoDB Local CPU per call)`,
  );
  log(
    `  guard transaction at 8 / 50 / 256 in flight: ${o.guardTransactionAt8.perSecond} / ${o.guardTransaction.perSecond} / ${o.guardTransactionAt256.perSecond} per second`,
  );
  const ev = r.events;
  log(
    `  events processor         steady ${ev.on.admittedPerSecond}/s with it (raw ${ev.on.raw}/s), ${ev.off.admittedPerSecond}/s and ${ev.offAfter.admittedPerSecond}/s without, before and after (raw ${ev.off.raw}/s, ${ev.offAfter.raw}/s): ${ev.onToOff} of the rate without; admission to GET /events ${l(ev.on.lag)} (n=${ev.on.lag.count}), once caught up with the table's earlier changes (${ev.on.catchUpMs} ms)`,
  );
  if (r.idleSockets)
    log(
      `  idle sockets             ${r.idleSockets.held} held, ${r.idleSockets.perSocketKiB} KiB each in the stack (RSS ${r.idleSockets.stackRssBeforeMiB} -> ${r.idleSockets.stackRssHeldMiB} MiB)`,
    );
  if (r.tool)
    log(
      `  load tester ceiling      ${r.tool.handshakesPerSecond} handshakes/s, ${r.tool.sockets} sockets held, RSS ${r.tool.rssHeldMiB} MiB, ${r.tool.errors} errors`,
    );
  log(`  written to ${file}`);
}
