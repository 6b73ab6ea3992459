// The usage report download of a backup task's page (seed 3.4): a CSV of every backed-up entity
// with its status, counts and last snapshot, for any connector. Open to whoever sees the task.
import { Hono } from 'hono';
import { csvResponse } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { organizationOf, requireUser } from '../http/middleware.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { getTask } from '../tasks/tasks-service.ts';
import { USAGE_CSV_HEADER, usageFileName, usageRows } from '../tasks/usage-report.ts';

/** Names an entity kind with its service's label ("Data", "Team folders"), or the kind itself. */
export function kindLabeller(service: string): (kind: string) => string {
  const labels = new Map(servicePlugin(service)?.entityKinds.map((k) => [k.kind, k.label]) ?? []);
  return (kind) => labels.get(kind) ?? kind;
}

export function taskUsageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/tasks/:id/usage.csv', requireUser(deps));
  app.get('/tasks/:id/usage.csv', async (c) => {
    const task = await getTask(c.get('em'), organizationOf(c), c.req.param('id'));
    return csvResponse(c, {
      fileName: usageFileName(task, deps.now()),
      header: USAGE_CSV_HEADER,
      rows: usageRows(c.get('em').fork(), task, kindLabeller(task.service)),
      bom: true,
    });
  });
  return app;
}
