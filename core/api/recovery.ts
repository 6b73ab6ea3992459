// /api/v1 recovery reads: an entity's snapshots, a snapshot's folders and items (paged), and item
// search with the Recovery page's fields — the same domain services as the Recovery pages
// (core/catalog/browse.ts), so page and API agree. The ids they return (snapshot ids, item keys,
// folder paths) start restores and exports through POST /jobs. Tasks of organizations within
// the caller's reach are found; another tenant's task, entity or snapshot is a 404. Needs
// "Restore" or "Export and download".
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { MissingPermissionError } from '../access/errors.ts';
import { hasPermission } from '../access/principal.ts';
import {
  type BrowseEntry,
  browseSnapshot,
  entitySnapshot,
  entitySnapshots,
  type ItemHit,
  MAX_SEARCH_KEYS,
  resolvePath,
  type SnapshotSummary,
  searchEntityItems,
  type TextColumn,
} from '../catalog/browse.ts';
import { itemAtSnapshot, type ListedItem, listSnapshotItems } from '../catalog/browse-list.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { readItemFields } from '../recovery/item-view.ts';
import { parseDay, parseKeys } from '../routes/recovery.ts';
import { type IBackupTask, type ITaskEntity, TaskEntity } from '../tasks/entities.ts';
import { jsonResponse, PagingQuery } from './common.ts';
import { createApiRouter, requirePrincipal, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';
import { reachableTask } from './tasks.ts';

const tags = ['Recovery'];
const TEXT_COLUMNS: readonly TextColumn[] = ['name', 'path', 'author', 'editor'];

const recoveryAccess: MiddlewareHandler<AppEnv>[] = [
  requirePrincipal,
  async (c, next) => {
    const principal = principalOf(c);
    if (!hasPermission(principal, 'restore') && !hasPermission(principal, 'export_download')) {
      throw new MissingPermissionError('restore');
    }
    await next();
  },
];

/** The task (within reach) and its entity named in the path. */
async function target(c: Context<AppEnv>): Promise<{ task: IBackupTask; entity: ITaskEntity }> {
  const task = await reachableTask(c, c.req.param('id') ?? '');
  const id = c.req.param('entityId') ?? '';
  const entity = id.length <= 36 ? await c.get('em').findOne(TaskEntity, { id, task, deletedAt: null }) : null;
  if (!entity) throw new NotFoundError('No such user, team folder or object in this backup task.');
  return { task, entity };
}

async function snapshotOf(c: Context<AppEnv>, task: IBackupTask, entity: ITaskEntity) {
  const scope = { task: task.id, entity: entity.externalId };
  const snapshot = await entitySnapshot(c.get('em'), scope, c.req.param('snapshotId') ?? '');
  if (!snapshot) throw new NotFoundError('No such snapshot of this user, team folder or object.');
  return { ...snapshot, ...scope };
}

/** 404 for a task, entity or snapshot out of reach, before the query is validated. */
const inReach: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { task, entity } = await target(c);
  if (c.req.param('snapshotId') !== undefined) await snapshotOf(c, task, entity);
  await next();
};

const EntityParams = z.object({
  id: z
    .string()
    .max(36)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'Backup task id.' }),
  entityId: z
    .string()
    .max(36)
    .openapi({ param: { name: 'entityId', in: 'path' }, description: 'The user, team folder or object (entity id).' }),
});
const SnapshotParams = EntityParams.extend({
  snapshotId: z
    .string()
    .max(64)
    .openapi({ param: { name: 'snapshotId', in: 'path' }, description: 'Snapshot id.' }),
});

const day = z.string().max(10).optional().openapi({ description: 'A day, YYYY-MM-DD (UTC).', example: '2026-11-22' });

const SnapshotSchema = z
  .object({
    id: z.string(),
    time: z.string().openapi({ format: 'date-time' }),
    items: z.number().int(),
    bytes: z.number(),
    damage: z
      .object({
        items: z.array(z.string()).openapi({ description: 'Keys of the items that cannot be restored.' }),
        ranges: z.array(z.string()).openapi({ description: 'Items under tree nodes that cannot be read.' }),
        foundAt: z.string().openapi({ format: 'date-time' }),
      })
      .nullable()
      .openapi({ description: 'What the last scheduled verification found lost in it; null: nothing.' }),
  })
  .openapi('Snapshot');

