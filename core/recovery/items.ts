// Which items of a snapshot a restore or export takes, and the order it reads them in. The
// selection is all items, or chosen keys and folder paths (a folder takes everything below it).
// Items are streamed from the snapshot's tree and handed on in batches sorted by where their
// content lies (pack, then offset), so reading is close to sequential, like storage/restore.ts:
// memory holds one batch of entries, never the snapshot.
import type { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import { type ItemFieldMap, itemPath } from '../catalog/item-fields.ts';

export interface ItemSelection {
  /** Exact item keys. */
  keys?: string[] | undefined;
  /** Folder paths (as the Recovery pages show them, without a leading slash); everything below each. */
  paths?: string[] | undefined;
}

/** Entries sorted at once: bounds memory and keeps the first items coming quickly. */
const BATCH_ITEMS = 256;
const BATCH_BYTES = 64 * 1024 * 1024;

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

export function isEverything(selection: ItemSelection): boolean {
  return !selection.keys?.length && !selection.paths?.length;
}

/** How paths compare at the service: exactly, or ignoring case (ServicePlugin.pathsCaseInsensitive). */
export interface PathRules {
  caseInsensitive?: boolean | undefined;
}

/** The form of a path that two equal paths share under the service's rules. */
export function pathKey(path: string, rules: PathRules = {}): string {
  return rules.caseInsensitive ? path.toLowerCase() : path;
}

/** The selection in words for messages: 'the folder "Docs"', 'the item "id:1"', … */
export function describeSelection(selection: ItemSelection): string {
  const named = [
    ...(selection.paths ?? []).map((p) => `the folder "${trimSlashes(p)}"`),
    ...(selection.keys ?? []).map((k) => `the item "${k}"`),
  ];
  if (named.length === 0) return 'everything';
  return named.length <= 3 ? named.join(', ') : `${named.slice(0, 3).join(', ')} and ${named.length - 3} more`;
}

/**
 * Tests one item against a selection (prepared once with `matcher`). `fields` says where the
 * item's service keeps its path, which folder paths are matched against (as Recovery shows them),
 * and `rules` how the service compares paths.
 */
export function matcher(
  selection: ItemSelection,
  fields: ItemFieldMap,
  rules: PathRules = {},
): (item: ItemEntry) => boolean {
  if (isEverything(selection)) return () => true;
  const keys = new Set(selection.keys ?? []);
  const prefixes = (selection.paths ?? [])
    .map(trimSlashes)
    .filter((p) => p !== '')
    .map((p) => pathKey(p, rules));
  // An empty folder path ("the root") selects everything.
  if ((selection.paths ?? []).some((p) => trimSlashes(p) === '')) return () => true;
  return (item) => {
    if (keys.has(item.key)) return true;
    const path = pathKey(itemPath(item, fields), rules);
    return prefixes.some((p) => path === p || path.startsWith(`${p}/`));
  };
}

/**
 * The selected items, in batches sorted into pack order. Deleted markers of delta layers never
 * appear (the reader merges layers). Checks `signal` between items.
 */
export async function* selectedItems(
  reader: SnapshotReader,
  selection: ItemSelection,
  signal: AbortSignal,
  fields: ItemFieldMap,
  rules: PathRules = {},
): AsyncGenerator<ItemEntry> {
  await reader.repo.loadIndex();
  const wanted = matcher(selection, fields, rules);
  let batch: ItemEntry[] = [];
  let bytes = 0;
  for await (const item of reader.items()) {
    signal.throwIfAborted();
    if (item.deleted || !wanted(item)) continue;
    batch.push(item);
    bytes += item.size;
    if (batch.length >= BATCH_ITEMS || bytes >= BATCH_BYTES) {
      yield* inPackOrder(reader, batch);
      batch = [];
      bytes = 0;
    }
  }
  yield* inPackOrder(reader, batch);
}

/** Items without stored blobs (folders, inline content) first, then by their first blob's place. */
function inPackOrder(reader: SnapshotReader, items: ItemEntry[]): ItemEntry[] {
  const place = (item: ItemEntry): [string, number] => {
    const first = item.content?.[0];
    const at = first ? reader.repo.locate(first) : undefined;
    return at ? [at.pack, at.offset] : ['', -1];
  };
  const keyed = items.map((item, i) => ({ item, at: place(item), i }));
  keyed.sort((a, b) => (a.at[0] < b.at[0] ? -1 : a.at[0] > b.at[0] ? 1 : a.at[1] - b.at[1] || a.i - b.i));
  return keyed.map((k) => k.item);
}
