/**
 * The events pipeline under the steady load: how long after its admission each `stream.admitted` reaches a follower
 * of `GET /events` (the table's stream read, the event built and delivered), and whether the admission rate moves
 * when the processor runs beside the stack.
 */
import WebSocket from 'ws';
import { latency } from './scenarios.js';

export interface EventFollower {
  /** stops following; the lags of the admissions seen, in ms */
  stop(): number[];
  /** resolves once the admission of `userId` has come through (the processor has caught up with it) */
  admitted(userId: string): Promise<void>;
}

/** Follows `GET /events` on `httpUrl`, recording for each `stream.admitted` whose user starts with `prefix` its lag. */
export async function followEvents(httpUrl: string, token: string, prefix: string): Promise<EventFollower> {
  const controller = new AbortController();
  const response = await fetch(`${httpUrl}/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  if (!response.ok || !response.body) throw new Error(`GET /events answered ${response.status}`);
  const lags: number[] = [];
  const waiting = new Map<string, () => void>();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const now = Date.now();
        buffered += decoder.decode(value, { stream: true });
        const frames = buffered.split('\n\n');
        buffered = frames.pop() ?? '';
        for (const frame of frames) {
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (!frame.includes('event: stream.admitted') || !data) continue;
          const event = JSON.parse(data.slice(6)) as { subject: string; time: string };
          if (event.subject.startsWith(prefix)) lags.push(now - Date.parse(event.time));
          waiting.get(event.subject)?.();
        }
      }
    } catch {
      // stopped
    }
  })();
  return {
    stop() {
      controller.abort();
      return lags;
    },
    admitted: (userId) => new Promise<void>((resolve) => waiting.set(userId, resolve)),
  };
}

export const lagSummary = (lags: number[]) => latency(lags);

/** Opens one stream of `userId` and waits for its admission to reach `follower`; how long that took (ms). */
export async function caughtUp(url: string, follower: EventFollower, userId: string): Promise<number> {
  const started = performance.now();
  const seen = follower.admitted(userId);
  const socket = new WebSocket(`${url}/?userId=${userId}&streamId=marker`);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let timeout: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timeout = setTimeout(() => reject(new Error('the events processor had not caught up after 5 minutes')), 300_000);
  });
  await Promise.race([seen, late]).finally(() => {
    clearTimeout(timeout);
    socket.close();
  });
  return Math.round(performance.now() - started);
}
