/**
 * `GET /events` for staff: the events as server-sent events, live. A subscriber may send `Last-Event-ID` to get the
 * recent events it missed (the last `keep`). A subscriber that reads too slowly is dropped, never waited for: the
 * pipeline and other subscribers go on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventSink } from '../../core/events/processor.js';
import type { CloudEvent } from '../../core/events/schema.js';

/** Served beside the support API, to staff (an admin token, or a staff token in jwt mode). */
export const EVENTS_PATH = '/events';

/** What a subscriber may have unread before it is dropped. */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** A comment line now and then keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

export class EventHub implements EventSink {
  private readonly subscribers = new Set<ServerResponse>();
  private readonly recent: CloudEvent[] = [];

  constructor(private readonly keep = 1_000) {}

  async deliver(events: CloudEvent[]): Promise<void> {
    for (const event of events) {
      this.recent.push(event);
      if (this.recent.length > this.keep) this.recent.shift();
      for (const res of this.subscribers) this.write(res, event);
    }
  }

  /** the ids a follower can resume after, oldest first */
  recentIds(): string[] {
    return this.recent.map((e) => e.id);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  serve(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write(': streamgate events\n\n');
    const lastId = req.headers['last-event-id'];
    if (typeof lastId === 'string') {
      const at = this.recent.findIndex((e) => e.id === lastId);
      if (at >= 0) for (const event of this.recent.slice(at + 1)) this.write(res, event);
    }
    this.subscribers.add(res);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const drop = () => {
      clearInterval(keepalive);
      this.subscribers.delete(res);
    };
    res.on('close', drop);
    res.on('error', drop);
  }

  /** Ends every stream (the server is stopping). */
  close(): void {
    for (const res of this.subscribers) res.end();
    this.subscribers.clear();
  }

  private write(res: ServerResponse, event: CloudEvent): void {
    if (res.writableLength > MAX_UNREAD_BYTES) {
      this.subscribers.delete(res);
      res.destroy();
      return;
    }
    res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  }
}
