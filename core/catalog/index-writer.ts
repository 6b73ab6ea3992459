// Writing one snapshot's changes into the catalog, shared by the in-process indexer and the
// reindex writer thread (index-worker.ts). Changes arrive as compact rows — plain values, cheap to
// pass to a thread — made from the tree diff by `compactChange`.
import { displayName } from '../../storage/raw-names.ts';
import type { ItemChange, ItemEntry } from '../../storage/tree.ts';
import type { CatalogBatchWriter, ItemRow, VersionRow } from '../db/catalog-sql.ts';
import { contentIdOf } from './content-id.ts';
import { catalogFields, type ItemFieldMap } from './item-fields.ts';

/** One change as the catalog needs it. */
export interface CompactChange {
  key: string;
  change: ItemChange['change'];
  kind: string;
  size: number;
  name: string;
  path: string;
  author: string | null;
  /** Who last changed it (kept per version, not in the search document). */
  editor: string | null;
  /** Epoch milliseconds. */
  modified: number | null;
  /** A modified item whose name, path and author are as before (its search document stays). */
  sameText: boolean;
  /** The identity of its content (content-id.ts); null when removed or without content. */
  contentId: string | null;
}

/** `fields`: where the item's service keeps name, path, author and modification time. */
export function compactChange(c: ItemChange, fields: ItemFieldMap): CompactChange {
  const entry = (c.after ?? c.before) as ItemEntry;
  const f = catalogFields(entry, fields);
  let sameText = false;
  if (c.change === 'modified' && c.before && c.after) {
    const a = catalogFields(c.before, fields);
    sameText = a.name === f.name && a.path === f.path && a.author === f.author;
  }
  return {
    // SQLite text is UTF-8: bytes of a file name that are not (storage/raw-names.ts) are written
    // as `\xNN`, or two such names would both become U+FFFD and collide.
    key: displayName(c.key),
    change: c.change,
    kind: entry.kind,
    size: entry.size,
    name: f.name,
    path: f.path,
    author: f.author,
    editor: f.editor,
    modified: f.modified?.getTime() ?? null,
    sameText,
    contentId: c.change === 'removed' ? null : contentIdOf(entry),
  };
}

/** A first snapshot's item: an addition (made here directly, without an ItemChange in between). */
export function compactAdded(entry: ItemEntry, fields: ItemFieldMap): CompactChange {
  return compactChange({ key: entry.key, change: 'added', after: entry }, fields);
}

export interface WriteCounts {
  versions: number;
  items: number;
}

/**
 * Writes a batch: new items, changed search text, and a version per change of a known or new item.
 * `emptyScope`: the entity's first snapshot into an empty scope, where no item can exist yet.
 */
export async function writeChanges(
  writer: CatalogBatchWriter,
  batch: CompactChange[],
  snapshotId: string,
  emptyScope: boolean,
  counts: WriteCounts,
): Promise<void> {
  if (batch.length === 0) return;
  // One pass per batch and ids by position (a million items make every per-item object count).
  const known = emptyScope ? undefined : await writer.itemIds(batch.map((c) => c.key));
  const itemIds: (number | undefined)[] = new Array(batch.length);
  const rows: ItemRow[] = [];
  const rowAt: number[] = [];
  for (let i = 0; i < batch.length; i++) {
    const c = batch[i] as CompactChange;
    const id = known?.get(c.key);
    itemIds[i] = id;
    if (c.change === 'removed') continue;
    if (id === undefined) {
      rows.push({ key: c.key, kind: c.kind, name: c.name, path: c.path, author: c.author });
      rowAt.push(i);
      continue;
    }
    // A modified item whose name, path or author changed is re-indexed for search.
    // So is an item that comes back under a key the catalog already knows.
    if (c.change === 'modified' && c.sameText) continue;
    await writer.updateItem(id, c);
  }
  if (rows.length) {
    (await writer.insertItems(rows)).forEach((id, j) => {
      itemIds[rowAt[j] as number] = id;
    });
    counts.items += rows.length;
  }
  const versions: VersionRow[] = [];
  for (let i = 0; i < batch.length; i++) {
    const itemId = itemIds[i];
    if (itemId === undefined) continue;
    const c = batch[i] as CompactChange;
    versions.push({
      itemId,
      snapshotId,
      size: c.size,
      modified: c.modified,
      author: c.author,
      editor: c.editor,
      deleted: c.change === 'removed',
      contentId: c.contentId,
    });
  }
  await writer.insertVersions(versions);
  counts.versions += versions.length;
}
