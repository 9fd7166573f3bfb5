import WebSocket from 'ws';
import { sleep } from '../../core/retry.js';

export interface OpenResult {
  status: number;
  /** set when the handshake succeeded (101) */
  socket?: WebSocket;
  /** the refusal's body, when it did not */
  body?: string;
}

/** Opens a real socket and reports how the handshake ended. */
/**
 * `onCreated` sees the socket before its handshake: a listener added there cannot miss a frame the server sends right
 * after the handshake, which can arrive before a promise resolved on `open` gets to run.
 */
export function openSocket(
  baseUrl: string,
  params: Record<string, string> = {},
  onCreated?: (socket: WebSocket) => void,
): Promise<OpenResult> {
  const url = new URL(baseUrl);
  for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
  return openUrl(url.toString(), onCreated);
}

export function openUrl(url: string, onCreated?: (socket: WebSocket) => void): Promise<OpenResult> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    onCreated?.(socket);
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    socket.once('error', (error) => reject(error));
  });
}

export async function mustOpen(baseUrl: string, params: Record<string, string>): Promise<WebSocket> {
  const result = await openSocket(baseUrl, params);
  if (result.status !== 101) throw new Error(`expected 101, got ${result.status} ${result.body}`);
  return result.socket!;
}

/** Sends a frame and resolves with the next JSON frame the server sends. */
export function request(socket: WebSocket, data: string | Record<string, unknown>): Promise<Record<string, unknown>> {
  const reply = nextMessage(socket);
  socket.send(typeof data === 'string' ? data : JSON.stringify(data));
  return reply;
}

export function nextMessage(socket: WebSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error('socket closed before a message arrived'));
    socket.once('message', (data) => {
      socket.off('close', onClose);
      resolve(JSON.parse(data.toString()) as Record<string, unknown>);
    });
    socket.once('close', onClose);
  });
}

export function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve({ code: -1, reason: 'already closed' });
  return new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Polls until `probe` returns true; for effects that land asynchronously (a `$disconnect` after a close). */
export async function eventually(
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 5000,
  stepMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
