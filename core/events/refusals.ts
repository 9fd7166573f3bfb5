/**
 * `stream.refused`: a refusal writes nothing to the table, so no change of the table tells of it. It is told by the
 * refusing `$connect` itself, without a write or a wait: the log line it writes anyway carries these fields (in AWS a
 * subscription filter hands those lines to the events processor), and the local stack hands them over in memory.
 */
import { REFUSAL_LOG_MESSAGE } from './names.js';
import { networkOf } from './network.js';
import { type CloudEvent, cloudEvent } from './schema.js';

export interface Refusal {
  userId: string;
  connectionId: string;
  streamId?: string;
  device?: string;
  sourceIp?: string;
  /** how many streams the user had counted */
  active: number;
  limit: number;
  at: number;
}

export { REFUSAL_LOG_MESSAGE };

/** A connection id is refused at most once (a `$connect` answers once), so its id names the step. */
export function refusedEvent(r: Refusal): CloudEvent<'stream.refused'> {
  const network = networkOf(r.sourceIp);
  return cloudEvent('stream.refused', {
    id: `${r.connectionId}/refused`,
    subject: r.userId,
    time: r.at,
    data: {
      userId: r.userId,
      connectionId: r.connectionId,
      ...(r.streamId === undefined ? {} : { streamId: r.streamId }),
      ...(r.device === undefined ? {} : { device: r.device }),
      ...(network === undefined ? {} : { network }),
      active: Math.max(0, r.active),
      limit: Math.max(0, r.limit),
      refusedAt: new Date(r.at).toISOString(),
    },
  });
}

/** A refusal log line (the JSON Powertools writes) back to its refusal; `undefined` for any other line. */
export function refusalFromLogLine(line: string): Refusal | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const l = parsed as Record<string, unknown>;
  if (l.message !== REFUSAL_LOG_MESSAGE) return undefined;
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : undefined);
  const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);
  const userId = text(l.userId);
  const connectionId = text(l.connectionId);
  const active = count(l.active);
  const limit = count(l.limit);
  const at = typeof l.timestamp === 'string' ? Date.parse(l.timestamp) : Number.NaN;
  if (!userId || !connectionId || active === undefined || limit === undefined || Number.isNaN(at)) return undefined;
  return {
    userId,
    connectionId,
    streamId: text(l.streamId),
    device: text(l.device),
    sourceIp: text(l.sourceIp),
    active,
    limit,
    at,
  };
}
