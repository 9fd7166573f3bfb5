/**
 * Lambda entry for the `$connect` REQUEST authorizer. It needs only the jwt settings (`JWT_*`), not the table: the
 * configuration is read and checked at cold start.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { loadIdentityConfig } from '../core/identity/config.js';
import { createTokenVerifier } from '../core/identity/verify.js';
import { lambdaEntry } from './lib/lambda.js';
import { RefusalReason, SERVICE_NAME } from './lib/metric-names.js';
import { emfMetrics } from './lib/metrics.js';
import { type AuthorizerEvent, createAuthorizer, UNAUTHORIZED } from './routes/authorizer.js';

export type { AuthorizerEvent, AuthorizerResult } from './routes/authorizer.js';

const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = emfMetrics();
const authorize = createAuthorizer({ verifier: createTokenVerifier(loadIdentityConfig(process.env)), logger });

export const handler = lambdaEntry(
  { loggers: [logger], metrics },
  async (event: AuthorizerEvent) => {
    try {
      return await authorize(event);
    } catch (error) {
      // A refused token never reaches `$connect`, so it is counted here.
      if (error instanceof Error && error.message === UNAUTHORIZED) metrics.refused(RefusalReason.unauthorized);
      throw error;
    }
  },
  (event) => ({ connectionId: event.requestContext?.connectionId }),
);
