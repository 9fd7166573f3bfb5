/**
 * The invariants every interleaving must leave behind, read from both sides: the sockets API Gateway (the emulator)
 * holds open, and the store. Used after bursts, kicks, takeovers and faults.
 */
import type { StreamStore } from '../../core/store/port.js';
import type { LocalStack } from '../../local/stack.js';

/**
 * How long the race tests give closes already decided to reach their sockets (a DeleteConnection in flight, the close
 * handshake, the `$disconnect` it sets off) before the oracle looks. Not a lifecycle bound (core/lifecycle.ts holds
 * those): everything it waits for was decided already.
 */
export const CLOSES_IN_FLIGHT_MS = 1_500;

export interface Violation {
  userId?: string;
  connectionId?: string;
  problem: string;
}

/**
 * Checks that no user has more open sockets than `limit`, that every open socket's item is open and counted by its
 * user's counter, and that each counter's `active` equals its members, for `users` (other users' sockets are left
 * alone: tests share a stack; only an open socket with no item at all is reported whoever it belongs to). Returns the
 * violations (empty when all hold).
 */
export async function invariantViolations(
  stack: LocalStack,
  store: StreamStore,
  options: { limit: number; users: string[] },
): Promise<Violation[]> {
  const violations: Violation[] = [];
  const openByUser = new Map<string, string[]>(options.users.map((u) => [u, []]));
  for (const connectionId of stack.emulator.openConnectionIds()) {
    const item = await store.getConnection(connectionId);
    if (!item) {
      violations.push({ connectionId, problem: 'open socket without an item' });
      continue;
    }
    // Another test's user may be tearing down meanwhile: its counter, read after this list, would not match it.
    if (!openByUser.has(item.userId)) continue;
    if (item.state !== 'open')
      violations.push({ userId: item.userId, connectionId, problem: `open socket, item closed (${item.closeReason})` });
    openByUser.get(item.userId)!.push(connectionId);
  }
  for (const [userId, open] of openByUser) {
    const counter = await store.getCounter(userId);
    if (open.length > options.limit)
      violations.push({ userId, problem: `${open.length} open sockets, limit ${options.limit}` });
    for (const connectionId of open)
      if (!counter.counted.has(connectionId))
        violations.push({ userId, connectionId, problem: 'open socket not counted' });
    if (counter.active !== counter.counted.size)
      violations.push({ userId, problem: `active ${counter.active}, members ${counter.counted.size}` });
  }
  return violations;
}

/**
 * For tests that run many trials and report every failure at the end: the user's violations after trial `trial`, as
 * failure lines (none when the invariants hold).
 */
export async function trialViolations(
  stack: LocalStack,
  store: StreamStore,
  options: { limit: number; userId: string; trial: number },
): Promise<string[]> {
  const violations = await invariantViolations(stack, store, { limit: options.limit, users: [options.userId] });
  return violations.length > 0 ? [`trial ${options.trial}: ${JSON.stringify(violations)}`] : [];
}
