// The customer privacy option (seed 001 §2, issue 20): a customer account's own administrator
// removes its partner's access. Then every route of the app and every operation of the OpenAPI
// document, aimed by the partner (an administrator's session and a key with an administrator's
// scope) at the customer's objects, answers 404 and changes nothing — the route lists are
// enumerated (tests/helpers/page-routes.ts, tests/helpers/api-probes.ts), so a route added later
// is covered — while the partner keeps the account's row, status, tiles and usage ("Access
// removed by customer"). The security audit of both records it; only the customer restores it.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../core/activity/entities.ts';
import { AuditEvent } from '../../core/audit/entities.ts';
import { PricePlan } from '../../core/billing/entities.ts';
import { type IOrganization, type IUser, Organization } from '../../core/identity/entities.ts';
import { addDomain } from '../../core/identity/sso/domains.ts';
import { NotificationRecipient } from '../../core/notifications/entities.ts';
import { queueNotification } from '../../core/notifications/queue.ts';
import { recipientsFor } from '../../core/notifications/recipients.ts';
import { SummaryReport } from '../../core/notifications/summary-entities.ts';
import { TaskEntity } from '../../core/tasks/entities.ts';
import { createEndpoint } from '../../core/webhooks/endpoints.ts';
import { WebhookDelivery } from '../../core/webhooks/entities.ts';
import { fanOutWebhookEvents } from '../../core/webhooks/sender.ts';
import { type Json, json } from '../helpers/api.ts';
import {
  adminToken,
  type Ids,
  init,
  OPERATIONS,
  objectsOf,
  probes,
  snapshot,
  UNADDRESSED,
} from '../helpers/api-probes.ts';
import { completeSetupVia, createTestApp, form, ORIGIN, signIn, type TestApp } from '../helpers/kernel.ts';
import { appRoutes, concrete, ID_KINDS, type IdKind, PUBLIC } from '../helpers/page-routes.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../helpers/tenants.ts';

/** What the partner keeps: the account's usage, in the API. */
const API_USAGE_KEPT = new Set(['GET /usage', 'POST /usage/mail', 'GET /organizations/{id}/usage-history']);

let t: TestApp;
let partner: IOrganization;
let customer: IOrganization;
let other: IOrganization;
let partnerAdmin: IUser;
let partnerCookie: string;
let partnerToken: string;
let customerCookie: string;
let victim: Ids;
let byKind: Record<IdKind, string>;
let operations: string[];
const results = mkdtempSync(join(tmpdir(), 'holdfast-partner-access-'));
const em = () => t.kernel.orm.em.fork();

async function get(path: string, cookie: string): Promise<Response> {
  return t.app.request(path, { headers: { cookie } });
}

async function post(path: string, cookie: string, fields: Record<string, string>): Promise<Response> {
  const f = form(fields);
  return t.app.request(path, { ...f, headers: { ...f.headers, cookie } });
}

/** A page route called as a browser would, with a form that would change things if it got through. */
async function callPage(method: string, path: string, cookie: string): Promise<Response> {
  if (method === 'GET') return t.app.request(path, { headers: { cookie, origin: ORIGIN } });
  return t.app.request(path, {
    method,
    headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      name: 'Changed',
      email: 'changed@x.example',
      role: 'administrator',
      approve: 'yes',
      enabled: 'on',
      access: 'restore',
    }).toString(),
  });
}

