// The customer account's homepage: its backup tasks. Tasks arrive with the service
// connectors; until one exists the page says how to get started.
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';

export function homeRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', requireUser(deps), (c) => {
    return renderPage(c, deps, 'pages/home.njk', {
      title: 'Homepage',
      // The account being worked in: an account opened from a portal shows its own name.
      organizationName: c.get('organization')?.name,
    });
  });
  return app;
}
