// GET /api/v1/tasks/{id}/usage.csv: the usage report of a backup task (seed 3.4) — the same CSV
// the task page offers (core/tasks/usage-report.ts), for a task within the caller's reach.
import { createRoute, z } from '@hono/zod-openapi';
import { csvResponse } from '../http/csv-response.ts';
import type { AppDeps } from '../http/env.ts';
import { kindLabeller } from '../routes/task-usage.ts';
import { USAGE_CSV_HEADER, usageFileName, usageRows } from '../tasks/usage-report.ts';
import { createApiRouter, requirePrincipal, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';
import { reachableTask } from './tasks.ts';

const usageRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/usage.csv',
  tags: ['Backup tasks'],
  summary: 'Export the usage report of a backup task as CSV',
  description:
    'Every backed-up user, folder, object or metadata type of the task (deleted ones left out), by type and name: its status, the items and bytes of its last snapshot, when that snapshot was taken and how many it has, its last backup and that run’s added/updated/deleted counts, and its last error.',
  security: SECURED,
  middleware: [requirePrincipal],
  request: {
    params: z.object({
      id: z
        .string()
        .max(36)
        .openapi({ param: { name: 'id', in: 'path' }, description: 'Backup task id.' }),
    }),
  },
  responses: {
    200: { description: 'CSV (RFC 4180)', content: { 'text/csv': { schema: z.string() } } },
    ...errorResponses(401, 404),
  },
});

export function taskUsageApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  api.openapi(usageRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    return csvResponse(c, {
      fileName: usageFileName(task, deps.now()),
      header: USAGE_CSV_HEADER,
      rows: usageRows(c.get('em').fork(), task, kindLabeller(task.service)),
      bom: true,
    });
  });
  return api;
}
