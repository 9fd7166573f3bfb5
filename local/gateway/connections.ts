/** The open sockets API Gateway keeps: who they are, when they last spoke, and the idle and 2-hour timeouts. */
import { WebSocket } from 'ws';
import { endedFrame } from '../../core/ended.js';
import type { ConnectionIdentity } from './events.js';

export interface LiveConnection extends ConnectionIdentity {
  socket: WebSocket;
  lastActiveAt: number;
  idleTimer?: NodeJS.Timeout;
  hardTimer: NodeJS.Timeout;
}

const goingAway = (socket: WebSocket) => socket.close(1001, 'Going away');

/**
 * The idle and 2-hour timeouts: the emulator tells the player why before closing, as the service does for the closes
 * it decides. In AWS, API Gateway closes these sockets itself and the service cannot speak first; a player should
 * read a 1001 close without an `ended` frame the same way.
 */
const timedOut = (socket: WebSocket, reason: 'idle' | 'maxDuration') => {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(endedFrame(reason)));
  goingAway(socket);
};

export class Connections {
  private readonly live = new Map<string, LiveConnection>();

  constructor(private readonly timeouts: { idleMs: number; hardMs: number }) {}

  get size(): number {
    return this.live.size;
  }

  /** The ids of the open sockets (tests check them against the store). */
  openIds(): string[] {
    return [...this.live.values()].filter((c) => c.socket.readyState === WebSocket.OPEN).map((c) => c.connectionId);
  }

  /** The connection, if its socket is open. */
  open(connectionId: string): LiveConnection | undefined {
    const conn = this.live.get(connectionId);
    return conn?.socket.readyState === WebSocket.OPEN ? conn : undefined;
  }

  /** Tracks the socket until it closes, closing it at the idle and the hard timeout. */
  add(socket: WebSocket, identity: ConnectionIdentity): LiveConnection {
    const conn: LiveConnection = {
      ...identity,
      socket,
      lastActiveAt: Date.now(),
      hardTimer: setTimeout(() => timedOut(socket, 'maxDuration'), this.timeouts.hardMs),
    };
    this.live.set(conn.connectionId, conn);
    this.armIdle(conn, this.timeouts.idleMs);
    socket.on('close', () => {
      clearTimeout(conn.idleTimer);
      clearTimeout(conn.hardTimer);
      this.live.delete(conn.connectionId);
    });
    return conn;
  }

  /**
   * Activity: pushes the idle timeout back. Only the time is noted here; the idle timer, when it fires, waits again
   * for whatever is left. Resetting a timer on every frame would cost a flood of frames two timer operations each.
   */
  touch(conn: LiveConnection) {
    conn.lastActiveAt = Date.now();
  }

  private armIdle(conn: LiveConnection, delayMs: number) {
    conn.idleTimer = setTimeout(() => {
      const idleFor = Date.now() - conn.lastActiveAt;
      if (idleFor >= this.timeouts.idleMs) timedOut(conn.socket, 'idle');
      else this.armIdle(conn, this.timeouts.idleMs - idleFor);
    }, delayMs);
  }

  /** Closes every socket with 1001, giving them `graceMs` to finish the close handshake, then cuts the rest. */
  async closeAll(graceMs: number): Promise<void> {
    for (const conn of this.live.values()) goingAway(conn.socket);
    const deadline = Date.now() + graceMs;
    while (this.live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const conn of this.live.values()) conn.socket.terminate();
  }
}
