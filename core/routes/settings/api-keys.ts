// Settings › API of the organization being worked in ("manage integrations"): create API keys
// (the secret is shown once, in the response to the create request, never in a URL or again),
// list them, delete them after a confirmation. The key service audits every change.
import { type Context, Hono } from 'hono';
import { createApiKey, deleteApiKey, findApiKey, listApiKeys } from '../../access/api-keys.ts';
import { auditActor } from '../../http/audit-actor.ts';
import { requestOrigin } from '../../http/client.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { organizationOf, principalOf, requirePermission } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';

const BASE = '/settings/api';

function shortTime(date: Date | null | undefined): string | null {
  return date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : null;
}

export function apiKeyRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(BASE, requirePermission('manage_integrations'));
  app.use(`${BASE}/*`, requirePermission('manage_integrations'));

  const page = async (
    c: Context<AppEnv>,
    extra: { created?: { clientId: string; secret: string }; confirmDelete?: string } = {},
  ) => {
    const org = organizationOf(c);
    const keys = await listApiKeys(c.get('em'), org);
    return renderPage(c, deps, 'pages/settings/api.njk', {
      title: 'API',
      organizationName: org.name,
      tokenUrl: `${requestOrigin(c, deps.config)}/api/v1/oauth/token`,
      keys: keys.map((k) => ({
        clientId: k.id,
        createdAt: shortTime(k.createdAt),
        createdBy: k.createdByEmail,
        lastUsedAt: shortTime(k.lastUsedAt),
        isNew: k.id === extra.created?.clientId,
      })),
      created: extra.created,
      confirmDelete: extra.confirmDelete,
      notice: c.req.query('notice'),
    });
  };

  app.get(BASE, (c) => page(c));

  app.post(`${BASE}/keys`, async (c) => {
    const { key, secret } = await createApiKey(c.get('em'), organizationOf(c), principalOf(c), auditActor(c, deps));
    c.get('log').info({ clientId: key.id }, 'api key created');
    return page(c, { created: { clientId: key.id, secret } });
  });

  app.get(`${BASE}/keys/:clientId/delete`, async (c) => {
    const key = await findApiKey(c.get('em'), organizationOf(c), c.req.param('clientId'));
    return page(c, { confirmDelete: key.id });
  });

  app.post(`${BASE}/keys/:clientId/delete`, async (c) => {
    const org = organizationOf(c);
    const key = await findApiKey(c.get('em'), org, c.req.param('clientId'));
    const clientId = key.id;
    await deleteApiKey(c.get('em'), org, key, auditActor(c, deps));
    c.get('log').info({ clientId }, 'api key deleted');
    return c.redirect(`${BASE}?notice=${encodeURIComponent(`API key ${clientId} deleted.`)}`, 303);
  });

  return app;
}
