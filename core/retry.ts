/** Marks a failure worth another try; anything else ends the retries at once. */
export class RetryableError extends Error {
  override name = 'RetryableError';
  constructor(
    cause: unknown,
    /** why it is worth another try, for whoever counts retries */
    readonly reason?: string,
  ) {
    super('retryable failure', { cause });
  }
}

export interface BackoffOptions {
  attempts?: number;
  baseMs?: number;
  capMs?: number;
  /** told before each pause, with the failure that is being retried */
  onRetry?: (error: RetryableError) => void;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Retries `fn` while it throws RetryableError, sleeping a "full jitter" backoff in between so that writers
 * contending for one user's counter spread out instead of colliding again in lockstep.
 */
export async function retryWithBackoff<T>(fn: () => Promise<T>, options: BackoffOptions = {}): Promise<T> {
  const { attempts = 10, baseMs = 10, capMs = 500, onRetry } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof RetryableError) || attempt >= attempts) throw error;
      onRetry?.(error);
      await sleep(Math.random() * Math.min(capMs, baseMs * 2 ** attempt));
    }
  }
}
