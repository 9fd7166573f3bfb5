/**
 * `@connections/{id}` as API Gateway serves it, so the real management client works against the emulator:
 * POST sends, GET describes, DELETE closes; 410 when the connection is gone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, requestUrl, sendJson } from '../http.js';
import type { Connections } from './connections.js';

const CONNECTIONS_PATH = /^(?:\/[^/]+)?\/@connections\/([^/?]+)$/;

function reply(res: ServerResponse, status: number, body: unknown, errorType?: string) {
  sendJson(res, status, body, errorType ? { 'x-amzn-ErrorType': errorType } : {});
}

const gone = (res: ServerResponse) => reply(res, 410, { message: 'Gone' }, 'GoneException');

function connectionIdOf(path: string): string | undefined {
  const match = CONNECTIONS_PATH.exec(path);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined; // a broken escape names no connection
  }
}

export async function serveManagement(
  req: IncomingMessage,
  res: ServerResponse,
  connections: Connections,
  maxMessageBytes: number,
): Promise<void> {
  const url = requestUrl(req.url);
  if (!url) return reply(res, 400, { message: 'Bad Request' }, 'BadRequestException');
  const connectionId = connectionIdOf(url.pathname);
  if (connectionId === undefined) return reply(res, 404, { message: 'Not Found' });
  if (req.method === 'POST') {
    const body = await readBody(req, maxMessageBytes);
    if (body === undefined) return reply(res, 413, { message: 'Request entity too large' }, 'PayloadTooLargeException');
    const conn = connections.open(connectionId);
    if (!conn) return gone(res);
    conn.socket.send(body.toString('utf8'));
    return reply(res, 200, {});
  }
  const conn = connections.open(connectionId);
  if (!conn) return gone(res);
  if (req.method === 'GET') {
    const connectedAt = new Date(conn.connectedAt).toISOString();
    const lastActiveAt = new Date(conn.lastActiveAt).toISOString();
    return reply(res, 200, {
      // API Gateway's wire names, which the SDK reads (it shows them as ConnectedAt, Identity, LastActiveAt)...
      connectedAt,
      identity: { sourceIp: conn.sourceIp, userAgent: conn.userAgent },
      lastActiveAt,
      // ...and the SDK's spelling, which CONTRACT.md documents, for callers reading the JSON by hand.
      ConnectedAt: connectedAt,
      Identity: { SourceIp: conn.sourceIp, UserAgent: conn.userAgent },
      LastActiveAt: lastActiveAt,
    });
  }
  if (req.method === 'DELETE') {
    conn.socket.close(1000, '');
    res.writeHead(204).end();
    return;
  }
  return reply(res, 405, { message: 'Method Not Allowed' });
}
