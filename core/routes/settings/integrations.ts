// Settings › Integrations of the organization being worked in — a partner working inside a
// customer account sets one up on its behalf ("Manage integrations", like webhooks and API
// keys): a tile per integration with its state (Active / Failing since … with the last error /
// Off), add, edit, delete and "Send test event". The secret is a write-only field. A customer
// account's page also lists the PSA integrations of the portals above it with its company in
// each (changed through integration-companies.ts by those who may manage that portal).
import { type Context, Hono } from 'hono';
import { NotFoundError, ValidationError } from '../../errors.ts';
import { auditActorOf } from '../../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, principalOf, requirePermission } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import type { IOrganization } from '../../identity/entities.ts';
import type { IntegrationKind } from '../../integrations/contract.ts';
import type { IIntegration } from '../../integrations/entities.ts';
import {
  createIntegration,
  deleteIntegration,
  findIntegration,
  integrationState,
  listIntegrations,
  streamsFor,
  updateIntegration,
} from '../../integrations/integrations.ts';
import { INTEGRATION_KINDS, integrationKind } from '../../integrations/kinds.ts';
import { type AccountMapping, companyMappings, MAPPING_PAGE } from '../../integrations/psa-companies.ts';
import { inheritedMappings } from '../../integrations/psa-inherited.ts';
import { type IntegrationDeps, sendIntegrationTest } from '../../integrations/sender.ts';
import { formFields, formLists } from '../forms.ts';
import { integrationCompanyRoutes } from './integration-companies.ts';

const BASE = '/settings/integrations';

/** The streams' labels as the organization's users read them. */
export function streamLabels(org: IOrganization): Record<string, string> {
  return org.kind === 'customer'
    ? { activity: 'Activity events (backups, restores, exports …)', audit: 'Security audit log' }
    : {
        activity: 'Customers’ activity events (backups, restores, exports …)',
        audit: 'Customers’ security audit logs',
        own: 'This portal’s own events (its security audit and activity)',
      };
}

interface FormState {
  id?: string;
  kind: IntegrationKind;
  values: Record<string, unknown>;
  errors: Record<string, string>;
  /** A PSA's company mapping (edit only). */
  mapping?: { rows: AccountMapping[]; filter: string; defaultCompanyId: string | undefined; full: boolean };
}

function tileOf(i: IIntegration) {
  const kind = integrationKind(i.kind);
  return {
    id: i.id,
    label: kind?.label ?? i.kind,
    target: kind ? kind.target(i.settings as never) : '',
    state: integrationState(i),
    failingSince: i.failingSince,
    lastError: i.lastError,
    lastDeliveredAt: i.lastDeliveredAt,
    deliveredCount: i.deliveredCount,
    streams: i.streams,
  };
}

