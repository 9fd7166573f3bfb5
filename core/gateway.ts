import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';

/** What the core needs from API Gateway's `@connections` API. */
export interface ConnectionGateway {
  /** 'gone' when API Gateway no longer knows the connection (410). */
  probe(connectionId: string): Promise<'alive' | 'gone'>;
  /** Closes the socket; 'gone' when it was already closed. */
  disconnect(connectionId: string): Promise<'closed' | 'gone'>;
  send(connectionId: string, message: unknown): Promise<'sent' | 'gone'>;
}

export function createManagementClient(endpoint: string): ApiGatewayManagementApiClient {
  const local = !endpoint.startsWith('https://');
  return new ApiGatewayManagementApiClient({
    endpoint,
    maxAttempts: 2,
    // Reclaims probe several connections at once; locally, one process serves every connection.
    requestHandler: { httpAgent: { maxSockets: 256 }, httpsAgent: { maxSockets: 256 } },
    ...(local
      ? {
          region: process.env.AWS_REGION ?? 'local',
          // The local emulator does not check signatures; placeholders, not secrets.
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }
      : {}),
  });
}

export class ApiGatewayConnections implements ConnectionGateway {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async probe(connectionId: string) {
    return goneOr(this.client.send(new GetConnectionCommand({ ConnectionId: connectionId })), 'alive' as const);
  }

  async disconnect(connectionId: string) {
    return goneOr(this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId })), 'closed' as const);
  }

  async send(connectionId: string, message: unknown) {
    const Data = new TextEncoder().encode(JSON.stringify(message));
    return goneOr(this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data })), 'sent' as const);
  }
}

async function goneOr<T>(call: Promise<unknown>, ok: T): Promise<T | 'gone'> {
  try {
    await call;
    return ok;
  } catch (error) {
    if (error instanceof GoneException) return 'gone';
    throw error;
  }
}
