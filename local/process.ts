/** Ports and child processes for whoever starts the stack from outside: tests, the benchmark. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 right now, for a child that must be told its port up front. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export interface ReadyChild {
  child: ChildProcess;
  /** the stdout line that matched */
  line: string;
}

export interface SpawnUntilReadyOptions {
  /** a TypeScript entry point and its arguments, run with this Node and tsx */
  args: string[];
  /** added to this process's environment */
  env?: Record<string, string>;
  /** a stdout line matching this means the child is ready */
  ready: RegExp;
  timeoutMs?: number;
}

/**
 * Starts `node --import tsx ...args` and waits for its ready line on stdout. If the child exits first or the wait
 * times out, the promise rejects with everything the child printed, and the child is killed.
 */
export function spawnUntilReady(options: SpawnUntilReadyOptions): Promise<ReadyChild> {
  const { args, ready, timeoutMs = 60_000 } = options;
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let isReady = false;
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      reject(new Error(`${args[0]} ${why}:\n${output}`));
    };
    const timer = setTimeout(() => fail(`not ready in ${timeoutMs / 1000} s`), timeoutMs);
    child.stdout!.on('data', (d) => {
      if (isReady) return; // a long-running child's output is not kept
      output += d;
      const line = output.split('\n').find((l) => ready.test(l));
      if (line !== undefined) {
        isReady = true;
        clearTimeout(timer);
        resolve({ child, line });
      }
    });
    child.stderr!.on('data', (d) => {
      if (!isReady) output += d;
    });
    child.once('exit', (code) => fail(`exited with ${code} before it was ready`));
  });
}

/** SIGTERM, then SIGKILL if the child is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A process's parent and state from `/proc` (Linux); undefined where there is no `/proc` or no such process. */
function procStat(pid: number): { ppid: number; state: string; name: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (name) state ppid ...`: the name may hold spaces and parentheses, so split after the last `)`.
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    return { ppid: Number(ppid), state: state!, name: stat.slice(stat.indexOf('(') + 1, close) };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  const stat = procStat(pid);
  if (stat) return stat.state !== 'Z' && stat.state !== 'X';
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Calls `onGone` once if this process's parent dies, or, when npm ran it (`npm start`), any process between it and
 * npm (the shell npm runs scripts in): a signal to npm alone ends npm without reaching its script's processes.
 * `process.ppid` is read once at start in Node, so the chain is taken at start and polled.
 */
export function watchAncestors(onGone: () => void, intervalMs = 500): void {
  const chain = [process.ppid];
  if (process.env.npm_lifecycle_event) {
    for (let pid = process.ppid, depth = 0; depth < 4; depth++) {
      const stat = procStat(pid);
      if (!stat || /^npm/.test(stat.name) || stat.ppid <= 1) break;
      pid = stat.ppid;
      chain.push(pid);
    }
  }
  const timer = setInterval(() => {
    if (chain.every(isAlive)) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
}