const EntrySchema = z
  .object({
    name: z.string().openapi({ description: 'The folder or file name (one path segment).' }),
    folder: z.boolean(),
    path: z
      .string()
      .openapi({ description: 'From the entity’s root, no leading slash: a `paths` entry for POST /jobs.' }),
    key: z
      .string()
      .nullable()
      .openapi({ description: 'The item key (files, stored folders): a `keys` entry for POST /jobs.' }),
    kind: z.string().nullable(),
    size: z.number().openapi({ description: 'Bytes; for a folder, of everything below it.' }),
    items: z.number().int().openapi({ description: 'For a folder: the items below it.' }),
    modified: z.string().nullable().openapi({ format: 'date-time' }),
    author: z.string().nullable(),
    editor: z.string().nullable().openapi({ description: 'Who last changed the item (services that fill `editor`).' }),
  })
  .openapi('SnapshotEntry');

const HitSchema = z
  .object({
    key: z.string(),
    kind: z.string(),
    name: z.string(),
    path: z.string(),
    author: z.string().nullable(),
    editor: z.string().nullable(),
    size: z.number(),
    modified: z.string().nullable().openapi({ format: 'date-time' }),
    deleted: z.boolean().openapi({ description: 'Deleted at the source by the newest snapshot.' }),
    snapshot: z
      .object({ id: z.string(), time: z.string().openapi({ format: 'date-time' }) })
      .nullable()
      .openapi({ description: 'The newest snapshot holding the item (for a deleted one, the last before).' }),
  })
  .openapi('ItemHit');

const snapshotsRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/entities/{entityId}/snapshots',
  tags,
  summary: "List an entity's snapshots",
  description: 'Snapshots taken between `from` and `to` (whole days, UTC, both optional), newest first.',
  security: SECURED,
  middleware: [...recoveryAccess, inReach],
  request: {
    params: EntityParams,
    query: z.object({
      from: day,
      to: day,
      limit: z.coerce.number().int().min(1).max(1000).default(200),
    }),
  },
  responses: {
    200: jsonResponse(z.object({ items: z.array(SnapshotSchema) }), 'Snapshots'),
    ...errorResponses(401, 403, 404, 422),
  },
});

const browseRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/entities/{entityId}/snapshots/{snapshotId}/items',
  tags,
  summary: "Browse a snapshot's folders and items",
  description:
    'The folders and files directly in `path` as the snapshot holds them (folders first, then by name), paged. Paths compare under the service’s rules (Dropbox ignores case); `path` in the answer is the snapshot’s spelling. Services whose items have no folders (Salesforce records: the plugin’s `presentation.listing` is `list`) answer every item of the snapshot by name, and `path` is ignored.',
  security: SECURED,
  middleware: [...recoveryAccess, inReach],
  request: {
    params: SnapshotParams,
    query: z.object({
      path: z.string().max(4000).default('').openapi({ description: 'A folder path; empty for the root.' }),
      ...PagingQuery,
    }),
  },
  responses: {
    200: jsonResponse(
      z
        .object({
          path: z.string(),
          items: z.array(EntrySchema),
          total: z.number().int(),
          page: z.number().int(),
          pageSize: z.number().int(),
        })
        .openapi('SnapshotEntryPage'),
      'One page of the folder',
    ),
    ...errorResponses(401, 403, 404, 422),
  },
});

const searchRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/entities/{entityId}/items',
  tags,
  summary: "Search an entity's backed-up items",
  description:
    'The Recovery page’s item search: words (`q`, over name, path and author), then the fields the service offers (its `searchFields`: parts of `name`, `path`, `author` or `editor`, ignoring case; `modifiedFrom`/`modifiedTo` days), exact item keys (`keys`, comma-separated, where the service names its keys, e.g. Salesforce record ids), and `deleted`: `include` (default) also finds items deleted at the source, `exclude` leaves them out, `only` finds nothing else. A field the service does not offer is a 422. Each hit names the snapshot to recover it from.',
  security: SECURED,
  middleware: [...recoveryAccess, inReach],
  request: {
    params: EntityParams,
    query: z.object({
      q: z.string().max(200).optional(),
      name: z.string().max(200).optional(),
      path: z.string().max(200).optional(),
      author: z.string().max(200).optional(),
      editor: z.string().max(200).optional(),
      keys: z
        .string()
        .max(10_000)
        .optional()
        .openapi({ description: `Exact item keys, separated by commas or spaces (at most ${MAX_SEARCH_KEYS}).` }),
      deleted: z.enum(['include', 'exclude', 'only']).default('include'),
      modifiedFrom: day,
      modifiedTo: day,
      limit: z.coerce.number().int().min(1).max(500).default(100),
    }),
  },
  responses: {
    200: jsonResponse(z.object({ items: z.array(HitSchema) }), 'Matching items'),
    ...errorResponses(401, 403, 404, 422),
  },
});

const FieldSchema = z.object({ label: z.string(), value: z.string() }).openapi('ItemField');

const itemRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/entities/{entityId}/snapshots/{snapshotId}/item',
  tags,
  summary: 'Read one item of a snapshot, with its fields',
  description:
    'The item `key` as the snapshot holds it and, where the service presents its content as fields (a Salesforce record: field names and values), `fields`; otherwise `fields` is null and `fieldsNote` says why (no field view, too large, unreadable). 404 when the snapshot does not hold the item.',
  security: SECURED,
  middleware: [...recoveryAccess, inReach],
  request: {
    params: SnapshotParams,
    query: z.object({ key: z.string().min(1).max(4000) }),
  },
  responses: {
    200: jsonResponse(
      z
        .object({
          key: z.string(),
          kind: z.string(),
          name: z.string(),
          path: z.string(),
          size: z.number(),
          modified: z.string().nullable().openapi({ format: 'date-time' }),
          author: z.string().nullable(),
          editor: z.string().nullable(),
          fields: z.array(FieldSchema).nullable(),
          fieldsNote: z.string().nullable(),
        })
        .openapi('SnapshotItem'),
      'The item',
    ),
    ...errorResponses(401, 403, 404, 422),
  },
});

