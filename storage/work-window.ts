// Runs async work with bounded concurrency, measured in jobs and in a cost such as bytes: small
// files go many at a time, large ones few, so memory stays flat either way.
export class WorkWindow {
  readonly #maxJobs: number;
  readonly #maxCost: number;
  readonly #running = new Map<Promise<unknown>, number>();
  #cost = 0;
  #failure: unknown;

  constructor(maxJobs: number, maxCost: number) {
    this.#maxJobs = maxJobs;
    this.#maxCost = maxCost;
  }

  /** Starts `work` once there is room; rethrows the first failure of any earlier job. */
  async submit(cost: number, work: () => Promise<unknown>): Promise<void> {
    while (this.#running.size > 0 && (this.#running.size >= this.#maxJobs || this.#cost + cost > this.#maxCost)) {
      await Promise.race(this.#running.keys());
    }
    if (this.#failure) throw this.#failure;
    this.#cost += cost;
    const job: Promise<unknown> = work()
      .catch((err) => {
        this.#failure ??= err;
      })
      .finally(() => {
        this.#running.delete(job);
        this.#cost -= cost;
      });
    this.#running.set(job, cost);
  }

  /** Waits for every job; rethrows the first failure. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.race(this.#running.keys());
    if (this.#failure) throw this.#failure;
  }
}
