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
 * Whether the claims say staff. The claim may be a space-separated string (OAuth `scope`), an array (`groups`), or
 * an array as API Gateway's HTTP JWT authorizer flattens it for the handler: `"[viewers support]"`.
 */
export function isStaff(claims: Record<string, unknown>, rule: StaffRule): boolean {
  const claim = ownClaim(claims, rule.claim);
  if (Array.isArray(claim)) return claim.some((c) => c === rule.value);
  if (typeof claim !== 'string') return false;
  const list = claim.startsWith('[') && claim.endsWith(']') ? claim.slice(1, -1) : claim;
  return list.split(/[\s,]+/).includes(rule.value);
}
