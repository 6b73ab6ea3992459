// Dropbox's content_hash, written from its public definition (not taken from the SDK, so tests can
// compare the two): split the content into 4 MiB blocks, SHA-256 each block, concatenate the
// binary digests and SHA-256 that; hex-encoded. Empty content has no blocks: SHA-256 of nothing.
import { createHash, type Hash } from 'node:crypto';

export const BLOCK_SIZE = 4 * 1024 * 1024;

export class ContentHasher {
  readonly #overall: Hash = createHash('sha256');
  #block: Hash = createHash('sha256');
  #filled = 0;

  update(data: Uint8Array): this {
    let at = 0;
    while (at < data.byteLength) {
      const take = Math.min(BLOCK_SIZE - this.#filled, data.byteLength - at);
      this.#block.update(data.subarray(at, at + take));
      this.#filled += take;
      at += take;
      if (this.#filled === BLOCK_SIZE) this.#finishBlock();
    }
    return this;
  }

  digest(): string {
    if (this.#filled > 0) this.#finishBlock();
    return this.#overall.digest('hex');
  }

  #finishBlock(): void {
    this.#overall.update(this.#block.digest());
    this.#block = createHash('sha256');
    this.#filled = 0;
  }
}

export function contentHash(data: Uint8Array): string {
  return new ContentHasher().update(data).digest();
}
