// The catalog: a searchable cache of what the backup repositories hold. Every row can be rebuilt
// from the repositories (`holdfast repo reindex`). An item is one thing an entity had at some time
// (a file, a folder, a record), identified by its key; a version is a state of it that first
// appeared in a snapshot (a change, or its deletion). Unchanged items add no rows per backup.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

export const CatalogRepository = defineEntity({
  name: 'CatalogRepository',
  tableName: 'catalog_repositories',
  properties: {
    /** The repository's own id (from its marker object). */
    id: p.string().primary().length(36),
    /** Where it lives, without secrets (e.g. "local:/backups/r1"). */
    location: p.string().length(1000),
    attachedAt: p.datetime().onCreate(() => new Date()),
    indexedAt: p.datetime().nullable(),
  },
});
export type ICatalogRepository = InferEntity<typeof CatalogRepository>;

export const CatalogSnapshot = defineEntity({
  name: 'CatalogSnapshot',
  tableName: 'catalog_snapshots',
  properties: {
    id: p.string().primary().length(64),
    repository: () => p.manyToOne(CatalogRepository).deleteRule('cascade'),
    task: p.string().length(200),
    entity: p.string().length(1000),
    time: p.datetime(),
    parent: p.string().length(64).nullable(),
    items: p.integer(),
    bytes: p.double(),
  },
  indexes: [{ properties: ['repository', 'task', 'entity', 'time'] }],
});
export type ICatalogSnapshot = InferEntity<typeof CatalogSnapshot>;

/** One backed-up entity of a repository (a task and entity): items refer to it by a small integer. */
export const CatalogScope = defineEntity({
  name: 'CatalogScope',
  tableName: 'catalog_scopes',
  properties: {
    id: p.integer().primary().autoincrement(),
    repository: () => p.manyToOne(CatalogRepository).deleteRule('cascade').index(false),
    task: p.string().length(200),
    entity: p.string().length(1000),
  },
  uniques: [{ properties: ['repository', 'task', 'entity'] }],
});
export type ICatalogScope = InferEntity<typeof CatalogScope>;

export const CatalogItem = defineEntity({
  name: 'CatalogItem',
  tableName: 'catalog_items',
  properties: {
    id: p.integer().primary().autoincrement(),
    /** The (repository, task, entity) as one integer: a short key for the item index. */
    scope: () => p.manyToOne(CatalogScope).deleteRule('cascade').index(false),
    key: p.string().length(4000),
    kind: p.string().length(50),
    name: p.string().length(1000),
    path: p.string().length(4000),
    author: p.string().length(320).nullable(),
    /** Folded search keys (core/db/fold.ts) of name, path and author: what "contains" filters compare. */
    nameKey: p.string().length(1000).default(''),
    pathKey: p.string().length(4000).default(''),
    authorKey: p.string().length(320).nullable(),
  },
  uniques: [{ properties: ['scope', 'key'] }],
});
export type ICatalogItem = InferEntity<typeof CatalogItem>;

export const CatalogVersion = defineEntity({
  name: 'CatalogVersion',
  tableName: 'catalog_versions',
  properties: {
    id: p.integer().primary().autoincrement(),
    item: () => p.manyToOne(CatalogItem).deleteRule('cascade').index(),
    /** The snapshot where this state first appeared. */
    snapshot: () => p.manyToOne(CatalogSnapshot).deleteRule('cascade').index(),
    size: p.double(),
    modified: p.datetime().nullable(),
    author: p.string().length(320).nullable(),
    /** The folded search key of `author`. */
    authorKey: p.string().length(320).nullable(),
    /** Who changed the item in this version (the service's `editor` field), and its folded key. */
    editor: p.string().length(320).nullable(),
    editorKey: p.string().length(320).nullable(),
    deleted: p.boolean(),
    /** The identity of this version's content (content-id.ts); null for none or indexed before it. */
    contentId: p.string().length(32).nullable(),
  },
});
export type ICatalogVersion = InferEntity<typeof CatalogVersion>;

/**
 * What a scheduled verification found lost in a snapshot (core/storage-locations/verification.ts):
 * the items whose content cannot be read from any copy, and ranges of items under unreadable tree
 * nodes. Recovery shows it on the snapshot; a later run that finds the snapshot whole (a backup
 * stored the content again, or a repair) removes the row, and so does forgetting the snapshot.
 */
export const CatalogSnapshotDamage = defineEntity({
  name: 'CatalogSnapshotDamage',
  tableName: 'catalog_snapshot_damage',
  properties: {
    id: p.integer().primary().autoincrement(),
    snapshot: () => p.manyToOne(CatalogSnapshot).unique().deleteRule('cascade'),
    items: p.json<string[]>(),
    ranges: p.json<string[]>(),
    foundAt: p.datetime(),
  },
});
export type ICatalogSnapshotDamage = InferEntity<typeof CatalogSnapshotDamage>;
