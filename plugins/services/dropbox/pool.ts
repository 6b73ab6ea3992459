// At most `limit` tasks at once. The first task that throws stops the rest (through `signal`),
// and its error comes out of the next submit() or drain().
export class Pool {
  readonly #limit: number;
  readonly #running = new Set<Promise<void>>();
  readonly #controller = new AbortController();
  #failure: { error: unknown } | undefined;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Aborts when a task failed. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  async submit(task: () => Promise<void>): Promise<void> {
    this.#throwIfFailed();
    while (this.#running.size >= this.#limit) await Promise.race(this.#running);
    this.#throwIfFailed();
    const running: Promise<void> = task()
      .catch((error: unknown) => {
        if (!this.#failure) {
          this.#failure = { error };
          this.#controller.abort(error);
        }
      })
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  /** Waits for every task; throws the first failure. */
  async drain(): Promise<void> {
    while (this.#running.size) await Promise.race(this.#running);
    this.#throwIfFailed();
  }

  /** Waits for every task, whatever happened (before giving up on a run). */
  async settle(): Promise<void> {
    while (this.#running.size) await Promise.race(this.#running);
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
