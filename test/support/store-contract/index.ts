/**
 * The store contract (core/store/port.ts): every operation of `StreamStore`, every outcome and the conditions that
 * decide between them, declared once and run against each store (test/unit/memory-store.test.ts in memory,
 * test/integration/dynamodb-store.test.ts on DynamoDB Local), so both give the same answers to the core.
 *
 * Where the port leaves a case open and the two stores answer differently, the DynamoDB store's answer is the
 * contract (it is what runs): those tests say so in their name, `(DynamoDB semantics)`, and in a comment.
 *
 * Every test gets a store of its own from `makeStore` (an empty one: the sweep's cursor and index are global), and
 * uses fresh random user and connection ids besides, so that idempotency tokens never meet across tests.
 */
import { beforeEach, describe } from 'vitest';
import { admitContract } from './admit.js';
import { endingsContract } from './endings.js';
import { evictContract } from './evict.js';
import { type ContractOptions, type ContractState, freshId, makeClock, type StoreUnderTest } from './fixtures.js';
import { ghostsContract } from './ghosts.js';
import { readsAndStaffContract } from './reads-and-staff.js';
import { sequenceContract } from './sequences.js';
import { takeOverContract } from './take-over.js';

export type { ContractOptions, StoreUnderTest } from './fixtures.js';

export function describeStoreContract(
  name: string,
  makeStore: () => StoreUnderTest | Promise<StoreUnderTest>,
  options: ContractOptions,
): void {
  describe(`${name} store contract`, () => {
    let state: ContractState;
    beforeEach(async () => {
      const { store, dropItem } = await makeStore();
      state = { store, dropItem, clock: makeClock(), userId: freshId('u') };
    });
    const current = () => state;

    admitContract(current);
    takeOverContract(current);
    evictContract(current);
    endingsContract(current);
    ghostsContract(current);
    readsAndStaffContract(current);
    sequenceContract(current, options);
  });
}
