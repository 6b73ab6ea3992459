// Renders a full page with what every layout needs (user, navigation, version).
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AppDeps, AppEnv } from './env.ts';
import { navigationFor } from './navigation.ts';

export function renderPage(
  c: Context<AppEnv>,
  deps: AppDeps,
  template: string,
  context: Record<string, unknown> = {},
  status: ContentfulStatusCode = 200,
): Response {
  const path = new URL(c.req.url).pathname;
  const user = c.get('user');
  const html = deps.views.render(template, {
    user: user ? { email: user.email, organizationName: user.organization.name } : undefined,
    navigation: user ? navigationFor(path) : [],
    version: deps.version,
    requestId: c.get('requestId'),
    ...context,
  });
  // Signed-in pages show tenant data: never keep them in a shared or back-button cache.
  if (user) c.header('Cache-Control', 'no-store');
  return c.html(html, status);
}
