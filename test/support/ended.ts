import type WebSocket from 'ws';

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