async function auditOf(org: IOrganization): Promise<string[]> {
  const rows = await em().find(AuditEvent, { organization: org.id }, { orderBy: { id: 'asc' } });
  return rows.map((r) => `${r.activity}: ${r.description}`);
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const root = await rootOf(em());
  partner = await makeOrganization(em(), root, 'partner', 'Harbour IT');
  customer = await makeOrganization(em(), partner, 'customer', 'Private Bakery');
  other = await makeOrganization(em(), partner, 'customer', 'Open Books');
  partnerAdmin = await makeUser(em(), partner, 'admin@harbour.example');
  await makeUser(em(), customer, 'owner@bakery.example');
  await makeUser(em(), customer, 'clerk@bakery.example', { role: 'custom', permissions: ['view_dashboard'] });
  victim = await objectsOf(t, customer, results);
  // The entity has a size, so the usage the partner keeps is a figure worth comparing.
  const e = em();
  const entity = await e.findOneOrFail(TaskEntity, { id: victim.entity });
  entity.status = 'failed';
  entity.lastBytes = 4096;
  entity.lastRunAt = new Date();
  const activity = e.create(ActivityEvent, {
    at: new Date(),
    organization: customer,
    activity: 'Backup',
    status: 'succeeded',
    summary: 'Private run',
  });
  const report = e.create(SummaryReport, {
    id: crypto.randomUUID(),
    organization: customer,
    period: 'd:2026-01-01',
    fileName: 'bakery.csv',
    csv: 'Organization\r\n',
    tokenHash: 'b'.repeat(64),
    createdAt: new Date(),
    expiresAt: new Date(Date.now() + 86_400_000),
  });
  const plan = e.create(PricePlan, {
    issuer: customer,
    name: 'Private plan',
    currency: 'EUR',
    period: 'monthly',
    meters: [{ meter: 'protected', measure: 'max', tiers: [{ upTo: null, unitCents: 100 }] }],
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  await e.flush();
  byKind = {
    user: victim.user,
    ipRule: victim.rule,
    organization: customer.id,
    apiKey: victim.key,
    storageLocation: victim.location,
    task: victim.task,
    activity: String(activity.id),
    job: victim.job,
    recipient: victim.recipient,
    summaryReport: report.id,
    webhook: victim.webhook,
    integration: victim.integration,
    // Kinds are no tenant's: an unknown one is a 404 like the rest.
    integrationKind: 'no-such-kind',
    invoice: victim.invoice,
    plan: String(plan.id),
    ssoProvider: victim.ssoProvider,
    ssoDomain: (await addDomain(e, e.merge(customer), 'bakery.example', new Date())).id,
  };
  partnerCookie = await signIn(t.app, partnerAdmin.email, TEST_PASSWORD);
  partnerToken = await adminToken(t, partnerAdmin, partner);
  customerCookie = await signIn(t.app, 'owner@bakery.example', TEST_PASSWORD);
  const doc = await json(await t.app.request('/api/v1/openapi.json'));
  operations = Object.entries(doc.paths as Record<string, Json>)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .filter((name) => !UNADDRESSED.has(name));
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('before the customer decides', () => {
  it('the partner opens the account and reaches its data; it cannot remove its own access', async () => {
    expect((await get(`/portal/accounts/${customer.id}`, partnerCookie)).status).toBe(200);
    expect((await get(`/api/v1/tasks/${victim.task}`, partnerCookie)).status).toBe(200);
    const res = await t.app.request(`/api/v1/organizations/${customer.id}/partner-access`, {
      method: 'PUT',
      headers: { cookie: partnerCookie, origin: ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ removed: true }),
    });
    expect(res.status).toBe(403);
    expect((await em().findOneOrFail(Organization, { id: customer.id })).partnerAccessRemovedAt).toBeNull();
  });

  it('a customer user who is not an administrator is refused (403), and the Settings page offers nothing', async () => {
    const clerk = await signIn(t.app, 'clerk@bakery.example', TEST_PASSWORD);
    expect((await post('/settings/account/partner-access', clerk, { access: 'remove' })).status).toBe(403);
    expect(await (await get('/settings/account', clerk)).text()).not.toContain('Partner access');
  });
});

describe("after the customer's administrator removed its partner's access", () => {
  beforeAll(async () => {
    // The partner had the account open: that session must fall back to its own organization.
    const opened = await post(`/portal/accounts/${customer.id}/open`, partnerCookie, {});
    expect(opened.status).toBe(303);
    partnerCookie = (opened.headers.get('set-cookie') as string).split(';')[0] as string;
    expect(await (await get('/', partnerCookie)).text()).toContain('Private Bakery');
    const settings = await get('/settings/account', customerCookie);
    expect(await settings.text()).toContain('Remove partner access');
    const res = await post('/settings/account/partner-access', customerCookie, { access: 'remove' });
    expect(res.status).toBe(303);
  });

  it('records it in the security audit of the customer and of the partner', async () => {
    expect((await auditOf(customer)).filter((a) => a.startsWith('Partner access removed'))).toEqual([
      'Partner access removed: Harbour IT can no longer open Private Bakery or reach its data; only its own users can',
    ]);
    expect((await auditOf(partner)).filter((a) => a.startsWith('Partner access removed'))).toEqual([
      'Partner access removed: Private Bakery removed the access of Harbour IT: its row, status and usage stay listed',
    ]);
  });

  it('answers 404 to the partner on every page route that names one of its objects, and changes nothing', async () => {
    const before = await snapshot(t);
    const answers: string[] = [];
    for (const route of appRoutes(t.app)) {
      if (!/:[A-Za-z]/.test(route.path) || route.path.startsWith('/api/')) continue;
      if (PUBLIC.some((p) => p.test(route.path))) continue;
      const kind = ID_KINDS.find(([pattern]) => pattern.test(route.path))?.[1];
      expect(kind, `no id kind known for ${route.method} ${route.path}`).toBeDefined();
      const path = concrete(route, byKind[kind as IdKind]);
      const res = await callPage(route.method, path, partnerCookie);
      answers.push(`${route.method} ${path} ${res.status}`);
    }
    // Pages that pick the account by a filter.
    for (const path of [
      `/activity?account=${customer.id}`,
      `/activity/export.csv?account=${customer.id}`,
      `/activity/security-audit?account=${customer.id}`,
      `/activity/security-audit/export.csv?account=${customer.id}`,
    ]) {
      answers.push(`GET ${path} ${(await get(path, partnerCookie)).status}`);
    }
    expect(answers.length).toBeGreaterThan(40);
    expect(answers.filter((a) => !a.endsWith(' 404'))).toEqual([]);
    expect(await snapshot(t)).toBe(before);
  });

  it('answers 404 to the partner on every API operation for its data, by session and by key, and changes nothing', async () => {
    const before = await snapshot(t);
    const answers: string[] = [];
    const credentials = { session: { cookie: partnerCookie }, key: { token: partnerToken } };
    for (const [actor, credential] of Object.entries(credentials)) {
      for (const probe of probes(operations, victim)) {
        if (API_USAGE_KEPT.has(probe.name)) continue;
        const res = await t.app.request(probe.url, init(probe, credential));
        answers.push(`${actor} ${probe.name} ${res.status}${res.status === 404 ? '' : ` ${await res.text()}`}`);
      }
    }
    expect(answers.length).toBe(2 * (Object.keys(OPERATIONS).length - API_USAGE_KEPT.size));
    expect(answers.filter((a) => !a.endsWith(' 404'))).toEqual([]);
    expect(await snapshot(t)).toBe(before);
  });

  it("keeps the account's row, status and tiles on the partner's Accounts page, without a way in", async () => {
    const html = await (await get('/portal', partnerCookie)).text();
    const row = html.slice(html.indexOf(`id="account-row-${customer.id}"`));
    const cells = row.slice(0, row.indexOf('</tr>'));
    expect(cells).toContain('Private Bakery');
    expect(cells).toContain('Access removed by customer');
    expect(cells).toContain('data-status="failed"');
    expect(cells).toContain('4.1 KB');
    expect(cells).not.toContain(`/portal/accounts/${customer.id}/open`);
    expect(cells).not.toContain(`/portal/accounts/${customer.id}/edit`);
    expect(html).toMatch(
      /backup-tile-failed[^>]*>\s*<span class="tile-title">Failed<\/span>\s*<span class="tile-figure">1</,
    );
    // The session that had the account open works in the partner again.
    expect(html).toContain('Harbour IT');
  });

  it('keeps its usage: the report lists its figures without its names, and its monthly history', async () => {
    const csv = await (await get(`/portal/usage.csv?account=${customer.id}`, partnerCookie)).text();
    const lines = csv.trim().split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('Private Bakery');
    expect(lines[1]).toContain('Access removed by customer');
    expect(lines[1]).not.toContain('A task');
    expect(lines[1]).not.toContain('Entity');
    expect(lines[1]?.endsWith(',4096,0')).toBe(true);
    const api = await t.app.request(`/api/v1/usage?account=${customer.id}`, {
      headers: { authorization: `Bearer ${partnerToken}` },
    });
    expect(api.status).toBe(200);
    expect((await api.text()).replace(/^\uFEFF/, '')).toBe(csv.replace(/^\uFEFF/, ''));
    const history = await t.app.request(`/api/v1/organizations/${customer.id}/usage-history`, {
      headers: { authorization: `Bearer ${partnerToken}` },
    });
    expect(history.status).toBe(200);
    expect((await json(history)).organizationId).toBe(customer.id);
    const mailed = await t.app.request('/api/v1/usage/mail', {
      method: 'POST',
      headers: { authorization: `Bearer ${partnerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ account: [customer.id] }),
    });
    expect(mailed.status).toBe(202);
    expect(await json(mailed)).toMatchObject({ recipients: ['admin@harbour.example'], rows: 1 });
  });

  it("leaves its rows out of the partner's activity and audit lists, and the other customer reachable", async () => {
    const activity = await json(
      await t.app.request('/api/v1/activity', { headers: { authorization: `Bearer ${partnerToken}` } }),
    );
    expect(JSON.stringify(activity)).not.toContain('Private run');
    const audit = await json(
      await t.app.request('/api/v1/audit', { headers: { authorization: `Bearer ${partnerToken}` } }),
    );
    const orgs = new Set((audit.items as Json[]).map((row) => row.organizationId ?? row.organization?.id));
    expect(orgs.has(customer.id)).toBe(false);
    expect((await get(`/portal/accounts/${other.id}`, partnerCookie)).status).toBe(200);
    expect((await get(`/api/v1/organizations/${other.id}`, partnerCookie)).status).toBe(200);
  });

  it("leaves its rows out of the root administrator's activity and audit lists and their CSV", async () => {
    const root = await signIn(t.app);
    for (const path of ['/activity', '/activity/export.csv']) {
      const res = await get(path, root);
      expect([path, res.status]).toEqual([path, 200]);
      expect(await res.text()).not.toContain('Private run');
    }
    const audit = await get('/activity/security-audit/export.csv', root);
    expect(audit.status).toBe(200);
    // The Organization column (the sixth) never names the customer; its own entries exist.
    const organizations = (await audit.text()).split('\r\n').map((line) => line.split(',')[5]);
    expect(organizations).toContain('Harbour IT');
    expect(organizations).not.toContain('Private Bakery');
    expect(await em().count(AuditEvent, { organization: customer.id })).toBeGreaterThan(0);
  });

  it("stops the partner's notification recipients and webhooks from receiving its events", async () => {
    const e = em();
    e.create(NotificationRecipient, {
      organization: partner.id,
      email: 'noc@harbour.example',
      emailKey: 'noc@harbour.example',
      displayName: 'Harbour NOC',
      types: ['exceptions', 'recovery'],
      createdAt: new Date(),
    });
    await e.flush();
    const { endpoint } = await createEndpoint(
      em(),
      t.kernel.credentials,
      partner,
      { url: 'http://127.0.0.1:9/harbour', events: ['exceptions'] },
      { allowPrivate: true },
      new Date(),
    );
    // The other customer still inherits them; the private one (no recovery recipient of its own) does not.
    expect((await recipientsFor(em(), other.id, 'recovery')).map((r) => r.email)).toEqual(['noc@harbour.example']);
    expect(await recipientsFor(em(), customer.id, 'recovery')).toEqual([]);
    for (const org of [customer, other]) {
      await queueNotification(em(), {
        organizationId: org.id,
        type: 'exceptions',
        eventKey: `privacy-test:${org.id}`,
        payload: { event: 'failed', organizationName: org.name, taskName: 'A task', items: ['Entity'] },
        at: new Date(),
      });
    }
    await fanOutWebhookEvents(em(), { mailRetryBaseSeconds: 1, webhooksAllowPrivate: true }, new Date());
    const deliveries = await em().find(WebhookDelivery, { endpoint: endpoint.id });
    expect(deliveries.map((d) => JSON.parse(d.body).organization.id)).toEqual([other.id]);
  });

  it("lets the customer's own users work as before", async () => {
    expect((await get(`/api/v1/tasks/${victim.task}`, customerCookie)).status).toBe(200);
    expect((await get('/', customerCookie)).status).toBe(200);
  });

  it('skips the account in bulk actions, saying why, and changes nothing', async () => {
    const before = await snapshot(t);
    const res = await t.app.request('/portal/bulk', {
      method: 'POST',
      headers: { cookie: partnerCookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([
        ['account', customer.id],
        ['action', 'pause'],
      ]).toString(),
    });
    expect(res.status).toBe(303);
    const page = await (
      await get('/portal', `${partnerCookie}; ${res.headers.get('set-cookie')?.split(';')[0]}`)
    ).text();
    expect(page).toContain('Private Bakery left as it was: Access removed by customer.');
    expect(await snapshot(t)).toBe(before);
  });
});

describe('restoring access', () => {
  it('is the customer’s decision: the partner cannot (404), the customer can, and the audit says so', async () => {
    const byPartner = await t.app.request(`/api/v1/organizations/${customer.id}/partner-access`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${partnerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ removed: false }),
    });
    expect(byPartner.status).toBe(404);
    expect((await post('/settings/account/partner-access', customerCookie, { access: 'restore' })).status).toBe(303);
    expect((await get(`/api/v1/tasks/${victim.task}`, partnerCookie)).status).toBe(200);
    // The session that had the account open was sent back to the partner: it opens it anew.
    expect((await get(`/portal/accounts/${customer.id}`, partnerCookie)).status).toBe(200);
    expect((await auditOf(partner)).filter((a) => a.startsWith('Partner access restored'))).toEqual([
      'Partner access restored: Private Bakery restored the access of Harbour IT',
    ]);
    expect((await auditOf(customer)).filter((a) => a.startsWith('Partner access restored'))).toHaveLength(1);
  });
});
