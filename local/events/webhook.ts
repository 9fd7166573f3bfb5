/**
 * Delivers events to `EVENTS_WEBHOOK_URL`: one POST per event, `application/cloudevents+json`, in order, each tried
 * until the receiver answers 2xx (backing off up to `maxDelayMs`), so a receiver that is down holds the pipeline
 * (and its checkpoint) instead of losing events. Players never wait on it: it runs off the table's stream.
 * With `EVENTS_WEBHOOK_SECRET` each request carries `Streamgate-Signature: t=<unix seconds>,v1=<hex>`, the
 * HMAC-SHA256 of `<t>.<body>` with the secret: the receiver checks it and refuses an old `t` (a replay).
 */
import { createHmac } from 'node:crypto';
import type { EventSink } from '../../core/events/processor.js';
import type { CloudEvent } from '../../core/events/schema.js';

export const SIGNATURE_HEADER = 'streamgate-signature';

export function signature(secret: string, body: string, atSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${atSeconds}.${body}`).digest('hex');
  return `t=${atSeconds},v1=${mac}`;
}

export interface WebhookOptions {
  url: string;
  secret?: string;
  /** the longest pause between two tries of one event */
  maxDelayMs?: number;
  /** one try's limit: a receiver that hangs is tried again, not waited on forever */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export class WebhookSink implements EventSink {
  private readonly stopped = new AbortController();
  /** what a test or the operator can read: tries that failed since the start */
  failedTries = 0;

  constructor(private readonly options: WebhookOptions) {}

  async deliver(events: CloudEvent[]): Promise<void> {
    for (const event of events) await this.post(event);
  }

  /** Ends the tries in progress; the batch in hand then fails and stays behind the checkpoint. */
  stop(): void {
    this.stopped.abort();
  }

  private async post(event: CloudEvent): Promise<void> {
    const { url, secret, maxDelayMs = 30_000, timeoutMs = 5_000, log = () => undefined } = this.options;
    const body = JSON.stringify(event);
    for (let attempt = 0; ; attempt++) {
      if (this.stopped.signal.aborted) throw new Error('webhook delivery stopped');
      const headers: Record<string, string> = { 'content-type': 'application/cloudevents+json; charset=utf-8' };
      if (secret) headers[SIGNATURE_HEADER] = signature(secret, body, Math.floor(Date.now() / 1000));
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([this.stopped.signal, AbortSignal.timeout(timeoutMs)]),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        log(`[events] webhook answered ${response.status} for ${event.id}; trying again`);
      } catch (error) {
        if (this.stopped.signal.aborted) throw new Error('webhook delivery stopped');
        log(`[events] webhook unreachable for ${event.id}: ${String(error)}; trying again`);
      }
      this.failedTries++;
      // Full jitter: receivers coming back are not hit by every sender at the same moment.
      const delay = Math.random() * Math.min(maxDelayMs, 100 * 2 ** Math.min(attempt, 16));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        const onAbort = () => {
          clearTimeout(timer);
          resolve();
        };
        this.stopped.signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
