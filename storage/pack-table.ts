// Pack ids of the blob index by number: 32 binary bytes each (~65k packs per TiB of 16 MiB
// packs: 2 MiB), not 64-character strings in a Map. Numbers are handed out per run of
// consecutive blobs of one pack (the index is filled pack by pack), so a pack seen again much
// later may get a second number; both name it.

import { isHexId } from './index-record.ts';

const ID_BYTES = 32;
/** Packs recently numbered, to reuse their numbers (blobs of a few packs may interleave). */
const RECENT = 64;

export class PackTable {
  #ids = Buffer.alloc(0);
  #count = 0;
  readonly #recent = new Map<string, number>();

  /** The number of a pack id, or -1 if it is not 64 lowercase hex characters (then not stored). */
  number(pack: string): number {
    const known = this.#recent.get(pack);
    if (known !== undefined) return known;
    if (!isHexId(pack)) return -1;
    if (this.#count * ID_BYTES === this.#ids.length) {
      const grown = Buffer.alloc(Math.max(64 * ID_BYTES, this.#ids.length * 2));
      this.#ids.copy(grown);
      this.#ids = grown;
    }
    const n = this.#count++;
    this.#ids.write(pack, n * ID_BYTES, ID_BYTES, 'hex');
    if (this.#recent.size === RECENT) this.#recent.delete(this.#recent.keys().next().value as string);
    this.#recent.set(pack, n);
    return n;
  }

  id(n: number): string {
    return this.#ids.toString('hex', n * ID_BYTES, (n + 1) * ID_BYTES);
  }
}