/** from/to as dates, or a 422 naming the field. */
function dayRange(fields: Record<string, unknown>, from: string, to: string) {
  const errors: Record<string, string> = {};
  const start = parseDay(fields[from] as string | undefined);
  const end = parseDay(fields[to] as string | undefined, true);
  if (start === 'invalid') errors[from] = 'Enter a date as YYYY-MM-DD.';
  if (end === 'invalid') errors[to] = 'Enter a date as YYYY-MM-DD.';
  if (start instanceof Date && end instanceof Date && start > end)
    errors[to] = 'The end date is before the start date.';
  if (Object.keys(errors).length) throw new ValidationError(errors, 'The request failed validation.');
  return { start: start instanceof Date ? start : undefined, end: end instanceof Date ? end : undefined };
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

function snapshotJson(s: SnapshotSummary) {
  return {
    id: s.id,
    time: s.time.toISOString(),
    items: s.items,
    bytes: s.bytes,
    damage: s.damage ? { ...s.damage, foundAt: s.damage.foundAt.toISOString() } : null,
  };
}

function entryJson(e: BrowseEntry) {
  return { ...e, modified: iso(e.modified), editor: null };
}

/** An item of a flat listing as a browse entry (no folders). */
function listedJson(i: ListedItem) {
  return {
    name: i.name,
    folder: false,
    path: i.path,
    key: i.key,
    kind: i.kind,
    size: i.size,
    items: 0,
    modified: iso(i.modified),
    author: i.author,
    editor: i.editor,
  };
}

function hitJson(h: ItemHit) {
  return {
    ...h,
    modified: iso(h.modified),
    snapshot: h.snapshot ? { id: h.snapshot.id, time: h.snapshot.time.toISOString() } : null,
  };
}

export function recoveryApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  api.openapi(snapshotsRoute, async (c) => {
    const { task, entity } = await target(c);
    const query = c.req.valid('query');
    const { start, end } = dayRange(query, 'from', 'to');
    const snapshots = await entitySnapshots(
      c.get('em'),
      { task: task.id, entity: entity.externalId },
      { from: start, to: end, limit: query.limit },
    );
    return c.json({ items: snapshots.map(snapshotJson) }, 200);
  });

  api.openapi(browseRoute, async (c) => {
    const { task, entity } = await target(c);
    const snapshot = await snapshotOf(c, task, entity);
    const { path, page, pageSize } = c.req.valid('query');
    if (servicePlugin(task.service)?.presentation?.listing === 'list') {
      const listing = await listSnapshotItems(c.get('em'), snapshot, {
        limit: pageSize,
        offset: (page - 1) * pageSize,
      });
      return c.json({ path: '', items: listing.items.map(listedJson), total: listing.total, page, pageSize }, 200);
    }
    const asked = path.replace(/^\/+|\/+$/g, '');
    const folder =
      (await resolvePath(c.get('em'), snapshot, asked, servicePlugin(task.service)?.pathsCaseInsensitive)) ?? asked;
    const listing = await browseSnapshot(c.get('em'), snapshot, folder, {
      limit: pageSize,
      offset: (page - 1) * pageSize,
    });
    return c.json({ path: folder, items: listing.entries.map(entryJson), total: listing.total, page, pageSize }, 200);
  });

  api.openapi(itemRoute, async (c) => {
    const { task, entity } = await target(c);
    const snapshot = await snapshotOf(c, task, entity);
    const em = c.get('em');
    const item = await itemAtSnapshot(em, snapshot, c.req.valid('query').key);
    if (!item) throw new NotFoundError('This snapshot holds no such item.');
    const plugin = servicePlugin(task.service);
    const read =
      deps.storage && plugin?.presentation?.fields
        ? await readItemFields(
            deps.storage,
            await em.populate(task, ['organization']),
            snapshot.id,
            item.key,
            plugin,
            c.get('log'),
          )
        : ({ kind: 'none' } as const);
    const note =
      read.kind === 'fields'
        ? null
        : read.kind === 'too_large'
          ? `The item is larger than ${read.limit} bytes.`
          : read.kind === 'unreadable'
            ? `Its content cannot be read: ${read.reason}.`
            : 'The service shows no fields for this item.';
    return c.json(
      {
        key: item.key,
        kind: item.kind,
        name: item.name,
        path: item.path,
        size: item.size,
        modified: iso(item.modified),
        author: item.author,
        editor: item.editor,
        fields: read.kind === 'fields' ? read.fields : null,
        fieldsNote: note,
      },
      200,
    );
  });

  api.openapi(searchRoute, async (c) => {
    const { task, entity } = await target(c);
    const query = c.req.valid('query');
    // The same fields as the Recovery page: the ones the service's searchFields name.
    const plugin = servicePlugin(task.service);
    const offered = new Set<string>((plugin?.searchFields ?? []).map((f) => f.column));
    const errors: Record<string, string> = {};
    const contains: Partial<Record<TextColumn, string>> = {};
    for (const column of TEXT_COLUMNS) {
      const value = query[column]?.trim();
      if (!value) continue;
      if (offered.has(column)) contains[column] = value;
      else errors[column] = `${plugin?.label ?? task.service} items have no ${column} to search.`;
    }
    if ((query.modifiedFrom || query.modifiedTo) && !offered.has('modified')) {
      errors.modifiedFrom = `${plugin?.label ?? task.service} items have no modified date to search.`;
    }
    const keys = parseKeys(query.keys ?? '');
    if (keys === 'too_many') errors.keys = `Give at most ${MAX_SEARCH_KEYS} keys.`;
    else if (keys.length && !plugin?.presentation?.keyLabel) {
      errors.keys = `${plugin?.label ?? task.service} items are not searched by key.`;
    }
    if (Object.keys(errors).length) throw new ValidationError(errors, 'The request failed validation.');
    const { start, end } = dayRange(query, 'modifiedFrom', 'modifiedTo');
    const hits = await searchEntityItems(
      c.get('em'),
      { task: task.id, entity: entity.externalId },
      {
        text: query.q?.trim() || undefined,
        contains,
        modifiedFrom: start,
        modifiedTo: end,
        keys: keys === 'too_many' ? [] : keys,
        deleted: query.deleted,
        limit: query.limit,
      },
    );
    return c.json({ items: hits.map(hitJson) }, 200);
  });

  return api;
}
