/** What a viewer is told: why a stream ended (the `ended` frame's reason) and what happens at the limit, in words. */
import type { EndedReason, LimitPolicy } from './types.js';

const ENDED_WORDS: Record<EndedReason, (device: string | null) => string> = {
  takenOver: (device) => `taken over by ${device ?? 'another device'} (same stream id)`,
  kicked: () => 'ended by support staff',
  endedByUser: () => 'ended from your list of streams',
  evicted: (device) => `ended to make room for ${device ?? 'a new stream'}`,
  uncounted: () => 'ended: the service did not count it',
  idle: () => 'ended after 10 minutes without activity',
  maxDuration: () => 'ended after 2 hours (reconnect to keep watching)',
};

export function endedWords(reason: string, device: string | null): string {
  return Object.hasOwn(ENDED_WORDS, reason) ? ENDED_WORDS[reason as EndedReason](device) : `ended (${reason})`;
}

const POLICY_WORDS: Record<LimitPolicy, string> = {
  'block-new': 'at your limit, a new stream is refused',
  'evict-oldest': 'at your limit, your least recently watched stream ends to make room for a new one',
};

export function policyWords(policy: string): string {
  return Object.hasOwn(POLICY_WORDS, policy) ? POLICY_WORDS[policy as LimitPolicy] : `at your limit: ${policy}`;
}
