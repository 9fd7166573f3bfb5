import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { localClientConfig } from './aws-local.js';
import type { ConnectionGateway } from './ports.js';

export function createManagementClient(endpoint: string): ApiGatewayManagementApiClient {
  const local = !endpoint.startsWith('https://');
  return new ApiGatewayManagementApiClient({
    endpoint,
    maxAttempts: 2,
    // Reclaims probe several connections at once; locally, one process serves every connection.
    requestHandler: { httpAgent: { maxSockets: 256 }, httpsAgent: { maxSockets: 256 } },
    ...(local ? localClientConfig(endpoint) : {}),
  });
}

export class ApiGatewayConnections implements ConnectionGateway {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async probe(connectionId: string) {
    return goneOr(this.client.send(new GetConnectionCommand({ ConnectionId: connectionId })), 'alive' as const);
  }

  async lastActive(connectionId: string): Promise<number | 'gone'> {
    try {
      const out = await this.client.send(new GetConnectionCommand({ ConnectionId: connectionId }));
      // Never missing in API Gateway's answers; should it be, the connection counts as active now (never evicted first).
      return out.LastActiveAt?.getTime() ?? Date.now();
    } catch (error) {
      if (error instanceof GoneException) return 'gone';
      throw error;
    }
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
