/** What happens when a user already holding their limit opens one more stream. */
export const LIMIT_POLICIES = ['block-new', 'evict-oldest'] as const;

/**
 * `block-new`: the new stream is refused (429) and the ones playing keep playing. `evict-oldest`: the user's least
 * recently active stream is ended (`ended` reason `evicted`) and the new one admitted in its place.
 */
export type LimitPolicy = (typeof LIMIT_POLICIES)[number];

export const DEFAULT_LIMIT_POLICY: LimitPolicy = 'block-new';
