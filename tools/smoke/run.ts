/**
 * The smoke test's steps against one deployment (AWS or the local stack), as a player and a support agent would use
 * it: real WebSockets (`ws`), the player API, the support API. Each step passes or fails with what it saw; after a
 * failure the rest are skipped, and every socket opened is closed whatever happened.
 */
import WebSocket from 'ws';
import type { SmokeOptions } from './options.js';

export interface StepResult {
  step: string;
  status: 'pass' | 'fail' | 'skip';
  ms: number;
  detail: string;
}

export interface SmokeReport {
  tool: 'streamgate-smoke';
  startedAt: string;
  target: { ws: string; playerApi: string; supportApi: string };
  userId?: string;
  limit?: number;
  pass: boolean;
  /** the step that failed, when one did */
  failedStep?: string;
  steps: StepResult[];
}

/** The steps, in order: a failing one names itself in the report and the exit. */
export const STEPS = {
  playerApi: 'the player API answers',
  noStreams: 'the player starts with no stream open',
  limit: 'the limit is the one expected',
  admitted: 'the limit of streams is admitted',
  refused: 'one stream more is refused with 429',
  why: 'the player API says why',
  endedByPlayer: 'the player ends a stream from the player API',
  freedSlot: 'a new stream takes the freed slot',
  staffListing: 'support staff see the open streams',
  kick: 'support staff end a stream',
  closed: 'every stream closes and the count returns to 0',
} as const;

class StepFailure extends Error {}

const fail = (message: string): never => {
  throw new StepFailure(message);
};

interface Frame {
  type?: string;
  reason?: string;
  connectionId?: string;
  active?: number;
  limit?: number;
  userId?: string;
}

/** One player socket: its frames as they come, and whether it is still open. */
class PlayerSocket {
  readonly frames: Frame[] = [];
  closed = false;
  private waiters: Array<() => void> = [];

