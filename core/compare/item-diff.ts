// The difference of two snapshots of an entity, item by item: both item lists (sorted by key) are
// walked together, so memory holds one cursor per side. Whether a key's two versions hold the
// same content is decided from the item entries alone (their blob ids or inline bytes) when both
// sides live in one repository: unchanged items are never read. Only the keys whose entries differ
// are handed on as "changed candidates"; the caller reads their content to tell what changed.
import type { ItemEntry } from '../../storage/tree.ts';

export type ItemDifference =
  | { key: string; side: 'left'; left: ItemEntry }
  | { key: string; side: 'right'; right: ItemEntry }
  | { key: string; side: 'both'; left: ItemEntry; right: ItemEntry };

export interface DiffCounts {
  left: number;
  right: number;
}

/**
 * Whether two entries name the same content: true or false from the entries, or undefined when
 * they cannot tell (blob ids of two repositories: each repository keys its own ids).
 */
export function sameContent(a: ItemEntry, b: ItemEntry, oneRepository: boolean): boolean | undefined {
  if (a.size !== b.size) return false;
  if (a.inline !== undefined || b.inline !== undefined) {
    if (a.inline !== undefined && b.inline !== undefined) return a.inline === b.inline;
    // Kept inline on one side and in blobs on the other: only the bytes can tell.
    return undefined;
  }
  if (!oneRepository) return undefined;
  const x = a.content ?? [];
  const y = b.content ?? [];
  return x.length === y.length && x.every((id, i) => id === y[i]);
}

/**
 * Keys only on the left, only on the right, and on both sides with content that is not known to
 * be the same (`side: 'both'`), in key order; `counts` holds every item seen on each side.
 */
export async function* diffItems(
  left: AsyncIterable<ItemEntry>,
  right: AsyncIterable<ItemEntry>,
  options: { oneRepository: boolean; counts: DiffCounts; signal?: AbortSignal },
): AsyncGenerator<ItemDifference> {
  const a = left[Symbol.asyncIterator]();
  const b = right[Symbol.asyncIterator]();
  const { counts } = options;
  let x = await a.next();
  let y = await b.next();
  let seen = 0;
  while (!x.done || !y.done) {
    if (++seen % 1024 === 0) options.signal?.throwIfAborted();
    if (y.done || (!x.done && x.value.key < y.value.key)) {
      const item = x.value as ItemEntry;
      counts.left++;
      yield { key: item.key, side: 'left', left: item };
      x = await a.next();
    } else if (x.done || y.value.key < x.value.key) {
      counts.right++;
      yield { key: y.value.key, side: 'right', right: y.value };
      y = await b.next();
    } else {
      counts.left++;
      counts.right++;
      if (sameContent(x.value, y.value, options.oneRepository) !== true) {
        yield { key: x.value.key, side: 'both', left: x.value, right: y.value };
      }
      x = await a.next();
      y = await b.next();
    }
  }
}
