import type WebSocket from 'ws';
import { type OpenResult, openSocket, request } from './sockets.js';

export interface SocketEnd {
  /** every JSON frame the socket received, in order */
  frames: Array<Record<string, unknown>>;
  code: number;
}

/** Records a socket's frames from now until it closes: the `ended` frame, if any, must be the last one. */
export function recordUntilClose(socket: WebSocket): Promise<SocketEnd> {
  const frames: Array<Record<string, unknown>> = [];
  socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
  return new Promise((resolve) => socket.once('close', (code) => resolve({ frames, code })));
}

/** The `ended` frames of a recording. */
export const endedFrames = (end: SocketEnd) => end.frames.filter((f) => f.type === 'ended');

export interface RecordedOpen extends OpenResult {
  /** settles when the socket closes, with everything it got (only when it opened) */
  ending?: Promise<SocketEnd>;
  /** set once the socket has closed */
  end?: SocketEnd;
}

/**
 * Opens a socket recording it from before its handshake: a frame the server sends the moment it opens (an evicted or
 * replaced socket still in its handshake gets its `ended` then) can arrive before a promise resolved on `open` runs.
 * A handshake that fails outright is status 0. Sockets that open are pushed onto `track`, for the test to end.
 */
export async function openRecording(
  baseUrl: string,
  params: Record<string, string>,
  track: WebSocket[],
): Promise<RecordedOpen> {
  let ending: Promise<SocketEnd> | undefined;
  const result: RecordedOpen = await openSocket(baseUrl, params, (socket) => {
    ending = recordUntilClose(socket);
  }).catch(() => ({ status: 0 }));
  if (result.socket && ending) {
    track.push(result.socket);
    result.ending = ending;
    void ending.then((end) => (result.end = end));
  }
  return result;
}

/** Opens a socket that must be admitted, recording it from before its handshake, and learns its connectionId. */
export async function openAdmittedRecording(baseUrl: string, params: Record<string, string>, track: WebSocket[]) {
  const { socket, status, body, ending } = await openRecording(baseUrl, params, track);
  if (!socket || !ending) throw new Error(`expected 101, got ${status} ${body ?? ''}`);
  const { connectionId } = await request(socket, { action: 'status' });
  return { socket, connectionId: connectionId as string, ending };
}
