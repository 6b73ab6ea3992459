// The baseline of bench/blob-index.ts: the repository's blob index as it was before it moved
// to disk (storage/blob-index.ts), entirely in memory. Blob id → where the blob is stored. It is the one
// structure that grows with the repository (about a million blobs per TiB of 1 MiB chunks), so
// it is kept compact: a Map from the id's 32 bytes (as a one-byte string, not 64 hex characters)
// to a slot, and the locations in typed arrays by slot — about 100 bytes a blob on the heap
// instead of ~180 for a Map of hex ids to location objects.

import type { BlobLocation } from '../storage/blob-index.ts';
import type { BlobKind } from '../storage/pack.ts';

const HEX_ID = /^[0-9a-f]{64}$/;
const KINDS: readonly BlobKind[] = ['data', 'tree'];
const MAX_U32 = 0xffffffff;

export class BlobIndex {
  readonly #slots = new Map<string, number>();
  /** Ids or locations that do not fit the compact form (never written by this code; kept exact). */
  readonly #odd = new Map<string, BlobLocation>();
  readonly #packNames: string[] = [];
  readonly #packNumbers = new Map<string, number>();
  #used = 0;
  #packs = new Uint32Array(1024);
  #offsets = new Float64Array(1024);
  #lengths = new Uint32Array(1024);
  #rawLengths = new Uint32Array(1024);
  /** codec in the low 7 bits, kind ('tree' = 1) in the top bit. */
  #codecKinds = new Uint8Array(1024);

  get size(): number {
    return this.#slots.size + this.#odd.size;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  get(id: string): BlobLocation | undefined {
    if (HEX_ID.test(id)) {
      const slot = this.#slots.get(Buffer.from(id, 'hex').toString('latin1'));
      if (slot !== undefined) return this.#location(slot);
    }
    return this.#odd.get(id);
  }

  /** Records where a blob is (a later call for the same id replaces the location). */
  set(id: string, at: BlobLocation): void {
    const kind = KINDS.indexOf(at.kind);
    const compact =
      HEX_ID.test(id) &&
      kind >= 0 &&
      Number.isInteger(at.codec) &&
      at.codec >= 0 &&
      at.codec < 128 &&
      [at.length, at.rawLength].every((n) => Number.isInteger(n) && n >= 0 && n <= MAX_U32) &&
      Number.isSafeInteger(at.offset) &&
      at.offset >= 0;
    if (!compact) {
      // Out of the compact form: an earlier compact entry must not shadow this one (its slot stays unused).
      if (HEX_ID.test(id)) this.#slots.delete(Buffer.from(id, 'hex').toString('latin1'));
      this.#odd.set(id, { ...at });
      return;
    }
    this.#odd.delete(id);
    const key = Buffer.from(id, 'hex').toString('latin1');
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = this.#used++;
      if (slot === this.#packs.length) this.#grow();
      this.#slots.set(key, slot);
    }
    this.#packs[slot] = this.#packNumber(at.pack);
    this.#offsets[slot] = at.offset;
    this.#lengths[slot] = at.length;
    this.#rawLengths[slot] = at.rawLength;
    this.#codecKinds[slot] = at.codec | (kind << 7);
  }

  #location(slot: number): BlobLocation {
    const codecKind = this.#codecKinds[slot] as number;
    return {
      pack: this.#packNames[this.#packs[slot] as number] as string,
      kind: KINDS[codecKind >> 7] as BlobKind,
      offset: this.#offsets[slot] as number,
      length: this.#lengths[slot] as number,
      rawLength: this.#rawLengths[slot] as number,
      codec: codecKind & 0x7f,
    };
  }

  #packNumber(pack: string): number {
    let n = this.#packNumbers.get(pack);
    if (n === undefined) {
      n = this.#packNames.length;
      this.#packNames.push(pack);
      this.#packNumbers.set(pack, n);
    }
    return n;
  }

  #grow(): void {
    const size = this.#packs.length * 2;
    const grown = <T extends Uint32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.#packs = grown(this.#packs, (n) => new Uint32Array(n));
    this.#offsets = grown(this.#offsets, (n) => new Float64Array(n));
    this.#lengths = grown(this.#lengths, (n) => new Uint32Array(n));
    this.#rawLengths = grown(this.#rawLengths, (n) => new Uint32Array(n));
    this.#codecKinds = grown(this.#codecKinds, (n) => new Uint8Array(n));
  }
}
