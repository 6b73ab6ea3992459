// A background pass run on a timer (the notification, webhook and integration senders): every
// `intervalMs` and once at start, never two at once; a failed pass is logged and the next runs.
export interface PassLoop {
  stop(): void;
  /** The pass under way (or the last one): a graceful stop waits for it. */
  current(): Promise<void>;
}

export function startPassLoop(
  pass: () => Promise<unknown>,
  onError: (err: unknown) => void,
  intervalMs: number,
): PassLoop {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const tick = () => {
    if (busy) return;
    busy = true;
    running = pass()
      .then(() => undefined)
      .catch(onError)
      .finally(() => {
        busy = false;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return { stop: () => clearInterval(timer), current: () => running };
}

/**
 * Runs one round of background work that one node of a cluster does at a time (the composition
 * root builds it from core/scheduler/singleton.ts): 'skipped' when another node holds the round's
 * lease. The round gets the mark the last holder left and may leave one.
 */
export type RoundGuard = (
  round: (mark: string | undefined) => Promise<{ mark?: string } | undefined>,
) => Promise<'ran' | 'skipped'>;

/** One process (SQLite, tests): every round runs. */
export const unguarded: RoundGuard = async (round) => {
  await round(undefined);
  return 'ran';
};
