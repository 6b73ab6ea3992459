// Recovery: pick a backup task, then one of its users / team folders / objects, then find what to
// recover either via a snapshot (a date range, the snapshots in it, drilling into one's folder
// tree) or via item search (words, or author / file name / dates). Selections lead to the restore
// and export dialogs (core/routes/recovery-actions.ts). Open to users who may restore or export;
// a task or entity of another organization is a 404, like every id here.
import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { MissingPermissionError } from '../access/errors.ts';
import { hasPermission } from '../access/principal.ts';
import {
  browseSnapshot,
  type DeletedItems,
  entitySnapshot,
  entitySnapshots,
  MAX_SEARCH_KEYS,
  resolvePath,
  type SnapshotSummary,
  searchEntityItems,
  snapshotSpans,
  type TextColumn,
} from '../catalog/browse.ts';
import { listSnapshotItems } from '../catalog/browse-list.ts';
import { parseDay as parseCalendarDay } from '../date-range.ts';
import { containsText } from '../db/text-search.ts';
import { NotFoundError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderFragment, wantsFragment } from '../http/htmx.ts';
import { organizationOf, principalOf, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { servicePlugin } from '../plugins/registry.ts';
import type { CatalogColumn, ServicePlugin } from '../plugins/service.ts';
import { type EntityStatus, type IBackupTask, type ITaskEntity, TaskEntity } from '../tasks/entities.ts';
import { ENTITY_STATUS_LABELS, entityCountsByTask } from '../tasks/task-overview.ts';
import { getTask, listTasks } from '../tasks/tasks-service.ts';

const BROWSE_PAGE_SIZE = 100;
const ENTITY_PAGE_SIZE = 50;

const STATUS_BADGES: Partial<Record<EntityStatus, string>> = {
  success: 'badge-success',
  partial: 'badge-warning',
  failed: 'badge-danger',
};

function statusView(status: EntityStatus) {
  return { status, statusLabel: ENTITY_STATUS_LABELS[status], badge: STATUS_BADGES[status] ?? '' };
}

/** Recovery is for users who may restore or export (administrators may both). */
export const requireRecoveryAccess: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal = principalOf(c);
  if (!hasPermission(principal, 'restore') && !hasPermission(principal, 'export_download')) {
    throw new MissingPermissionError('restore');
  }
  await next();
};

/** The task (of the organization worked in) and the entity (of that task) named in the path. */
export async function recoveryTarget(
  c: Context<AppEnv>,
): Promise<{ task: IBackupTask; entity: ITaskEntity; plugin: ServicePlugin | undefined }> {
  const em = c.get('em');
  const task = await getTask(em, organizationOf(c), c.req.param('taskId') ?? '');
  const entity = await em.findOne(TaskEntity, { id: c.req.param('entityId') ?? '', task, deletedAt: null });
  if (!entity) throw new NotFoundError('No such user, team folder or object in this backup task.');
  return { task, entity, plugin: servicePlugin(task.service) };
}

/** A yyyy-mm-dd date from a form (UTC); `end` moves it to the last millisecond of that day. */
export function parseDay(value: string | undefined, end = false): Date | undefined | 'invalid' {
  if (!value) return undefined;
  const day = parseCalendarDay(value);
  if (!day) return 'invalid';
  return end ? new Date(day.getTime() + 86_400_000 - 1) : day;
}

function permissionsView(c: Context<AppEnv>) {
  const principal = principalOf(c);
  return { canRestore: hasPermission(principal, 'restore'), canExport: hasPermission(principal, 'export_download') };
}

/**
 * What Recovery offers for a service's items, from its plugin's searchFields: a text search per
 * text column it fills, a date range when it fills `modified`, and its labels as table headings
 * (columns it does not fill are left out); from its presentation, a search by keys and the
 * item view.
 */
export function itemFieldsView(plugin: ServicePlugin | undefined) {
  const fields = plugin?.searchFields ?? [];
  const label = (column: CatalogColumn) => fields.find((f) => f.column === column)?.label ?? null;
  return {
    columns: {
      name: label('name') ?? 'Name',
      path: label('path') ?? 'Path',
      author: label('author'),
      editor: label('editor'),
      modified: label('modified'),
      key: plugin?.presentation?.keyLabel ?? null,
    },
    textFields: fields.flatMap((f) =>
      f.column === 'modified' ? [] : [{ column: f.column as TextColumn, label: f.label }],
    ),
    dateField: label('modified'),
    keyLabel: plugin?.presentation?.keyLabel ?? null,
    itemView: !!plugin?.presentation?.fields,
    // Items listed flat have no folders: their path names only the entity, so hits leave it out.
    flatList: plugin?.presentation?.listing === 'list',
    // The words of "Word or phrase" are found in name, path and author (the full-text columns).
    wordFields: fields.filter((f) => f.column === 'name' || f.column === 'path' || f.column === 'author'),
  };
}

