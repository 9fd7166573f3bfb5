/**
 * What the service reads from a verified token's claims, without the verifier (and its crypto library): the staff rule
 * the support handler applies to the claims its API Gateway authorizer passes on, and the defaults.
 */
import * as z from '../zod.js';

export interface StaffRule {
  /** claim holding the caller's scopes or groups: a space-separated string (`scope`) or an array (`groups`) */
  claim: string;
  /** the value in that claim that makes the caller staff */
  value: string;
}

export const IDENTITY_DEFAULTS = {
  clockSkewSeconds: 30,
  limitClaim: 'streams',
  staff: { claim: 'scope', value: 'streamgate:staff' } satisfies StaffRule,
} as const;

/** A claim name: plain, so that `__proto__`-like names and paths cannot be configured. */
export const ClaimName = z
  .string()
  .check(z.regex(/^[A-Za-z][A-Za-z0-9_:.-]{0,63}$/, 'a claim name (letters, digits, _ : . -)'));
/** One scope or group name. */
export const StaffValue = z.string().check(z.regex(/^\S{1,128}$/, 'one word'));

/** Own properties only: a claim named `__proto__` or `constructor` must not reach into the prototype. */
export function ownClaim(claims: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(claims, name) ? claims[name] : undefined;
}

/**
 * The words of a scope or group claim: a list, a space-separated string (OAuth 2.0's `scope`: scope tokens separated
 * by single spaces; commas are part of a token, never separators), or a list as API Gateway's HTTP JWT authorizer
 * hands it to the handler, flattened to `"[a b]"` (`flattened`: the claims of a Lambda event, where every claim is a
 * string).
 */
function wordsOf(value: unknown, flattened: boolean): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value !== 'string') return [];
  const list = flattened && value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  return list.split(' ').filter((word) => word !== '');
}

/**
 * Whether the claims say staff. For the `scope` rule, the token's scopes as API Gateway's JWT authorizer reads them
 * for a route's authorization scopes: the `scope` claim and the `scp` claim (Okta, Entra ID), each a space-separated
 * string or a list. Another claim (`groups`, `cognito:groups`) is read as a list or a space-separated string.
 *
 * `flattened`: the claims come from API Gateway's event (`requestContext.authorizer.jwt.claims`), where a list claim
 * arrives as `"[a b]"`. A string claim spelled with brackets reads the same there; in AWS the authorizer has refused
 * such a token before the handler runs (its scope is not the staff scope), as the local stack's emulation does.
 */
export function isStaff(claims: Record<string, unknown>, rule: StaffRule, { flattened = false } = {}): boolean {
  const names = rule.claim === 'scope' ? ['scope', 'scp'] : [rule.claim];
  return names.some((name) => wordsOf(ownClaim(claims, name), flattened).includes(rule.value));
}
