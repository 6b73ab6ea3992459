// How long the stand-in had at least one API call open (wall time, overlapping calls counted
// once): set against a run's whole time, it tells whether the run waited on the API or on itself.
export class BusyClock {
  #open = 0;
  #since = 0;
  #busy = 0;

  enter(): void {
    if (this.#open++ === 0) this.#since = performance.now();
  }

  leave(): void {
    if (--this.#open === 0) this.#busy += performance.now() - this.#since;
  }

  /** Milliseconds with a call open, so far. */
  get busyMs(): number {
    return this.#busy + (this.#open > 0 ? performance.now() - this.#since : 0);
  }

  reset(): void {
    this.#busy = 0;
    if (this.#open > 0) this.#since = performance.now();
  }
}
