/** Raw HTTP over TCP, for requests no well-behaved client would send: odd targets, bad handshakes, aborted bodies. */
import { connect } from 'node:net';

export interface RawAnswer {
  /** the status line's code, or 0 when the server answered nothing before closing or the wait ran out */
  status: number;
  text: string;
}

/** Port of an `http://` or `ws://` URL. */
export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/**
 * Writes `text` as is and reads until the server closes or `waitMs` passes. With `abortAfterMs`, the client hangs up
 * that long after writing, as a client that gives up mid-body does.
 */
export function rawRequest(
  port: number,
  text: string | Buffer,
  options: { abortAfterMs?: number; waitMs?: number } = {},
): Promise<RawAnswer> {
  const { abortAfterMs, waitMs = 3000 } = options;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      resolve({ status: match ? Number(match[1]) : 0, text: got });
    };
    const timer = setTimeout(done, abortAfterMs ?? waitMs);
    socket.on('connect', () => socket.write(text));
    socket.on('data', (d) => {
      got += d;
      // One answer is enough: a keep-alive server would otherwise hold the socket until the wait runs out.
      if (abortAfterMs === undefined && answerComplete(got)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}

function answerComplete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = text.slice(0, end);
  if (/^HTTP\/1\.1 101/.test(head)) return true;
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length) return Buffer.byteLength(text.slice(end + 4)) >= Number(length[1]);
  return /\r\ntransfer-encoding: *chunked/i.test(head) ? text.endsWith('0\r\n\r\n') : false;
}

/** The body of a raw answer, parsed as JSON (chunked transfer encoding undone). */
export function jsonOf(answer: RawAnswer): unknown {
  const end = answer.text.indexOf('\r\n\r\n');
  let body = answer.text.slice(end + 4);
  if (/\r\ntransfer-encoding: *chunked/i.test(answer.text.slice(0, end))) {
    let joined = '';
    for (;;) {
      const line = body.indexOf('\r\n');
      const size = Number.parseInt(body.slice(0, line), 16);
      if (!size) break;
      joined += body.slice(line + 2, line + 2 + size);
      body = body.slice(line + 2 + size + 2);
    }
    body = joined;
  }
  return JSON.parse(body);
}

/** An upgrade request; `headers` replace or remove (undefined) the well-formed defaults. */
export function upgradeRequest(
  target: string,
  headers: Record<string, string | undefined> = {},
  method = 'GET',
): string {
  const all: Record<string, string | undefined> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = Object.entries(all)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v}`);
  return `${method} ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

/** `GET /health` answers at all (any status): the server is still up. */
export async function answers(port: number): Promise<boolean> {
  const { status } = await rawRequest(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  return status > 0;
}