/** Keys typed one per line or separated by commas or spaces (at most MAX_SEARCH_KEYS). */
export function parseKeys(text: string): string[] | 'too_many' {
  const keys = [...new Set(text.split(/[\s,;]+/).filter(Boolean))];
  return keys.length > MAX_SEARCH_KEYS ? 'too_many' : keys;
}

/** The folder trail above a browsed folder, root first, for the breadcrumb. */
function trail(folder: string): { name: string; path: string }[] {
  const parts = folder.split('/').filter(Boolean);
  return parts.map((name, i) => ({ name, path: parts.slice(0, i + 1).join('/') }));
}

export function recoveryRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/recovery', requireUser(deps), requireRecoveryAccess);
  app.use('/recovery/*', requireUser(deps), requireRecoveryAccess);

  app.get('/recovery', async (c) => {
    const em = c.get('em');
    const tasks = await listTasks(em, organizationOf(c));
    const rows = [];
    for (const task of tasks) {
      const spans = await snapshotSpans(em, task.id);
      let last: Date | null = null;
      for (const span of spans.values()) if (!last || span.last > last) last = span.last;
      rows.push({
        id: task.id,
        name: task.name,
        service: servicePlugin(task.service)?.label ?? task.service,
        backedUp: spans.size,
        entities: await em.count(TaskEntity, { task, deletedAt: null }),
        last,
      });
    }
    return renderPage(c, deps, 'pages/recovery/tasks.njk', { title: 'Recovery', rows });
  });

  app.get('/recovery/tasks/:taskId', async (c) => {
    const em = c.get('em');
    const task = await getTask(em, organizationOf(c), c.req.param('taskId'));
    const q = (c.req.query('q') ?? '').trim().slice(0, 200);
    const statusParam = c.req.query('status') ?? '';
    const status = statusParam in ENTITY_STATUS_LABELS ? (statusParam as EntityStatus) : undefined;
    const page = Math.max(1, Number.parseInt(c.req.query('page') ?? '1', 10) || 1);
    const plugin = servicePlugin(task.service);
    // The service's kinds of entity (Data / Metadata, Users / Team folders): a filter when several.
    const kinds = plugin?.entityKinds ?? [];
    const kindParam = c.req.query('kind') ?? '';
    const kind = kinds.some((k) => k.kind === kindParam) ? kindParam : undefined;
    const where: Record<string, unknown> = { task, deletedAt: null };
    if (status) where.status = status;
    if (kind) where.kind = kind;
    if (q) Object.assign(where, containsText('name', q));
    const [entities, total] = await em.findAndCount(TaskEntity, where as never, {
      orderBy: { name: 'asc', id: 'asc' },
      limit: ENTITY_PAGE_SIZE,
      offset: (page - 1) * ENTITY_PAGE_SIZE,
    });
    const spans = await snapshotSpans(em, task.id);
    const counts = (await entityCountsByTask(em, [task.id])).get(task.id);
    const kindLabels = new Map(plugin?.entityKinds.map((k) => [k.kind, k.label]) ?? []);
    const rows = entities.map((e) => ({
      ...statusView(e.status as EntityStatus),
      id: e.id,
      name: e.name,
      kind: kindLabels.get(e.kind) ?? e.kind,
      first: spans.get(e.externalId)?.first ?? null,
      last: spans.get(e.externalId)?.last ?? null,
    }));
    const pageCount = Math.max(1, Math.ceil(total / ENTITY_PAGE_SIZE));
    const link = (p: number) => {
      const params = new URLSearchParams();
      if (q) params.set('q', q);
      if (status) params.set('status', status);
      if (kind) params.set('kind', kind);
      if (p > 1) params.set('page', String(p));
      const text = params.toString();
      return `/recovery/tasks/${task.id}${text ? `?${text}` : ''}`;
    };
    const context = {
      title: `Recovery · ${task.name}`,
      task: { id: task.id, name: task.name, service: plugin?.label ?? task.service },
      rows,
      total,
      q,
      status: status ?? '',
      // Only statuses some entry has (and the one chosen), so no choice leads to an empty table.
      statuses: (Object.entries(ENTITY_STATUS_LABELS) as [EntityStatus, string][])
        .filter(([value]) => (counts?.[value] ?? 0) > 0 || value === status)
        .map(([value, label]) => ({ value, label })),
      kind: kind ?? '',
      kinds: kinds.length > 1 ? kinds : [],
      filtersActive: !!(q || status || kind),
      page,
      pageCount,
      previousUrl: page > 1 ? link(page - 1) : null,
      nextUrl: page < pageCount ? link(page + 1) : null,
    };
    if (wantsFragment(c)) return renderFragment(c, deps.views, 'partials/recovery/entities-results.njk', context);
    return renderPage(c, deps, 'pages/recovery/entities.njk', context);
  });

  app.get('/recovery/tasks/:taskId/entities/:entityId', async (c) => {
    const em = c.get('em');
    const { task, entity, plugin } = await recoveryTarget(c);
    const scope = { task: task.id, entity: entity.externalId };
    const mode = c.req.query('mode') === 'search' ? 'search' : 'snapshot';
    const errors: Record<string, string> = {};
    const fields = itemFieldsView(plugin);
    // Only the fields the service offers are read (by catalog column: name, path, author, modified).
    const values: Record<string, string> = {
      from: c.req.query('from') ?? '',
      to: c.req.query('to') ?? '',
      q: (c.req.query('q') ?? '').slice(0, 200),
      modifiedFrom: fields.dateField ? (c.req.query('modifiedFrom') ?? '') : '',
      modifiedTo: fields.dateField ? (c.req.query('modifiedTo') ?? '') : '',
      keys: fields.keyLabel ? (c.req.query('keys') ?? '').slice(0, 10_000) : '',
      deleted: c.req.query('deleted') === 'include' ? 'include' : '',
    };
    const contains: Partial<Record<TextColumn, string>> = {};
    for (const { column } of fields.textFields) {
      values[column] = (c.req.query(column) ?? '').slice(0, 200);
      if (values[column]) contains[column] = values[column];
    }
    const base = {
      title: `Recovery · ${entity.name}`,
      task: { id: task.id, name: task.name, service: plugin?.label ?? task.service },
      entity: { id: entity.id, name: entity.name },
      mode,
      values,
      errors,
      ...fields,
      ...permissionsView(c),
    };
    if (mode === 'snapshot') {
      const from = parseDay(values.from);
      const to = parseDay(values.to, true);
      if (from === 'invalid') errors.from = 'Enter a date as YYYY-MM-DD.';
      if (to === 'invalid') errors.to = 'Enter a date as YYYY-MM-DD.';
      if (from instanceof Date && to instanceof Date && from > to) errors.to = 'The end date is before the start date.';
      const snapshots = Object.keys(errors).length
        ? []
        : await entitySnapshots(em, scope, {
            from: from instanceof Date ? from : undefined,
            to: to instanceof Date ? to : undefined,
          });
      const context = { ...base, snapshots, searched: !!(values.from || values.to) };
      if (wantsFragment(c)) return renderFragment(c, deps.views, 'partials/recovery/snapshots.njk', context);
      return renderPage(c, deps, 'pages/recovery/entity.njk', context, Object.keys(errors).length ? 422 : 200);
    }
    const modifiedFrom = parseDay(values.modifiedFrom);
    const modifiedTo = parseDay(values.modifiedTo, true);
    if (modifiedFrom === 'invalid') errors.modifiedFrom = 'Enter a date as YYYY-MM-DD.';
    if (modifiedTo === 'invalid') errors.modifiedTo = 'Enter a date as YYYY-MM-DD.';
    if (modifiedFrom instanceof Date && modifiedTo instanceof Date && modifiedFrom > modifiedTo) {
      errors.modifiedTo = 'The end date is before the start date.';
    }
    const keys = parseKeys(values.keys ?? '');
    if (keys === 'too_many') errors.keys = `Enter at most ${MAX_SEARCH_KEYS} ${fields.keyLabel ?? 'key'}s.`;
    const advanced =
      Object.keys(contains).length > 0 || !!(values.modifiedFrom || values.modifiedTo || values.keys || values.deleted);
    // "Index all data for search" off: the task offers no item search (its snapshots stay browsable).
    const searched = task.indexForSearch && (!!values.q || advanced);
    const hits =
      searched && Object.keys(errors).length === 0
        ? await searchEntityItems(em, scope, {
            text: values.q || undefined,
            contains,
            modifiedFrom: modifiedFrom instanceof Date ? modifiedFrom : undefined,
            modifiedTo: modifiedTo instanceof Date ? modifiedTo : undefined,
            keys: keys === 'too_many' ? [] : keys,
            // Deleted items only when asked for ("Include deleted items").
            deleted: (values.deleted === 'include' ? 'include' : 'exclude') satisfies DeletedItems,
            limit: 200,
          })
        : [];
    const context = {
      ...base,
      hits,
      searched,
      advancedOpen: advanced,
      indexed: task.indexForSearch,
    };
    if (wantsFragment(c)) return renderFragment(c, deps.views, 'partials/recovery/search-results.njk', context);
    return renderPage(c, deps, 'pages/recovery/entity.njk', context, Object.keys(errors).length ? 422 : 200);
  });

  app.get('/recovery/tasks/:taskId/entities/:entityId/snapshots/:snapshotId', async (c) => {
    const em = c.get('em');
    const { task, entity, plugin } = await recoveryTarget(c);
    const scope = { task: task.id, entity: entity.externalId };
    const snapshot = await entitySnapshot(em, scope, c.req.param('snapshotId'));
    if (!snapshot) throw new NotFoundError('No such snapshot of this user, team folder or object.');
    if (plugin?.presentation?.listing === 'list') return snapshotList(c, deps, { task, entity, plugin, snapshot });
    const asked = (c.req.query('path') ?? '').replace(/^\/+|\/+$/g, '').slice(0, 4000);
    // The service's path rules decide whether "Docs/FOLDER" is the snapshot's "Docs/Folder".
    const folder = (await resolvePath(em, { ...snapshot, ...scope }, asked, plugin?.pathsCaseInsensitive)) ?? asked;
    const page = Math.max(1, Number.parseInt(c.req.query('page') ?? '1', 10) || 1);
    const listing = await browseSnapshot(em, { ...snapshot, ...scope }, folder, {
      limit: BROWSE_PAGE_SIZE,
      offset: (page - 1) * BROWSE_PAGE_SIZE,
    });
    const pageCount = Math.max(1, Math.ceil(listing.total / BROWSE_PAGE_SIZE));
    const here = `/recovery/tasks/${task.id}/entities/${entity.id}/snapshots/${snapshot.id}`;
    const link = (p: number) => {
      const params = new URLSearchParams();
      if (folder) params.set('path', folder);
      if (p > 1) params.set('page', String(p));
      const text = params.toString();
      return `${here}${text ? `?${text}` : ''}`;
    };
    const context = {
      title: `Recovery · ${entity.name}`,
      task: { id: task.id, name: task.name, service: plugin?.label ?? task.service },
      entity: { id: entity.id, name: entity.name },
      snapshot,
      folder,
      trail: trail(folder),
      here,
      entries: listing.entries,
      total: listing.total,
      page,
      pageCount,
      previousUrl: page > 1 ? link(page - 1) : null,
      nextUrl: page < pageCount ? link(page + 1) : null,
      columns: itemFieldsView(plugin).columns,
      ...permissionsView(c),
    };
    return renderPage(c, deps, 'pages/recovery/snapshot.njk', context);
  });

  return app;
}

