// Retries for sinks that talk to a store over the network, under the plugins' one retry policy
// (core/plugins/retry.ts): throttling (503 SlowDown, 429) and dropped connections are retried;
// everything else is returned at once.
import { backoffDelay, type RetryPolicy, sleep } from '../retry.ts';
import type { SinkError } from '../sink.ts';

export { backoffDelay, type RetryPolicy } from '../retry.ts';

/** 8 tries: about 30 s of waiting at these delays. */
export const DEFAULT_RETRY: Required<RetryPolicy> = { attempts: 8, baseDelayMs: 200, maxDelayMs: 10_000 };

/**
 * Runs `operation` until it succeeds, throws an error that is not a transient SinkError (after
 * `toSinkError` maps it), or runs out of attempts; then throws the last mapped error.
 */
export async function withRetries<T>(
  operation: (attempt: number) => Promise<T>,
  toSinkError: (err: unknown) => SinkError,
  policy: RetryPolicy = {},
): Promise<T> {
  const p = { ...DEFAULT_RETRY, ...policy };
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (err) {
      const mapped = toSinkError(err);
      if (mapped.kind !== 'transient' || attempt >= p.attempts) throw mapped;
      await sleep(backoffDelay(attempt, p));
    }
  }
}
