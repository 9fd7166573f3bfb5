/**
 * jwt mode on one machine: who issues tokens and how they are verified. By default the stack is its own issuer
 * (`streamgate-local`, audience `streamgate`) with the local signing key; with `JWT_ISSUER` and friends set it trusts
 * another issuer instead. Either way the settings go through the same checks as the Lambda authorizer's environment.
 */
import type { JSONWebKeySet } from 'jose';
import type { StaffRule } from '../core/identity/claims.js';
import { loadIdentityConfig } from '../core/identity/config.js';
import { createTokenVerifier, type TokenVerifier } from '../core/identity/verify.js';
import type { LocalSettings } from './settings.js';
import {
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  type LocalSigningKey,
  loadOrCreateSigningKey,
  publicKeySet,
  signingKeyPath,
} from './signing-key.js';

export interface LocalIdentity {
  verifier: TokenVerifier;
  staff: StaffRule;
  /** the claim holding a user's plan limit */
  limitClaim: string;
  /** the public keys served at `/.well-known/jwks.json`; only when the stack is its own issuer */
  jwks?: JSONWebKeySet;
  /** the key tokens are signed with; only when the stack is its own issuer */
  signingKey?: LocalSigningKey;
}

type IdentitySettings = Pick<
  LocalSettings,
  | 'dataDir'
  | 'signingKeyFile'
  | 'signingKeyAlgorithm'
  | 'jwtIssuer'
  | 'jwtAudience'
  | 'jwtJwksUrl'
  | 'jwtPublicKey'
  | 'jwtLimitClaim'
  | 'jwtStaffClaim'
  | 'jwtStaffValue'
>;

/** `signingKey` (tests) is used as is; otherwise the key file is read, or made on first start. */
export async function localIdentity(settings: IdentitySettings, signingKey?: LocalSigningKey): Promise<LocalIdentity> {
  const claims = {
    JWT_LIMIT_CLAIM: settings.jwtLimitClaim,
    JWT_STAFF_CLAIM: settings.jwtStaffClaim,
    JWT_STAFF_VALUE: settings.jwtStaffValue,
  };
  const external = [settings.jwtIssuer, settings.jwtAudience, settings.jwtJwksUrl, settings.jwtPublicKey].some(
    (v) => v !== undefined,
  );
  if (external) {
    const options = loadIdentityConfig({
      JWT_ISSUER: settings.jwtIssuer,
      JWT_AUDIENCE: settings.jwtAudience,
      JWT_JWKS_URL: settings.jwtJwksUrl,
      JWT_PUBLIC_KEY: settings.jwtPublicKey,
      ...claims,
    });
    return { verifier: createTokenVerifier(options), staff: options.staff!, limitClaim: options.limitClaim! };
  }
  const key =
    signingKey ??
    (
      await loadOrCreateSigningKey(
        signingKeyPath({ SIGNING_KEY_FILE: settings.signingKeyFile, DATA_DIR: settings.dataDir }),
        settings.signingKeyAlgorithm,
      )
    ).key;
  const jwks = publicKeySet(key);
  const options = loadIdentityConfig({
    JWT_ISSUER: LOCAL_ISSUER,
    JWT_AUDIENCE: LOCAL_AUDIENCE,
    JWT_PUBLIC_KEY: JSON.stringify(jwks),
    ...claims,
  });
  return {
    verifier: createTokenVerifier(options),
    staff: options.staff!,
    limitClaim: options.limitClaim!,
    jwks,
    signingKey: key,
  };
}
