/**
 * Why a handshake failed, and whether trying again can help. A browser sees a refused handshake only as `error` and a
 * `1006` close (no status, no body), so the player API is asked who holds the user's slots; Node's `ws` says the
 * status in its error, and that is used when present.
 */
import { listStreams } from './api.js';
import type { PlayerApiOptions, Refusal } from './types.js';

/** `final`: tell the player and stop; `transient`: try again after a wait (the store was slow, a race, a network blip). */
export type FailureVerdict = { final: Refusal } | { transient: string };

/** The status `ws` puts in its error message ("Unexpected server response: 429"); undefined in a browser. */
export function handshakeStatusOf(event: unknown): number | undefined {
  const message = (event as { message?: unknown } | null)?.message;
  const match = typeof message === 'string' ? /Unexpected server response: (\d{3})/.exec(message) : null;
  return match ? Number(match[1]) : undefined;
}

const refusal = (status: number, code: string, message: string): { final: Refusal } => ({
  final: { status, code, message },
});

export async function judgeFailure(
  options: PlayerApiOptions,
  streamId: string,
  knownStatus: number | undefined,
): Promise<FailureVerdict> {
  // A newer connect of this stream (409) or a store too slow (503): the service says to connect again.
  if (knownStatus === 409 || (knownStatus !== undefined && knownStatus >= 500))
    return { transient: `handshake ${knownStatus}` };
  if (knownStatus === 400) return refusal(400, 'INVALID_PARAMETER', 'the service refused the stream parameters');
  if (knownStatus === 401)
    return refusal(401, 'UNAUTHORIZED', 'not signed in: the token is missing, expired or invalid');
  let answer: Awaited<ReturnType<typeof listStreams>>;
  try {
    answer = await listStreams(options);
  } catch {
    return { transient: knownStatus ? `handshake ${knownStatus}` : 'no connection' };
  }
  if (!answer.ok) {
    if (answer.status === 401 || answer.status === 400) return refusal(answer.status, answer.code, answer.message);
    return { transient: `handshake ${knownStatus ?? 'failed'}, player API ${answer.status}` };
  }
  const view = answer.body;
  // Holding this stream already (a ghost of the socket that dropped) is not a refusal: the next connect takes it over.
  const holdsThisStream = view.streams.some((s) => s.streamId === streamId);
  const atLimit = view.active >= view.limit && view.policy === 'block-new' && !holdsThisStream;
  if (knownStatus !== 429 && !atLimit) return { transient: `handshake ${knownStatus ?? 'failed'} below the limit` };
  return {
    final: {
      status: 429,
      code: 'LIMIT_REACHED',
      message: `already watching on ${view.active} of ${view.limit} screens`,
      limit: view.limit,
      active: view.active,
      policy: view.policy,
      streams: view.streams.map((s) => ({ device: s.device, streamId: s.streamId, since: s.connectedAt })),
    },
  };
}
