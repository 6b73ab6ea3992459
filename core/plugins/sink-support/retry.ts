// Retries with exponential backoff and full jitter, for sinks that talk to a store over the
// network: throttling (503 SlowDown, 429) and dropped connections are retried; everything else is
// returned at once. Jitter spreads the retries of many concurrent uploads so they do not come back
// in lockstep and get throttled again.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SinkError } from '../sink.ts';

export interface RetryPolicy {
  /** Tries in all, the first included (default 8: about 30 s of waiting at the default delays). */
  attempts?: number;
  /** Ceiling of the first wait; doubles every retry (default 200 ms). */
  baseDelayMs?: number;
  /** Longest single wait (default 10 s). */
  maxDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryPolicy> = { attempts: 8, baseDelayMs: 200, maxDelayMs: 10_000 };

/** The wait before retry number `retry` (1-based): uniform in [0, min(max, base · 2^(retry-1))]. */
export function backoffDelay(retry: number, policy: Required<RetryPolicy>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.round(random() * ceiling);
}

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