  constructor(
    readonly streamId: string,
    readonly ws: WebSocket,
  ) {
    ws.on('message', (data) => {
      try {
        this.frames.push(JSON.parse(String(data)) as Frame);
      } catch {
        this.frames.push({ type: 'unparsable' });
      }
      this.wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `ready()` holds, or rejects after `timeoutMs` naming what was awaited. */
  until(ready: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (ready()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      const timer = setTimeout(() => reject(new StepFailure(`${what}: nothing after ${timeoutMs} ms`)), timeoutMs);
      check();
    });
  }

  /** Asks for its status (which names its connection id) and waits for the answer. */
  async status(timeoutMs: number): Promise<Frame> {
    const before = this.frames.length;
    this.ws.send(JSON.stringify({ action: 'status' }));
    await this.until(
      () => this.frames.slice(before).some((f) => f.type === 'status'),
      `${this.streamId}: status`,
      timeoutMs,
    );
    return this.frames.slice(before).find((f) => f.type === 'status')!;
  }

  ended(): Frame | undefined {
    return this.frames.find((f) => f.type === 'ended');
  }
}

type Opened = { kind: 'open'; socket: PlayerSocket } | { kind: 'refused'; status: number; body: string };

export async function runSmoke(o: SmokeOptions, log: (line: string) => void = () => {}): Promise<SmokeReport> {
  const started = new Date();
  const runId = `smoke-${started.getTime().toString(36)}`;
  const sockets: PlayerSocket[] = [];
  const steps: StepResult[] = [];
  const report: SmokeReport = {
    tool: 'streamgate-smoke',
    startedAt: started.toISOString(),
    target: { ws: o.ws, playerApi: o.playerApi, supportApi: o.supportApi },
    pass: false,
    steps,
  };

  const step = async (name: string, run: () => Promise<string>) => {
    if (report.failedStep !== undefined) {
      steps.push({ step: name, status: 'skip', ms: 0, detail: `after "${report.failedStep}" failed` });
      log(`SKIP  ${name}`);
      return;
    }
    const t = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const detail = await Promise.race([
        run(),
        new Promise<never>((_, reject) => {
          // A step waits on several things in turn; the whole of it gets a few of their timeouts.
          timer = setTimeout(() => reject(new StepFailure(`no answer within ${3 * o.timeoutMs} ms`)), 3 * o.timeoutMs);
        }),
      ]);
      const ms = Math.round(performance.now() - t);
      steps.push({ step: name, status: 'pass', ms, detail });
      log(`PASS  ${name} (${ms} ms)${detail ? `: ${detail}` : ''}`);
    } catch (error) {
      const ms = Math.round(performance.now() - t);
      const detail = error instanceof StepFailure ? error.message : describe(error);
      steps.push({ step: name, status: 'fail', ms, detail });
      report.failedStep = name;
      log(`FAIL  ${name} (${ms} ms): ${detail}`);
    } finally {
      clearTimeout(timer);
    }
  };

  // --- the player and the staff member, as the APIs see them

  const playerCall = async (method: string, path: string) => {
    const url = new URL(`${o.playerApi}${path}`);
    const headers: Record<string, string> = {};
    if ('token' in o.player) headers.authorization = `Bearer ${o.player.token}`;
    else url.searchParams.set('userId', o.player.userId);
    return call(method, url, headers, o.timeoutMs);
  };
  const staffCall = (method: string, path: string) =>
    call(method, new URL(`${o.supportApi}${path}`), { authorization: `Bearer ${o.staffToken}` }, o.timeoutMs);

  const open = (streamId: string): Promise<Opened> =>
    new Promise((resolve, reject) => {
      const url = new URL(o.ws);
      if ('token' in o.player) url.searchParams.set('token', o.player.token);
      else url.searchParams.set('userId', o.player.userId);
      url.searchParams.set('streamId', streamId);
      url.searchParams.set('device', 'smoke test');
      const ws = new WebSocket(url, { handshakeTimeout: o.timeoutMs });
      ws.once('open', () => {
        const socket = new PlayerSocket(streamId, ws);
        sockets.push(socket);
        resolve({ kind: 'open', socket });
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ kind: 'refused', status: res.statusCode ?? 0, body: body.slice(0, 200) }));
        res.on('error', () => resolve({ kind: 'refused', status: res.statusCode ?? 0, body }));
      });
      ws.once('error', (error) => reject(new StepFailure(`${streamId}: ${describe(error)}`)));
    });

  const streamId = (i: number) => `${runId}-${i}`;
  let limit = 0;
  let userId = '';
  const admitted: PlayerSocket[] = [];

  try {
    await step(STEPS.playerApi, async () => {
      const res = await playerCall('GET', '/me/streams');
      if (res.status !== 200) fail(`GET /me/streams answered ${res.status}${hint(res.status, 'player')}`);
      const body = res.json as { userId?: string; limit?: number; active?: number };
      if (typeof body?.userId !== 'string' || typeof body.limit !== 'number')
        fail('GET /me/streams: not a stream list');
      userId = body.userId as string;
      limit = body.limit as number;
      report.userId = userId;
      report.limit = limit;
      return `user ${userId}, limit ${limit}, ${body.active} open`;
    });
    await step(STEPS.noStreams, async () => {
      const body = (await playerCall('GET', '/me/streams')).json as { active: number };
      if (body.active !== 0) {
        fail(`${userId} already holds ${body.active} stream(s): end them (DELETE /me/streams/ID) or use another user`);
      }
      return '';
    });
    await step(STEPS.limit, async () => {
      if (o.limit === undefined) return `no --limit given: the player API's ${limit}`;
      if (limit !== o.limit) fail(`the player API says the limit is ${limit}, expected ${o.limit}`);
      return `${limit}`;
    });
    await step(STEPS.admitted, async () => {
      if (limit < 1) fail(`the limit is ${limit}: nothing can be admitted`);
      for (let i = 0; i < limit; i++) {
        const opened = await open(streamId(i));
        if (opened.kind === 'refused') {
          fail(`stream ${i + 1} of ${limit} refused with ${opened.status} ${opened.body}`.trim());
        } else admitted.push(opened.socket);
      }
      const status = await admitted.at(-1)!.status(o.timeoutMs);
      if (status.active !== limit || status.limit !== limit) {
        fail(`the socket's status says ${status.active} of ${status.limit}, expected ${limit} of ${limit}`);
      }
      return `${limit} of ${limit} open`;
    });
    await step(STEPS.refused, async () => {
      const opened = await open(streamId(limit));
      if (opened.kind === 'open') fail(`admitted: the user now holds ${limit + 1} streams (limit ${limit})`);
      else if (opened.status !== 429) fail(`refused with ${opened.status} instead of 429 ${opened.body}`.trim());
      return '429';
    });
    await step(STEPS.why, async () => {
      const res = await playerCall('GET', '/me/streams');
      if (res.status !== 200) fail(`GET /me/streams answered ${res.status}`);
      const body = res.json as { active: number; limit: number; streams: { streamId: string }[] };
      const listed = new Set(body.streams.map((s) => s.streamId));
      const missing = admitted.filter((s) => !listed.has(s.streamId)).map((s) => s.streamId);
      if (body.active !== limit || missing.length > 0) {
        fail(`${body.active} of ${body.limit} in use${missing.length ? `; not listed: ${missing.join(', ')}` : ''}`);
      }
      return `${body.active} of ${body.limit} in use, every stream listed`;
    });
    await step(STEPS.endedByPlayer, async () => {
      const socket = admitted[0]!;
      const res = await playerCall('DELETE', `/me/streams/${encodeURIComponent(socket.streamId)}`);
      if (res.status !== 204) fail(`DELETE /me/streams/${socket.streamId} answered ${res.status}`);
      await socket.until(() => socket.closed, `${socket.streamId}: close`, o.timeoutMs);
      const ended = socket.ended();
      if (ended?.reason !== 'endedByUser') fail(`the socket closed with ${JSON.stringify(ended ?? 'no ended frame')}`);
      return `${socket.streamId} told "endedByUser" and closed`;
    });
    await step(STEPS.freedSlot, async () => {
      const opened = await open(streamId(limit + 1));
      if (opened.kind === 'refused') fail(`refused with ${opened.status} ${opened.body}`.trim());
      else admitted.push(opened.socket);
      return `${streamId(limit + 1)} admitted`;
    });
    let live: { socket: PlayerSocket; connectionId: string }[] = [];
    await step(STEPS.staffListing, async () => {
      live = [];
      for (const socket of admitted.filter((s) => !s.closed)) {
        const status = await socket.status(o.timeoutMs);
        if (typeof status.connectionId !== 'string') fail(`${socket.streamId}: status names no connection id`);
        live.push({ socket, connectionId: status.connectionId as string });
      }
      const res = await staffCall('GET', `/users/${encodeURIComponent(userId)}/connections`);
      if (res.status !== 200) {
        fail(`GET /users/${userId}/connections answered ${res.status}${hint(res.status, 'staff')}`);
      }
      const listed = ((res.json as { connections: { connectionId: string }[] }).connections ?? []).map(
        (c) => c.connectionId,
      );
      const expected = live.map((l) => l.connectionId);
      if (listed.length !== expected.length || expected.some((id) => !listed.includes(id))) {
        fail(`listed ${JSON.stringify(listed)}, expected ${JSON.stringify(expected)}`);
      }
      return `${listed.length} connection(s), as the sockets say`;
    });
    await step(STEPS.kick, async () => {
      const { socket, connectionId } = live[0]!;
      const res = await staffCall('DELETE', `/connections/${encodeURIComponent(connectionId)}`);
      if (res.status !== 204) fail(`DELETE /connections/${connectionId} answered ${res.status}`);
      await socket.until(() => socket.closed, `${socket.streamId}: close`, o.timeoutMs);
      const ended = socket.ended();
      if (ended?.reason !== 'kicked') fail(`the socket closed with ${JSON.stringify(ended ?? 'no ended frame')}`);
      return `${socket.streamId} told "kicked" and closed`;
    });
    await step(STEPS.closed, async () => {
      for (const socket of sockets) if (!socket.closed) socket.ws.close(1000);
      await Promise.all(sockets.map((s) => s.until(() => s.closed, `${s.streamId}: close`, o.timeoutMs)));
      // The release follows the close ($disconnect): wait for the count to come back.
      const deadline = Date.now() + o.timeoutMs;
      let active = -1;
      while (Date.now() < deadline) {
        active = ((await playerCall('GET', '/me/streams')).json as { active: number }).active;
        if (active === 0) return `${sockets.length} sockets closed, 0 open`;
        await new Promise((r) => setTimeout(r, 200));
      }
      return fail(`the player API still counts ${active} open ${o.timeoutMs} ms after every socket closed`);
    });
  } finally {
    for (const socket of sockets) if (!socket.closed) socket.ws.terminate();
  }
  report.pass = report.failedStep === undefined;
  return report;
}

/** One HTTP call: its status and JSON body (or undefined); a network failure fails the step, saying why. */
async function call(method: string, url: URL, headers: Record<string, string>, timeoutMs: number) {
  let res: Response;
  try {
    res = await fetch(url, { method, headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    return fail(`${method} ${url.origin}${url.pathname}: ${describe(error)}`);
  }
  const text = await res.text().catch(() => '');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

function hint(status: number, who: 'player' | 'staff'): string {
  if (status === 401) return ` (the ${who} token is missing, expired or not for this deployment)`;
  if (status === 403) return ` (the token is valid but not ${who === 'staff' ? 'a staff token' : 'accepted here'})`;
  return '';
}

/** What went wrong, in one line: the network error's code when there is one. */
function describe(error: unknown): string {
  const e = error as { cause?: { code?: string; message?: string }; code?: string; message?: string };
  return e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(error);
}
