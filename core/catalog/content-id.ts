// The identity of an item's content as the catalog records it: a hash of the ids of the blobs
// that hold it (each id is the repository's keyed hash of that blob's plaintext, checked on every
// read), or of the bytes kept inline in the entry. Two versions with the same content id hold the
// same bytes; a restore that reads the item back through the repository delivers exactly the
// content this id names, or fails.
import { createHash } from 'node:crypto';
import type { ItemEntry } from '../../storage/tree.ts';

/** 32 hex digits (128 bits of SHA-256); null for an item without content (a folder, a deletion). */
export function contentIdOf(entry: Pick<ItemEntry, 'content' | 'inline' | 'deleted'>): string | null {
  if (entry.deleted) return null;
  const hash = createHash('sha256');
  if (entry.content?.length) {
    hash.update('blobs\n');
    for (const id of entry.content) hash.update(`${id}\n`);
  } else if (entry.inline !== undefined) {
    hash.update('inline\n').update(entry.inline);
  } else {
    return null;
  }
  return hash.digest('hex').slice(0, 32);
}