/** A snapshot listed flat (ItemPresentation.listing 'list'): its items by name, paged, each opening the item view. */
async function snapshotList(
  c: Context<AppEnv>,
  deps: AppDeps,
  target: { task: IBackupTask; entity: ITaskEntity; plugin: ServicePlugin; snapshot: SnapshotSummary },
): Promise<Response> {
  const { task, entity, plugin, snapshot } = target;
  const scope = { task: task.id, entity: entity.externalId };
  const page = Math.max(1, Number.parseInt(c.req.query('page') ?? '1', 10) || 1);
  const listing = await listSnapshotItems(
    c.get('em'),
    { ...snapshot, ...scope },
    {
      limit: BROWSE_PAGE_SIZE,
      offset: (page - 1) * BROWSE_PAGE_SIZE,
    },
  );
  const pageCount = Math.max(1, Math.ceil(listing.total / BROWSE_PAGE_SIZE));
  const here = `/recovery/tasks/${task.id}/entities/${entity.id}/snapshots/${snapshot.id}`;
  const link = (p: number) => (p > 1 ? `${here}?page=${p}` : here);
  return renderPage(c, deps, 'pages/recovery/snapshot-list.njk', {
    title: `Recovery · ${entity.name}`,
    task: { id: task.id, name: task.name, service: plugin.label },
    entity: { id: entity.id, name: entity.name },
    snapshot,
    here,
    items: listing.items,
    total: listing.total,
    page,
    pageCount,
    previousUrl: page > 1 ? link(page - 1) : null,
    nextUrl: page < pageCount ? link(page + 1) : null,
    ...itemFieldsView(plugin),
    ...permissionsView(c),
  });
}
