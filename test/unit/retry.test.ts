import { describe, expect, it } from 'vitest';
import { RetryableError, retryWithBackoff } from '../../core/retry.js';

describe('retryWithBackoff', () => {
  it('retries retryable failures until one succeeds', async () => {
    let calls = 0;
    const result = await retryWithBackoff(
      async () => {
        calls++;
        if (calls < 3) throw new RetryableError('conflict');
        return 'done';
      },
      { baseMs: 1 },
    );

    expect([result, calls]).toEqual(['done', 3]);
  });

  it('gives up after the bounded number of attempts', async () => {
    let calls = 0;
    const failing = retryWithBackoff(
      async () => {
        calls++;
        throw new RetryableError('conflict');
      },
      { attempts: 4, baseMs: 1 },
    );

    await expect(failing).rejects.toBeInstanceOf(RetryableError);
    expect(calls).toBe(4);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    const failing = retryWithBackoff(async () => {
      calls++;
      throw new TypeError('bug');
    });

    await expect(failing).rejects.toBeInstanceOf(TypeError);
    expect(calls).toBe(1);
  });
});
