// Settings › Webhooks of the organization being worked in ("Manage integrations": a webhook
// sends the organization's events to another system, like an API key lets one read them):
// endpoints, their signing secret shown once, the delivery log and "Send test event".
import { type Context, Hono } from 'hono';
import { ValidationError } from '../../errors.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, requirePermission } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import {
  createEndpoint,
  deleteEndpoint,
  type EndpointInput,
  findEndpoint,
  listDeliveries,
  listEndpoints,
  updateEndpoint,
} from '../../webhooks/endpoints.ts';
import { type IWebhookEndpoint, WEBHOOK_EVENT_LABELS, WEBHOOK_EVENT_TYPES } from '../../webhooks/entities.ts';
import { sendTestEvent, type WebhookDeps } from '../../webhooks/sender.ts';
import { formFields, formLists } from '../forms.ts';

const BASE = '/settings/webhooks';
const EVENTS = WEBHOOK_EVENT_TYPES.map((id) => ({ id, label: WEBHOOK_EVENT_LABELS[id] }));

interface EndpointForm {
  id?: string;
  values: { url: string; description: string; events: string[] };
  errors: Record<string, string>;
}

interface PageExtra {
  form?: EndpointForm;
  created?: { url: string; secret: string };
  endpoint?: IWebhookEndpoint;
}

export function webhookRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(BASE, requirePermission('manage_integrations'));
  app.use(`${BASE}/*`, requirePermission('manage_integrations'));
  const options = () => ({ allowPrivate: deps.config.webhooksAllowPrivate });
  const webhookDeps = (c: Context<AppEnv>): WebhookDeps => ({
    orm: deps.orm,
    cipher: deps.credentials,
    settings: deps.config,
    log: c.get('log'),
  });

  const page = async (c: Context<AppEnv>, extra: PageExtra = {}, status: 200 | 422 = 200) => {
    const em = c.get('em');
    const endpoints = await listEndpoints(em, organizationOf(c));
    const deliveries = extra.endpoint ? await listDeliveries(em, extra.endpoint) : [];
    return renderPage(
      c,
      deps,
      'pages/settings/webhooks.njk',
      {
        title: 'Webhooks',
        events: EVENTS,
        allowPrivate: deps.config.webhooksAllowPrivate,
        endpoints: endpoints.map((e) => ({ id: e.id, url: e.url, description: e.description, events: e.events })),
        endpoint: extra.endpoint ? { id: extra.endpoint.id, url: extra.endpoint.url } : undefined,
        deliveries,
        form: extra.form,
        created: extra.created,
        focus: extra.form ? (Object.keys(extra.form.errors)[0] ?? 'url') : undefined,
      },
      status,
    );
  };

  const inputOf = async (c: Context<AppEnv>) => {
    const fields = await formFields(c);
    const { events = [] } = await formLists(c, ['events']);
    return { url: fields.url ?? '', description: fields.description ?? '', events };
  };

  const endpointOf = (c: Context<AppEnv>) => findEndpoint(c.get('em'), organizationOf(c), c.req.param('id') ?? '');
  const formOf = (e: IWebhookEndpoint): EndpointForm => ({
    id: e.id,
    values: { url: e.url, description: e.description, events: e.events },
    errors: {},
  });

  app.get(BASE, (c) => page(c));
  app.get(`${BASE}/new`, (c) => page(c, { form: { values: { url: '', description: '', events: [] }, errors: {} } }));
  app.get(`${BASE}/:id`, async (c) => {
    const endpoint = await endpointOf(c);
    return page(c, { endpoint, form: formOf(endpoint) });
  });

  app.post(BASE, async (c) => {
    const input = await inputOf(c);
    try {
      const { endpoint, secret } = await createEndpoint(
        c.get('em'),
        deps.credentials,
        organizationOf(c),
        input as EndpointInput,
        options(),
        deps.now(),
      );
      // The only time the secret is shown: in this response, never in a URL or a flash.
      return page(c, { created: { url: endpoint.url, secret } });
    } catch (err) {
      if (err instanceof ValidationError) return page(c, { form: { values: input, errors: err.fields ?? {} } }, 422);
      throw err;
    }
  });

  app.post(`${BASE}/:id`, async (c) => {
    const endpoint = await endpointOf(c);
    const input = await inputOf(c);
    try {
      await updateEndpoint(c.get('em'), organizationOf(c), endpoint.id, input as EndpointInput, options());
      return redirectWithFlash(c, deps, `${BASE}/${endpoint.id}`, 'Webhook saved.');
    } catch (err) {
      if (err instanceof ValidationError) {
        return page(c, { endpoint, form: { id: endpoint.id, values: input, errors: err.fields ?? {} } }, 422);
      }
      throw err;
    }
  });

  app.post(`${BASE}/:id/test`, async (c) => {
    const endpoint = await endpointOf(c);
    const delivery = await sendTestEvent(webhookDeps(c), endpoint, deps.now());
    if (delivery.status === 'delivered') {
      const text = `Test event delivered: the endpoint answered ${delivery.lastStatus}.`;
      return redirectWithFlash(c, deps, `${BASE}/${endpoint.id}`, text);
    }
    const text = `Test event not accepted (${delivery.lastStatus ?? 'no answer'}); it is retried like any event.`;
    return redirectWithFlash(c, deps, `${BASE}/${endpoint.id}`, text, 'failure');
  });

  app.post(`${BASE}/:id/delete`, async (c) => {
    const endpoint = await endpointOf(c);
    await deleteEndpoint(c.get('em'), organizationOf(c), endpoint.id);
    return redirectWithFlash(c, deps, BASE, `Webhook to ${endpoint.url} removed.`);
  });

  return app;
}
