/** Reading table items into records: counted members and stream claims come from the counter's attribute names. */
import { describe, expect, it } from 'vitest';
import { effectiveLimit, toCounter } from '../../core/store/items.js';
import { counterAttributes } from '../../core/store/schema.js';

describe('counter items', () => {
  it('reads members and stream claims from their attribute names', () => {
    // Prepare
    const item = {
      active: 2,
      [counterAttributes.counted('a')]: 10,
      [counterAttributes.counted('b')]: 20,
      [counterAttributes.stream('movie-1')]: 'b',
    };

    // Act
    const counter = toCounter('u1', item);

    // Assess
    expect(counter.active).toBe(2);
    expect([...counter.counted]).toEqual([
      ['a', 10],
      ['b', 20],
    ]);
    expect([...counter.streams]).toEqual([['movie-1', 'b']]);
  });

  it('reads a user never seen before as counting nothing, under the default limit', () => {
    // Act
    const counter = toCounter('new-user', undefined);

    // Assess
    expect(counter).toMatchObject({ userId: 'new-user', active: 0, limitOverride: undefined });
    expect(effectiveLimit(counter, 3)).toBe(3);
  });

  it('lets a staff override beat the default, including an override of 0', () => {
    // Act + Assess
    expect(effectiveLimit({ limitOverride: 5 }, 3)).toBe(5);
    expect(effectiveLimit({ limitOverride: 0 }, 3)).toBe(0);
  });
});
