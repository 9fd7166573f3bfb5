/**
 * The connections' items the processor has seen in the table's stream lately, so the networks sign (signals.ts) reads
 * a user's other streams from memory rather than from the table: each was admitted in an earlier batch, whose images
 * showed its item. Bounded, oldest forgotten first; a connection not remembered is read, as before. An item's network
 * never changes, and the counter (not this) says which streams are counted: a remembered state may lag, a network not.
 */
import type { ConnectionRecord } from '../store/items.js';

const DEFAULT_CAPACITY = 50_000;

export class RememberedConnections {
  private readonly items = new Map<string, ConnectionRecord>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  /** Remembers `connections`, each as its latest image, as the newest. */
  add(connections: ReadonlyMap<string, ConnectionRecord>): void {
    for (const [id, record] of connections) {
      this.items.delete(id);
      this.items.set(id, record);
    }
    for (const id of this.items.keys()) {
      if (this.items.size <= this.capacity) break;
      this.items.delete(id);
    }
  }

  get(connectionId: string): ConnectionRecord | undefined {
    return this.items.get(connectionId);
  }

  get size(): number {
    return this.items.size;
  }
}
