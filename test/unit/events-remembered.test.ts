/** The processor's memory of connections seen in the stream (core/events/remembered.ts): bounded, newest kept. */
import { describe, expect, it } from 'vitest';
import { RememberedConnections } from '../../core/events/remembered.js';
import type { ConnectionRecord } from '../../core/store/items.js';

const record = (connectionId: string, device = 'tv'): ConnectionRecord => ({
  connectionId,
  userId: 'u',
  device,
  connectedAt: 1,
  lastSeenAt: 1,
  leaseExpiresAt: 2,
  state: 'open',
});

describe('When the processor remembers connections', () => {
  it('keeps the latest image of each and forgets the oldest past its capacity', () => {
    // Prepare
    const remembered = new RememberedConnections(3);

    // Act
    remembered.add(
      new Map([
        ['a', record('a')],
        ['b', record('b')],
      ]),
    );
    remembered.add(new Map([['a', record('a', 'phone')]]));
    remembered.add(
      new Map([
        ['c', record('c')],
        ['d', record('d')],
      ]),
    );

    // Assess: `b` was the oldest once `a` was seen again
    expect(remembered.size).toBe(3);
    expect(remembered.get('b')).toBeUndefined();
    expect(remembered.get('a')?.device).toBe('phone');
    expect(remembered.get('d')?.connectionId).toBe('d');
  });
});
