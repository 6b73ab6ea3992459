// Runs async work with bounded concurrency, measured in jobs and in a cost such as bytes: small
// files go many at a time, large ones few, so memory stays flat either way. The one concurrency
// limiter of the project (the repository's reads and writes, a connector's downloads). The first
// job that fails aborts `signal`, so the others can stop early; its error comes out of the next
// submit() or drain().
export class WorkWindow {
  readonly #maxJobs: number;
  readonly #maxCost: number;
  readonly #running = new Map<Promise<unknown>, number>();
  readonly #controller = new AbortController();
  #cost = 0;
  #failure: unknown;

  constructor(maxJobs: number, maxCost = Number.POSITIVE_INFINITY) {
    this.#maxJobs = Math.max(1, maxJobs);
    this.#maxCost = maxCost;
  }

  /** Aborts when a job failed. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Starts `work` once there is room; rethrows the first failure of any earlier job. */
  async submit(cost: number, work: () => Promise<unknown>): Promise<void> {
    if (this.#failure) throw this.#failure;
    while (this.#running.size > 0 && (this.#running.size >= this.#maxJobs || this.#cost + cost > this.#maxCost)) {
      await Promise.race(this.#running.keys());
    }
    if (this.#failure) throw this.#failure;
    this.#cost += cost;
    const job: Promise<unknown> = work()
      .catch((err) => {
        if (this.#failure === undefined) {
          this.#failure = err;
          this.#controller.abort(err);
        }
      })
      .finally(() => {
        this.#running.delete(job);
        this.#cost -= cost;
      });
    this.#running.set(job, cost);
  }

  /** Waits for every job; rethrows the first failure. */
  async drain(): Promise<void> {
    await this.settle();
    if (this.#failure) throw this.#failure;
  }

  /** Waits for every job, whatever happened (before giving up on a run). */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.race(this.#running.keys());
  }
}
