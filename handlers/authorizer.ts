/**
 * Lambda entry for the `$connect` REQUEST authorizer. It needs only the jwt settings (`JWT_*`), not the table: the
 * configuration is read and checked at cold start.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { loadIdentityConfig } from '../core/identity/config.js';
import { createTokenVerifier } from '../core/identity/verify.js';
import { createAuthorizer } from './routes/authorizer.js';

export type { AuthorizerEvent, AuthorizerResult } from './routes/authorizer.js';

export const handler = createAuthorizer({
  verifier: createTokenVerifier(loadIdentityConfig(process.env)),
  logger: new Logger({ serviceName: 'streamgate' }),
});
