/** A scripted history of counter writes for the usage tests: what each write changes, as the table's stream says it. */
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { TableChange } from '../../core/events/changes.js';
import type { CloseReason, ConnectionRecord } from '../../core/store/items.js';
import { keys } from '../../core/store/schema.js';

/** The users' counters and connections as the table would hold them, and the changes their writes make. */
export class Script {
  /** past 20 digits partway through: sequences of both lengths are compared as numbers */
  private sequence = 99_999_999_999_999_999_995n;
  private readonly counters = new Map<string, Map<string, number>>();
  readonly connections = new Map<string, ConnectionRecord>();

  /** One counter write: `ends` uncounted (their items closed for that reason), `admits` counted, at `time`. */
  change(userId: string, time: number, ends: Array<[string, CloseReason]>, admits: string[] = []): TableChange {
    const members = this.counters.get(userId) ?? new Map<string, number>();
    const image = () => ({
      ...keys.counter(userId),
      active: members.size,
      ...Object.fromEntries([...members].map(([id, t]) => [`c:${id}`, [t, t + 5_000]])),
    });
    const old = image();
    for (const [id, reason] of ends) {
      const c = this.connections.get(id)!;
      this.connections.set(id, { ...c, state: 'closed', closedAt: time, closeReason: reason });
      members.delete(id);
    }
    for (const id of admits) {
      members.set(id, time);
      this.connections.set(id, {
        connectionId: id,
        userId,
        connectedAt: time,
        lastSeenAt: time,
        leaseExpiresAt: time + 60_000,
        state: 'open',
      });
    }
    this.counters.set(userId, members);
    this.sequence += 1n;
    return { sequence: this.sequence.toString(), keys: keys.counter(userId), old, new: image(), at: time };
  }
}

/**
 * `client`, but a transaction for which `lose()` says so goes through and its answer is lost, as when the processor
 * dies mid-write: the caller sees it fail although the table took it.
 */
export function losingTransactionAnswers(client: DynamoDBDocumentClient, lose: () => boolean): DynamoDBDocumentClient {
  return new Proxy(client, {
    get(target, name, receiver) {
      if (name !== 'send') return Reflect.get(target, name, receiver);
      return async (command: unknown) => {
        const answer = await target.send(command as never);
        if (command instanceof TransactWriteCommand && lose()) throw new Error('processor killed');
        return answer;
      };
    },
  });
}
