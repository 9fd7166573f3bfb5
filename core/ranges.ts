/**
 * The settings the handlers read (core/config.ts) that the local stack (local/settings.ts) and the CDK app
 * (infra/settings.ts) also take: each one's range and default, defined once so the three never disagree.
 */
import { DEFAULT_OPENING_WINDOW_MS, DEFAULT_RESUME_HOLD_MS } from './lifecycle.js';
import { DEFAULT_LEASE_SHARDS, MAX_LEASE_SHARDS } from './store/schema.js';

export interface Range {
  min: number;
  max: number;
  default: number;
  /** whole numbers only */
  integer: boolean;
}

export const RANGES = {
  /** default concurrent streams per user; a staff override may be 0 to the same maximum */
  streamLimit: { min: 1, max: 100, default: 3, integer: true },
  /** how long a connection counts without question before the sweep asks API Gateway about it */
  leaseSeconds: { min: 1, max: 86_400, default: 300, integer: true },
  /** API Gateway closes every socket after 2 hours; a connection older than this is gone for sure */
  maxConnectionSeconds: { min: 1, max: 86_400, default: 7_200, integer: true },
  /** how long a `$connect` keeps trying to admit (races, a slow store) before it gives up with 503 */
  handshakeGraceSeconds: { min: 1, max: 3_600, default: 30, integer: true },
  /**
   * lifecycle.ts, DEFAULT_OPENING_WINDOW_MS. At least a second: the chase and the answer margin need room. At most
   * 20 s: `$connect` must answer within API Gateway's 29 s integration timeout, chases included
   */
  openingWindowSeconds: { min: 1, max: 20, default: DEFAULT_OPENING_WINDOW_MS / 1000, integer: false },
  /**
   * lifecycle.ts, DEFAULT_RESUME_HOLD_MS: how long a `resume` player's dropped stream keeps its slot. At most 5 minutes:
   * a place held for nobody locks the user's other screens out that long
   */
  resumeHoldSeconds: { min: 1, max: 300, default: DEFAULT_RESUME_HOLD_MS / 1000, integer: false },
  /** sharing signals: more distinct networks (/24, /48) than this playing one user's streams at once is a signal */
  sharingNetworks: { min: 1, max: 100, default: 2, integer: true },
  /** sharing signals: more refusals at the limit than this in one day (UTC) is a signal */
  sharingRefusalsPerDay: { min: 1, max: 10_000, default: 20, integer: true },
  /** partitions of the sweep's index */
  leaseShards: { min: 1, max: MAX_LEASE_SHARDS, default: DEFAULT_LEASE_SHARDS, integer: true },
} as const satisfies Record<string, Range>;

/** The staff override of a user's limit: 0 (no streams) to the same maximum as the default. */
export const LIMIT_OVERRIDE_RANGE = { min: 0, max: RANGES.streamLimit.max } as const;

export const rangeText = (r: Range) => `must be a ${r.integer ? 'whole number' : 'number'} from ${r.min} to ${r.max}`;
