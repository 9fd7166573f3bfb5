/**
 * API Gateway limits frames to 32 KB and messages to 128 KB. `ws` has one knob (`maxPayload`) that bounds the
 * whole message, so the per-frame bound is added to its receiver here, for the server's sockets only.
 */

import type { WebSocket } from 'ws';
import * as wsModule from 'ws';

const MAX_FRAME = Symbol('streamgate.maxFrame');

interface ReceiverInternals {
  [MAX_FRAME]?: number;
  _payloadLength: number;
  _opcode: number;
  createError(kind: typeof RangeError, message: string, prefix: boolean, statusCode: number, errorCode: string): Error;
  haveLength(cb: (error?: Error) => void): void;
}

let patched = false;

function patchReceiver() {
  if (patched) return;
  patched = true;
  // The receiver class is exported at runtime but missing from @types/ws.
  const { Receiver } = wsModule as unknown as { Receiver: { prototype: unknown } };
  const proto = Receiver.prototype as ReceiverInternals;
  const haveLength = proto.haveLength;
  proto.haveLength = function (this: ReceiverInternals, cb) {
    const max = this[MAX_FRAME];
    // Opcodes below 8 are data frames; control frames are bounded at 125 bytes by the protocol.
    if (max !== undefined && this._opcode < 0x08 && this._payloadLength > max) {
      cb(this.createError(RangeError, 'Max frame size exceeded', false, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'));
      return;
    }
    haveLength.call(this, cb);
  };
}

export function limitFrameSize(socket: WebSocket, maxFrameBytes: number) {
  patchReceiver();
  const receiver = (socket as unknown as { _receiver?: ReceiverInternals })._receiver;
  if (!receiver) throw new Error('ws internals changed: no _receiver on the socket');
  receiver[MAX_FRAME] = maxFrameBytes;
}
