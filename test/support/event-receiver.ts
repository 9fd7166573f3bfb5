/** A webhook receiver for the events tests, on loopback. */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CloudEvent } from '../../core/events/schema.js';
import { SIGNATURE_HEADER } from '../../local/events/webhook.js';

export const SECRET = 'a-test-secret-of-some-length';

/** A webhook receiver that records what it got, checks each signature, and can hold its answers back. */
export class Receiver {
  readonly received: CloudEvent[] = [];
  readonly badSignatures: string[] = [];
  hold?: Promise<void>;
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.take(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  private async take(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const [t, v1] = String(req.headers[SIGNATURE_HEADER] ?? '')
      .split(',')
      .map((p) => p.slice(p.indexOf('=') + 1));
    const expected = createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex');
    const event = JSON.parse(body) as CloudEvent;
    if (v1 !== expected || req.headers['content-type']?.split(';')[0] !== 'application/cloudevents+json') {
      this.badSignatures.push(event.id);
    }
    if (this.hold) await this.hold;
    this.received.push(event);
    res.writeHead(204).end();
  }

  /** Each event once, by id, in the order first received. */
  unique(): CloudEvent[] {
    const seen = new Map<string, CloudEvent>();
    for (const e of this.received) if (!seen.has(e.id)) seen.set(e.id, e);
    return [...seen.values()];
  }

  of(userId: string) {
    return this.unique().filter((e) => e.subject === userId);
  }

  stop() {
    this.server?.closeAllConnections();
    return new Promise((r) => this.server?.close(r));
  }
}
