// Settings › API of the organization being worked in ("manage integrations"): create API keys
// with a scope (the secret is shown once, in the response to the create request, never in a URL
// or again), list them with their scope and whether they are active or suspended, delete them
// after a confirmation. The key service audits every change and bounds scopes by the creator's.
import { type Context, Hono } from 'hono';
import { creatorsScope, type KeyScopeInput, keyStanding } from '../../access/api-key-scope.ts';
import { createApiKey, deleteApiKey, findApiKey, listApiKeys } from '../../access/api-keys.ts';
import type { IApiKey } from '../../access/entities.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { auditActor } from '../../http/audit-actor.ts';
import { requestOrigin } from '../../http/client.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, principalOf, requirePermission } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import { Organization } from '../../identity/entities.ts';
import { PERMISSION_LABELS } from '../../identity/permissions.ts';
import { formFields, formLists } from '../forms.ts';
import { type GrantFormInput, grantFieldsContext, grantFromForm } from '../grant-form.ts';

const BASE = '/settings/api';

/** The scope in words, for the key's row. */
async function scopeSummary(c: Context<AppEnv>, key: IApiKey): Promise<{ rights: string; accounts: string }> {
  const rights =
    key.role === 'administrator'
      ? 'Administrator'
      : `Custom: ${key.permissions.map((p) => PERMISSION_LABELS[p].label).join(', ') || 'no permissions'}`;
  if (key.accessibleAccounts === 'all') return { rights, accounts: 'All accounts' };
  const orgs = await c
    .get('em')
    .find(Organization, { id: { $in: key.accessibleOrganizationIds } }, { orderBy: { name: 'asc' }, fields: ['name'] });
  return { rights, accounts: orgs.map((o) => o.name).join(', ') || 'No accounts' };
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
    const rows = [];
    for (const k of keys) {
      const standing = await keyStanding(c.get('em'), k);
      rows.push({
        clientId: k.id,
        createdAt: k.createdAt,
        createdBy: k.createdByEmail,
        lastUsedAt: k.lastUsedAt ?? null,
        isNew: k.id === extra.created?.clientId,
        scope: await scopeSummary(c, k),
        suspendedBecause: standing.kind === 'suspended' ? standing.reason : null,
      });
    }
    return renderPage(c, deps, 'pages/settings/api.njk', {
      title: 'API',
      organizationName: org.name,
      tokenUrl: `${requestOrigin(c, deps.config)}/api/v1/oauth/token`,
      keys: rows,
      created: extra.created,
      confirmDelete: extra.confirmDelete,
    });
  };

  const formPage = async (
    c: Context<AppEnv>,
    values: GrantFormInput,
    errors: Record<string, string> = {},
    status: 200 | 403 | 422 = 200,
    failure?: string,
  ) =>
    renderPage(
      c,
      deps,
      'pages/settings/api-key-form.njk',
      {
        title: 'Create API key',
        organizationName: organizationOf(c).name,
        values: { ...values, accounts: values.accessibleOrganizationIds },
        errors,
        failure,
        ...(await grantFieldsContext(c, principalOf(c), organizationOf(c))),
      },
      status,
    );

  app.get(BASE, (c) => page(c));

  app.get(`${BASE}/keys/new`, (c) => {
    // Everything the creator holds here is ticked to begin with; they untick what the program does not need.
    const scope = creatorsScope(principalOf(c), organizationOf(c));
    return formPage(c, {
      ...scope,
      permissions: [...scope.permissions],
      accessibleOrganizationIds: [...scope.accessibleOrganizationIds],
    });
  });

  app.post(`${BASE}/keys`, async (c) => {
    const form = await formFields(c);
    const scope =
      form.role === undefined ? undefined : grantFromForm(form, await formLists(c, ['permissions', 'accounts']));
    try {
      const { key, secret } = await createApiKey(
        c.get('em'),
        organizationOf(c),
        principalOf(c),
        auditActor(c, deps),
        scope as KeyScopeInput | undefined,
      );
      c.get('log').info({ clientId: key.id }, 'api key created');
      return page(c, { created: { clientId: key.id, secret } });
    } catch (err) {
      if (!scope) throw err;
      if (err instanceof ValidationError) return formPage(c, scope, err.fields ?? {}, 422);
      if (err instanceof AppError && err.status === 403) return formPage(c, scope, {}, 403, err.message);
      throw err;
    }
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
    return redirectWithFlash(c, deps, BASE, `API key ${clientId} deleted.`);
  });

  return app;
}
