/** What happens when a user already holding their limit opens one more stream. */
export const LIMIT_POLICIES = ['block-new', 'evict-oldest'] as const;

/**
 * `block-new`: the new stream is refused (429) and the ones playing keep playing. `evict-oldest`: the user's least
 * recently active stream is ended (`ended` reason `evicted`) and the new one admitted in its place.
 */
export type LimitPolicy = (typeof LIMIT_POLICIES)[number];

export const DEFAULT_LIMIT_POLICY: LimitPolicy = 'block-new';

export function isLimitPolicy(value: unknown): value is LimitPolicy {
  return (LIMIT_POLICIES as readonly unknown[]).includes(value);
}

/** The policy in force for a user: the staff-set one when there is one, else the service's. */
export function effectivePolicy(
  counter: { policyOverride?: LimitPolicy },
  defaultPolicy: LimitPolicy = DEFAULT_LIMIT_POLICY,
): LimitPolicy {
  return counter.policyOverride ?? defaultPolicy;
}
