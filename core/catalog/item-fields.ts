// What the catalog, Recovery and exports read from an item's metadata. The service plugin's
// `searchFields` say which metadata key holds each catalog column (name, path, author, editor, modified);
// nothing here assumes a key of its own. Without a path the item's key is its path, without a
// name the last segment of its path.
import { displayName } from '../../storage/raw-names.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import type { CatalogColumn, SearchField } from '../plugins/service.ts';

/** Which metadata key holds each catalog column, for one service. */
export type ItemFieldMap = Partial<Record<CatalogColumn, string>>;

export function itemFieldMap(fields: readonly SearchField[]): ItemFieldMap {
  const map: ItemFieldMap = {};
  for (const field of fields) map[field.column] ??= field.name;
  return map;
}

export interface CatalogFields {
  name: string;
  path: string;
  author: string | null;
  /** Who last changed the item (the service's words), or null. */
  editor: string | null;
  modified: Date | null;
}

function text(meta: Record<string, unknown>, key: string | undefined): string | undefined {
  const value = key === undefined ? undefined : meta[key];
  return typeof value === 'string' ? value : undefined;
}

/** The item's path as the catalog and Recovery show it (not trimmed). */
function rawPath(entry: Pick<ItemEntry, 'key' | 'meta'>, map: ItemFieldMap): string {
  // Bytes that are not UTF-8 are shown as \xNN, so two keys differing only there stay apart.
  const key = displayName(entry.key.endsWith('/') ? entry.key.slice(0, -1) : entry.key);
  return text(entry.meta ?? {}, map.path) ?? key;
}

/** The item's path without leading or trailing slashes, as Recovery's folders name it. */
export function itemPath(entry: Pick<ItemEntry, 'key' | 'meta'>, map: ItemFieldMap): string {
  return rawPath(entry, map).replace(/^\/+|\/+$/g, '');
}

/** When the item last changed, as its service says (an ISO date or epoch milliseconds), or null. */
export function itemModified(entry: Pick<ItemEntry, 'meta'>, map: ItemFieldMap): Date | null {
  const value = map.modified === undefined ? undefined : entry.meta?.[map.modified];
  const time = typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value : Number.NaN;
  return Number.isNaN(time) ? null : new Date(time);
}

/** What the catalog keeps of an item. */
export function catalogFields(entry: ItemEntry, map: ItemFieldMap): CatalogFields {
  const meta = entry.meta ?? {};
  const path = rawPath(entry, map);
  return {
    name: text(meta, map.name) ?? path.split('/').pop() ?? path,
    path,
    author: text(meta, map.author) ?? null,
    editor: text(meta, map.editor) ?? null,
    modified: itemModified(entry, map),
  };
}
