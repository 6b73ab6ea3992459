// The homepage of the organization worked in: its backup tasks (service, name, connection state,
// entities by status, last backup and its size, next scheduled run) with a search by task name
// or service (seed 002: "enter a keyword in the Search field to find a specific task"), "Add
// backup task" for those who may manage backups, and the deleted tasks that can still be
// restored during their grace period.
import { Hono } from 'hono';
import { hasPermission } from '../access/principal.ts';
import { foldText } from '../db/fold.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderFragment, wantsFragment } from '../http/htmx.ts';
import { organizationOf, principalOf, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { servicePlugin, servicePlugins } from '../plugins/registry.ts';
import { ENTITY_STATUSES } from '../tasks/entities.ts';
import {
  ENTITY_STATUS_LABELS,
  entityCountsByTask,
  lastBackupBytesByTask,
  lastBackupsByTask,
  nextRunOf,
} from '../tasks/task-overview.ts';
import { listDeletedTasks, listTasks } from '../tasks/tasks-service.ts';
import { statusView } from './tasks.ts';

export function homeRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', requireUser(deps), async (c) => {
    const em = c.get('em');
    const organization = organizationOf(c);
    const now = deps.now();
    const all = await listTasks(em, organization);
    const q = (c.req.query('q') ?? '').trim().slice(0, 200);
    const serviceOf = (service: string) => servicePlugin(service)?.label ?? service;
    // An account holds a handful of tasks: matched here, ignoring case and accents like every search.
    const needle = foldText(q);
    const tasks = q
      ? all.filter((t) => foldText(t.name).includes(needle) || foldText(serviceOf(t.service)).includes(needle))
      : all;
    const ids = tasks.map((t) => t.id);
    const counts = await entityCountsByTask(em, ids);
    const sizes = await lastBackupBytesByTask(em, ids);
    const lastBackups = await lastBackupsByTask(em, ids);
    const rows = [];
    for (const task of tasks) {
      const byStatus = counts.get(task.id);
      rows.push({
        id: task.id,
        name: task.name,
        service: serviceOf(task.service),
        connected: task.connectionState === 'connected',
        paused: task.status === 'paused',
        statuses: ENTITY_STATUSES.filter((s) => (byStatus?.[s] ?? 0) > 0).map((s) => ({
          ...statusView(s),
          count: byStatus?.[s] ?? 0,
        })),
        lastBackup: lastBackups.get(task.id) ?? null,
        lastBackupBytes: sizes.get(task.id) ?? 0,
        nextRun: nextRunOf(task, now),
      });
    }
    const list = {
      rows,
      q,
      taskCount: all.length,
      canManage: hasPermission(principalOf(c), 'manage_backups'),
      servicesInstalled: servicePlugins().length > 0,
    };
    if (wantsFragment(c)) {
      c.header('HX-Push-Url', q ? `/?q=${encodeURIComponent(q)}` : '/');
      return renderFragment(c, deps.views, 'partials/home-tasks.njk', list);
    }
    // A task past its grace period waits for its purge job: it can no longer be restored.
    const restorable = (await listDeletedTasks(em, organization)).filter((t) => t.purgeAfter && t.purgeAfter > now);
    const deleted = restorable.map((task) => ({
      id: task.id,
      name: task.name,
      service: servicePlugin(task.service)?.label ?? task.service,
      deletedAt: task.deletedAt,
      purgeAfter: task.purgeAfter,
    }));
    return renderPage(c, deps, 'pages/home.njk', {
      title: 'Homepage',
      // The account being worked in: an account opened from a portal shows its own name.
      organizationName: organization.name,
      ...list,
      deleted,
      statusLabels: ENTITY_STATUS_LABELS,
    });
  });
  return app;
}
