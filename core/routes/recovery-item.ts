// Recovery's item view: one item of a snapshot (`?key=`) with its facts from the catalog and,
// where the service presents content as fields (ItemPresentation.fields: a record's field names
// and values), those fields read from the repository. Restore and Download of that one item
// follow from it. Same access rules as the other Recovery pages.
import { Hono } from 'hono';
import { hasPermission } from '../access/principal.ts';
import { entitySnapshot } from '../catalog/browse.ts';
import { itemAtSnapshot } from '../catalog/browse-list.ts';
import { NotFoundError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { readItemFields } from '../recovery/item-view.ts';
import { itemFieldsView, recoveryTarget, requireRecoveryAccess } from './recovery.ts';

export function recoveryItemRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const path = '/recovery/tasks/:taskId/entities/:entityId/snapshots/:snapshotId/item';
  app.use(path, requireUser(deps), requireRecoveryAccess);

  app.get(path, async (c) => {
    const em = c.get('em');
    const { task, entity, plugin } = await recoveryTarget(c);
    const scope = { task: task.id, entity: entity.externalId };
    const snapshot = await entitySnapshot(em, scope, c.req.param('snapshotId'));
    if (!snapshot) throw new NotFoundError('No such snapshot of this user, team folder or object.');
    const key = (c.req.query('key') ?? '').slice(0, 4000);
    const item = key ? await itemAtSnapshot(em, { ...snapshot, ...scope }, key) : undefined;
    if (!item) throw new NotFoundError('This snapshot holds no such item.');
    const fields =
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
    const principal = principalOf(c);
    return renderPage(c, deps, 'pages/recovery/item.njk', {
      title: `Recovery · ${item.name}`,
      task: { id: task.id, name: task.name, service: plugin?.label ?? task.service },
      entity: { id: entity.id, name: entity.name },
      snapshot,
      snapshotUrl: `/recovery/tasks/${task.id}/entities/${entity.id}/snapshots/${snapshot.id}`,
      item,
      fields,
      ...itemFieldsView(plugin),
      canRestore: hasPermission(principal, 'restore'),
      canExport: hasPermission(principal, 'export_download'),
    });
  });
  return app;
}
