/**
 * `$connect` REQUEST authorizer (identity source: `route.request.querystring.token`; browsers cannot set headers on
 * a WebSocket). A valid token yields an Allow policy and the identity as context, which API Gateway hands to
 * `$connect` as `requestContext.authorizer`; anything else is refused before `$connect` runs.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { InvalidTokenError, type TokenVerifier } from '../../core/identity/verify.js';

/** The WebSocket REQUEST authorizer event (the fields read here; API Gateway sends more). */
export interface AuthorizerEvent {
  type: 'REQUEST';
  methodArn: string;
  queryStringParameters?: Record<string, string | undefined> | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
  requestContext?: { connectionId?: string; routeKey?: string };
}

/** Values reach `$connect` as `requestContext.authorizer.<key>`; API Gateway allows strings, numbers, booleans. */
export interface AuthorizerContext {
  userId: string;
  streamLimit?: number;
  [key: string]: string | number | boolean | undefined;
}

export interface AuthorizerResult {
  principalId: string;
  policyDocument: {
    Version: '2012-10-17';
    Statement: [{ Action: 'execute-api:Invoke'; Effect: 'Allow'; Resource: string }];
  };
  context: AuthorizerContext;
}

export type Authorizer = (event: AuthorizerEvent) => Promise<AuthorizerResult>;

/** API Gateway answers 401 only for this exact message; any other failure becomes a 500. */
export const UNAUTHORIZED = 'Unauthorized';

export function createAuthorizer(deps: {
  verifier: TokenVerifier;
  logger: Pick<Logger, 'info' | 'error'>;
}): Authorizer {
  return async (event) => {
    const connectionId = event.requestContext?.connectionId;
    // A second `token=` would let a proxy and the authorizer disagree about which one counts.
    if ((event.multiValueQueryStringParameters?.token?.length ?? 0) > 1) {
      deps.logger.info('connect refused', { connectionId, problem: 'ambiguous' });
      throw new Error(UNAUTHORIZED);
    }
    try {
      const identity = await deps.verifier.verify(event.queryStringParameters?.token);
      return {
        principalId: identity.userId,
        policyDocument: {
          Version: '2012-10-17',
          Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
        },
        context: {
          userId: identity.userId,
          ...(identity.streamLimit === undefined ? {} : { streamLimit: identity.streamLimit }),
        },
      };
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        // The reason is for operators; the token itself is a credential and is never logged.
        deps.logger.info('connect refused', { connectionId, problem: error.problem });
        throw new Error(UNAUTHORIZED);
      }
      // Keys unavailable or a bug: fail closed, and let API Gateway answer 500 rather than blame the player.
      deps.logger.error('authorizer failed', { connectionId, error: error as Error });
      throw error;
    }
  };
}
