import type WebSocket from 'ws';
import type { LocalStack } from '../../local/stack.js';
import { closed, eventually, mustOpen, type OpenResult, openSocket, request } from './sockets.js';

/** Players of one test file: every socket they open is tracked, so the file can end them all. */
export class Players {
  readonly sockets: WebSocket[] = [];

  constructor(private readonly stack: () => LocalStack) {}

  async open(params: Record<string, string>): Promise<OpenResult> {
    const result = await openSocket(this.stack().wsUrl, params);
    if (result.socket) this.sockets.push(result.socket);
    return result;
  }

  /** Opens a socket that must be admitted, and learns its connectionId from a `status` frame. */
  async openWithId(params: Record<string, string>): Promise<{ socket: WebSocket; connectionId: string }> {
    const socket = await mustOpen(this.stack().wsUrl, params);
    this.sockets.push(socket);
    const { connectionId } = await request(socket, { action: 'status' });
    return { socket, connectionId: connectionId as string };
  }

  /** Opens and abruptly drops `n` sockets for the user; with `$disconnect` being dropped, they stay counted. */
  /** Opens, trying again on 503 (the store answered too late for the socket's opening window) up to five times. */
  async openPatiently(params: Record<string, string>): Promise<WebSocket> {
    for (let attempt = 0; ; attempt++) {
      const r = await openSocket(this.stack().wsUrl, params);
      if (r.status === 101) return r.socket!;
      if (r.status !== 503 || attempt === 5) throw new Error(`expected 101, got ${r.status} ${r.body}`);
    }
  }

  async makeGhosts(userId: string, n: number): Promise<void> {
    // Set-up, not the test: a burst of set-up connects may be answered 503 (the store slower than the opening window
    // on a cold DynamoDB Local), and is tried again, as a player would.
    const ghosts = await Promise.all(Array.from({ length: n }, () => this.openPatiently({ userId })));
    for (const g of ghosts) g.terminate();
    await Promise.all(ghosts.map(closed));
    // A wait, not a timing assertion: on a loaded machine (50 users at once) the emulator may take seconds to notice.
    await eventually(
      () => this.stack().emulator.connectionCount === this.sockets.filter((s) => s.readyState === s.OPEN).length,
      30_000,
    );
  }

  endAll(): void {
    for (const s of this.sockets) s.terminate();
  }
}
