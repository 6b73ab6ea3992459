// The usage drill-down pages of a backup task (seed 3.4, 5.2): an object's (entity's) records
// added / updated / deleted per day over 7, 14 or 30 days, reached from its row on the task page,
// and the task's service API calls per day. Open to whoever sees the task; another
// organization's task or entity is "not found".
import { Hono } from 'hono';
import { NotFoundError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { organizationOf, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { TaskEntity } from '../tasks/entities.ts';
import { getTask } from '../tasks/tasks-service.ts';
import { DRILLDOWN_DAYS, drilldownDays, entityChangesPerDay, taskUsagePerDay } from '../tasks/usage-drilldown.ts';
import { groupedChart, type Series } from './drilldown-chart.ts';
import { tableDay } from './task-chart.ts';

const CHANGES: Series[] = [
  { key: 'added', label: 'Added', className: 'chart-bar-added' },
  { key: 'updated', label: 'Updated', className: 'chart-bar-updated' },
  { key: 'deleted', label: 'Deleted', className: 'chart-bar-deleted' },
];
const CALLS: Series[] = [{ key: 'apiCalls', label: 'API calls', className: 'chart-bar' }];

export function taskDrilldownRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/tasks/:id/entities/:entityId/changes', requireUser(deps));
  app.use('/tasks/:id/api-calls', requireUser(deps));

  app.get('/tasks/:id/entities/:entityId/changes', async (c) => {
    const em = c.get('em');
    const task = await getTask(em, organizationOf(c), c.req.param('id'));
    const entity = await em.findOne(TaskEntity, { id: c.req.param('entityId'), task, deletedAt: null });
    if (!entity) throw new NotFoundError('No such item in this backup task.');
    const days = drilldownDays(c.req.query('days'));
    const perDay = await entityChangesPerDay(em, task, entity, days, deps.now());
    return renderPage(c, deps, 'pages/tasks/drilldown.njk', {
      title: `${entity.name} · ${task.name}`,
      task: { id: task.id, name: task.name },
      heading: entity.name,
      what: `${entity.name}: records added, updated and deleted per day`,
      base: `/tasks/${task.id}/entities/${entity.id}/changes`,
      days,
      ranges: DRILLDOWN_DAYS,
      chart: groupedChart(perDay, CHANGES),
      series: CHANGES,
      rows: perDay.map((d) => ({ ...d, label: tableDay(d.day) })),
      showCalls: perDay.some((d) => d.apiCalls > 0),
    });
  });

  app.get('/tasks/:id/api-calls', async (c) => {
    const em = c.get('em');
    const task = await getTask(em, organizationOf(c), c.req.param('id'));
    const days = drilldownDays(c.req.query('days'));
    const perDay = await taskUsagePerDay(em, task, days, deps.now());
    return renderPage(c, deps, 'pages/tasks/drilldown.njk', {
      title: `API calls · ${task.name}`,
      task: { id: task.id, name: task.name },
      heading: 'API calls per day',
      what: `${task.name}: calls to the service's API per day, by its backups`,
      base: `/tasks/${task.id}/api-calls`,
      days,
      ranges: DRILLDOWN_DAYS,
      chart: groupedChart(perDay, CALLS),
      series: CALLS,
      rows: perDay.map((d) => ({ ...d, label: tableDay(d.day) })),
      showCalls: true,
      callsOnly: true,
    });
  });
  return app;
}
