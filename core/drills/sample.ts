// A uniform random sample of a stream of items (reservoir sampling): memory holds the sample
// only, however many items the snapshots have.
export class Reservoir<T> {
  readonly #size: number;
  readonly #random: () => number;
  readonly items: T[] = [];
  #seen = 0;

  constructor(size: number, random: () => number = Math.random) {
    this.#size = size;
    this.#random = random;
  }

  offer(item: T): void {
    this.#seen++;
    if (this.items.length < this.#size) {
      this.items.push(item);
      return;
    }
    const at = Math.floor(this.#random() * this.#seen);
    if (at < this.#size) this.items[at] = item;
  }

  get seen(): number {
    return this.#seen;
  }
}
