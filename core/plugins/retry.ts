// The one retry policy of plugins (sinks and services): how many tries an operation gets in all
// and how long to wait between them — exponential backoff with full jitter, so the retries of
// many concurrent requests do not come back in lockstep and get throttled again. When several
// layers retry one operation (a file's download and the HTTP requests under it), they share one
// RetryBudget, so their tries add up to the policy's attempts instead of multiplying.

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts?: number;
  /** Ceiling of the first wait; doubles every retry. */
  baseDelayMs?: number;
  /** Longest single wait (also caps a server's Retry-After). */
  maxDelayMs?: number;
}

/** The wait before retry number `retry` (1-based): uniform in [0, min(max, base · 2^(retry-1))]. */
export function backoffDelay(retry: number, policy: Required<RetryPolicy>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.round(random() * ceiling);
}

/** The tries one operation has left, shared by every layer that retries it. */
export class RetryBudget {
  #left: number;
  constructor(attempts: number) {
    this.#left = attempts;
  }

  get left(): number {
    return this.#left;
  }

  /** Takes one try; false when none is left. */
  take(): boolean {
    if (this.#left <= 0) return false;
    this.#left -= 1;
    return true;
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
