// Liveness (the process answers) and readiness (database and default storage usable).
import { access, constants } from 'node:fs/promises';
import { Hono } from 'hono';
import { isDatabaseReachable } from '../db/database.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';

export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const [database, storage] = await Promise.all([
      isDatabaseReachable(deps.orm),
      access(deps.config.storageDir, constants.W_OK).then(
        () => true,
        () => false,
      ),
    ]);
    const ready = database && storage;
    return c.json(
      {
        status: ready ? 'ready' : 'unavailable',
        checks: { database: database ? 'ok' : 'unreachable', storage: storage ? 'ok' : 'not writable' },
      },
      ready ? 200 : 503,
    );
  });
  return app;
}

/**
 * The whole HTTP surface of a worker node (HOLDFAST_NODE_ROLE=worker): health checks for the
 * orchestrator; the UI and API are the web nodes'.
 */
export function workerNodeApp(deps: AppDeps): Hono<AppEnv> {
  const app = healthRoutes(deps);
  app.notFound((c) =>
    c.json(
      {
        error: 'not_found',
        message: 'This node runs jobs only (HOLDFAST_NODE_ROLE=worker): it answers /healthz and /readyz.',
      },
      404,
    ),
  );
  return app;
}