export function integrationRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(BASE, requirePermission('manage_integrations'));
  app.use(`${BASE}/*`, requirePermission('manage_integrations'));
  app.route('/', integrationCompanyRoutes(deps));
  const options = () => ({ allowPrivate: deps.config.webhooksAllowPrivate });
  const senderDeps = (c: Context<AppEnv>): IntegrationDeps => ({
    orm: deps.orm,
    cipher: deps.credentials,
    settings: deps.config,
    log: c.get('log'),
  });

  const page = async (c: Context<AppEnv>, form?: FormState, status: 200 | 422 = 200) => {
    const org = organizationOf(c);
    const integrations = await listIntegrations(c.get('em'), org);
    const labels = streamLabels(org);
    return renderPage(
      c,
      deps,
      'pages/settings/integrations.njk',
      {
        title: 'Integrations',
        kinds: INTEGRATION_KINDS.map((k) => ({
          id: k.id,
          label: k.label,
          category: k.category,
          description: k.description,
        })),
        tiles: integrations.map(tileOf),
        streams: streamsFor(org).map((id) => ({ id, label: labels[id] })),
        accountLevel: org.kind === 'customer',
        // The PSA integrations of the portals above this account and its company in each.
        inherited: form ? [] : await inheritedMappings(c.get('em'), principalOf(c), org),
        account: { id: org.id, name: org.name },
        form: form && {
          id: form.id,
          kind: {
            id: form.kind.id,
            label: form.kind.label,
            fields: form.kind.fields,
            secret: form.kind.secret,
            fixedStreams: !!form.kind.fixedStreams,
            psa: !!form.kind.psa,
            invoicesHelp: form.kind.invoicesHelp,
          },
          values: form.values,
          errors: form.errors,
          mapping: form.mapping,
        },
        focus: form ? (Object.keys(form.errors)[0] ?? form.kind.fields[0]?.name) : undefined,
      },
      status,
    );
  };

  const inputOf = async (c: Context<AppEnv>, kind: IntegrationKind) => {
    const fields = await formFields(c);
    const { streams = [] } = await formLists(c, ['streams']);
    const settings: Record<string, unknown> = {};
    for (const f of kind.fields)
      settings[f.name] = f.type === 'checkbox' ? fields[f.name] === 'on' : (fields[f.name] ?? '');
    return {
      streams,
      settings,
      secret: kind.secret ? (fields[kind.secret.name] ?? '') : '',
      enabled: fields.enabled === 'on',
    };
  };

  const kindOf = (id: string | undefined) => {
    const kind = integrationKind(id ?? '');
    if (!kind) throw new NotFoundError('No such kind of integration.');
    return kind;
  };
  const integrationOf = (c: Context<AppEnv>) =>
    findIntegration(c.get('em'), organizationOf(c), c.req.param('id') ?? '');

  app.get(BASE, (c) => page(c));
  app.get(`${BASE}/new/:kind`, (c) => {
    const kind = kindOf(c.req.param('kind'));
    const ticked = kind.fields.filter((f) => f.defaultOn).map((f) => [f.name, true]);
    const values = { enabled: true, streams: streamsFor(organizationOf(c)), ...Object.fromEntries(ticked) };
    return page(c, { kind, values, errors: {} });
  });
  app.get(`${BASE}/:id`, async (c) => {
    const i = await integrationOf(c);
    const kind = kindOf(i.kind);
    const filter = (c.req.query('accounts') ?? '').slice(0, 200);
    const rows = kind.psa ? await companyMappings(c.get('em'), organizationOf(c), i, filter) : undefined;
    const mapping = rows && {
      rows,
      filter,
      defaultCompanyId: i.settings.defaultCompanyId as string | undefined,
      full: rows.length === MAPPING_PAGE,
    };
    const values = { ...i.settings, streams: i.streams, enabled: i.enabled };
    return page(c, { id: i.id, kind, values, errors: {}, mapping });
  });

  app.post(`${BASE}/new/:kind`, async (c) => {
    const kind = kindOf(c.req.param('kind'));
    const input = await inputOf(c, kind);
    try {
      const i = await createIntegration(
        c.get('em'),
        deps.credentials,
        organizationOf(c),
        { kind: kind.id, ...input },
        options(),
        auditActorOf(c, deps),
        deps.now(),
      );
      return redirectWithFlash(c, deps, BASE, `${kind.label} integration added: ${kind.target(i.settings as never)}.`);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const values = { ...input.settings, streams: input.streams, enabled: input.enabled };
      return page(c, { kind, values, errors: err.fields ?? {} }, 422);
    }
  });

  app.post(`${BASE}/:id`, async (c) => {
    const i = await integrationOf(c);
    const kind = kindOf(i.kind);
    const input = await inputOf(c, kind);
    try {
      await updateIntegration(
        c.get('em'),
        deps.credentials,
        organizationOf(c),
        i.id,
        input,
        options(),
        auditActorOf(c, deps),
        deps.now(),
      );
      return redirectWithFlash(c, deps, BASE, `${kind.label} integration saved.`);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const values = { ...input.settings, streams: input.streams, enabled: input.enabled };
      return page(c, { id: i.id, kind, values, errors: err.fields ?? {} }, 422);
    }
  });

  app.post(`${BASE}/:id/test`, async (c) => {
    const i = await integrationOf(c);
    const result = await sendIntegrationTest(senderDeps(c), i, principalOf(c).label, deps.now());
    if (result.ok) return redirectWithFlash(c, deps, BASE, 'Test event delivered.');
    return redirectWithFlash(c, deps, BASE, `Test event not delivered: ${result.reason}`, 'failure');
  });

  app.post(`${BASE}/:id/delete`, async (c) => {
    const i = await integrationOf(c);
    const kind = kindOf(i.kind);
    await deleteIntegration(c.get('em'), organizationOf(c), i.id, auditActorOf(c, deps));
    return redirectWithFlash(c, deps, BASE, `${kind.label} integration removed.`);
  });

  return app;
}
