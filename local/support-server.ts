/**
 * Serves the support handler on a local port, building the API Gateway HTTP API (payload v2) event it gets in
 * AWS. AWS authorizes staff with IAM; here a bearer token stands in for it.
 */

import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ErrorCode, errorResponse } from '../handlers/lib/responses.js';
import type { SupportEvent } from '../handlers/support.js';
import { boundPort, close, flattenHeaders, hostForUrl, listen, readBody } from './http.js';
import type { LocalSettings } from './settings.js';

type SupportHandler = (event: SupportEvent) => Promise<APIGatewayProxyStructuredResultV2>;

const MAX_BODY_BYTES = 64 * 1024;

export function newAdminToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Compares hashes, so neither the token's length nor its content leaks through timing. */
function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export class SupportServer {
  private readonly server: Server;

  constructor(
    private readonly handler: SupportHandler,
    private readonly adminToken: string,
    private readonly options: Pick<LocalSettings, 'httpPort' | 'host'>,
  ) {
    this.server = createServer((req, res) => void this.serve(req, res));
  }

  get url(): string {
    return `http://${hostForUrl(this.options.host)}:${boundPort(this.server)}`;
  }

  async start(): Promise<this> {
    await listen(this.server, { port: this.options.httpPort, host: this.options.host, label: 'HTTP_PORT' });
    return this;
  }

  async stop(): Promise<void> {
    await close(this.server);
  }

  private async serve(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/health') {
      const auth = req.headers.authorization ?? '';
      const presented = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!presented || !tokenMatches(presented, this.adminToken)) {
        return send(res, errorResponse(401, ErrorCode.UNAUTHORIZED, 'send Authorization: Bearer ADMIN_TOKEN'));
      }
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) {
      return send(res, errorResponse(413, ErrorCode.TOO_LARGE, 'the body is over 64 KB'));
    }
    const now = Date.now();
    const event: SupportEvent = {
      version: '2.0',
      routeKey: '$default',
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers: flattenHeaders(req.headers),
      requestContext: {
        accountId: 'local',
        apiId: 'local',
        domainName: req.headers.host ?? 'localhost',
        domainPrefix: 'localhost',
        http: {
          method: req.method ?? 'GET',
          path: url.pathname,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          userAgent: String(req.headers['user-agent'] ?? ''),
        },
        requestId: randomUUID(),
        routeKey: '$default',
        stage: '$default',
        time: new Date(now).toISOString(),
        timeEpoch: now,
        // Who did it, for the audit log: in AWS this is the caller's IAM identity.
        authorizer: { iam: { userArn: 'local:admin-token' } },
      },
      body: body.length ? body.toString('utf8') : undefined,
      isBase64Encoded: false,
    };
    try {
      send(res, await this.handler(event));
    } catch (error) {
      console.error('[support] handler threw:', error);
      send(res, errorResponse(500, ErrorCode.INTERNAL, 'internal error'));
    }
  }
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2) {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  if (result.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.body);
}
