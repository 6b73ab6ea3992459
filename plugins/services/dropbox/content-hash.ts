// Dropbox's content_hash (SHA-256 of the SHA-256s of each 4 MiB block), computed while content
// streams through, so a download is checked against the hash its metadata names.
import { createHash, type Hash } from 'node:crypto';

const BLOCK = 4 * 1024 * 1024;

export class ContentHasher {
  readonly #overall: Hash = createHash('sha256');
  #block: Hash = createHash('sha256');
  #filled = 0;

  update(data: Uint8Array): void {
    for (let at = 0; at < data.byteLength; ) {
      const take = Math.min(BLOCK - this.#filled, data.byteLength - at);
      this.#block.update(data.subarray(at, at + take));
      this.#filled += take;
      at += take;
      if (this.#filled === BLOCK) this.#next();
    }
  }

  digest(): string {
    if (this.#filled > 0) this.#next();
    return this.#overall.digest('hex');
  }

  #next(): void {
    this.#overall.update(this.#block.digest());
    this.#block = createHash('sha256');
    this.#filled = 0;
  }
}

/** Passes the bytes on; at the end throws if they do not have the expected content_hash. */
export async function* verified(
  body: AsyncIterable<Uint8Array>,
  expected: string | undefined,
): AsyncIterable<Uint8Array> {
  const hasher = new ContentHasher();
  for await (const chunk of body) {
    hasher.update(chunk);
    yield chunk;
  }
  const actual = hasher.digest();
  if (expected && actual !== expected)
    throw new Error(`the downloaded content does not match its content_hash (${actual} ≠ ${expected})`);
}
