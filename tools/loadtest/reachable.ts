/**
 * Whether anything listens at the address before any load is sent: a run against a closed port would otherwise spend
 * its whole duration and settle phase failing handshakes, then blame a lockout (exit 3). One TCP connection, opened
 * and closed; nothing reaches the service, so nothing is counted.
 */
import { connect } from 'node:net';

/** How long the check waits for the TCP handshake: a reachable host answers in milliseconds, even far away. */
export const REACH_TIMEOUT_MS = 3_000;

/** What a failed connection's code means, for the one line the tool prints. */
const WHY: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens on that port',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name cannot be resolved right now',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'no route to the network',
  ECONNRESET: 'the connection was reset',
};

/** The TCP address a `ws://` or `wss://` URL connects to. */
export function addressOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  const port = u.port === '' ? (u.protocol === 'wss:' ? 443 : 80) : Number(u.port);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/** Undefined when a TCP connection to the URL's host and port opens; otherwise why not, in words. */
export function unreachable(url: string, timeoutMs = REACH_TIMEOUT_MS): Promise<string | undefined> {
  const { host, port } = addressOf(url);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (why: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'error';
      done(`${WHY[code] ?? error.message} (${code})`);
    });
  });
}
