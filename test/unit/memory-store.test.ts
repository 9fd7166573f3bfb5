/** The in-memory store (what the core's unit and model tests run on) held to the store contract. */
import type { MemoryState } from '../../core/store/memory/state.js';
import { MemoryStreamStore } from '../../core/store/memory/store.js';
import { describeStoreContract } from '../support/store-contract/index.js';

describeStoreContract(
  'memory',
  () => {
    const store = new MemoryStreamStore();
    // The port cannot lose an item; TTL or a hand can. The state is private to the store: reached here only.
    const state = (store as unknown as { state: MemoryState }).state;
    return {
      store,
      dropItem: async (connectionId) => {
        state.connections.delete(connectionId);
      },
    };
  },
  { propertyRuns: 1000, propertySteps: 16 },
);
