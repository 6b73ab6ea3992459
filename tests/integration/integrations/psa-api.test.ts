// A PSA integration through /api/v1 and the Settings page, against the Autotask stand-in: added
// with its secret write-only (never in an answer, a page or the audit), the PSA's companies
// searched through the integration's credentials (502 with Autotask's reason when it refuses),
// an account mapped and unmapped (each audited), an account outside the organization and
// another tenant's integration a 404, a kind without companies a 404; removing the integration
// removes its mapping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { IntegrationCompany } from '../../../core/integrations/entities.ts';
import { type AutotaskStandIn, startAutotask } from '../../fakes/psa/autotask.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let autotask: AutotaskStandIn;
let partner: IOrganization;
let northwind: IOrganization;
let stranger: IOrganization;
let cookie: string;
let integrationId: string;
const em = () => t.kernel.orm.em.fork();

beforeAll(async () => {
  autotask = await startAutotask();
  t = await createTestApp({ HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true' });
  await completeSetupVia(t.app);
  const root = await rootOf(em());
  partner = await makeOrganization(em(), root, 'partner', 'MSP Partner');
  northwind = await makeOrganization(em(), partner, 'customer', 'Northwind');
  await makeOrganization(em(), partner, 'customer', 'Contoso');
  const other = await makeOrganization(em(), root, 'partner', 'Other Partner');
  stranger = await makeOrganization(em(), other, 'customer', 'Stranger Co');
  await makeUser(em(), partner, 'tech@msp.example');
  cookie = await signIn(t.app, 'tech@msp.example', TEST_PASSWORD);
}, 60_000);

afterAll(async () => {
  await t?.close();
  await autotask?.close();
});

async function api(method: string, path: string, body?: unknown) {
  const res = await t.app.request(`/api/v1${path}`, {
    method,
    headers: { cookie, origin: ORIGIN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? (JSON.parse(text) as unknown) : null };
}

const base = () => `/organizations/${partner.id}/integrations/${integrationId}`;

describe('PSA integrations through the API', () => {
  it('adds Autotask with a write-only secret and answers field errors', async () => {
    const bad = await api('POST', `/organizations/${partner.id}/integrations`, {
      kind: 'autotask',
      streams: [],
      settings: { username: autotask.username, queueId: 'seven', defaultCompanyId: 'Northwind' },
    });
    expect(bad.status).toBe(422);
    expect((bad.json as { error: { fields: Record<string, string> } }).error.fields).toEqual({
      integrationCode: 'Enter the API tracking identifier (integration code).',
      queueId: 'Enter the queue id as a number.',
      defaultCompanyId: 'Enter the company’s id in the PSA (a number, shown by Choose company below).',
      secret: 'Enter the API user’s secret.',
    });
    const added = await api('POST', `/organizations/${partner.id}/integrations`, {
      kind: 'autotask',
      streams: ['audit'],
      settings: {
        username: autotask.username,
        integrationCode: autotask.integrationCode,
        queueId: 29682833,
        zoneLookupUrl: autotask.url,
      },
      secret: autotask.secret,
    });
    expect(added.status).toBe(201);
    expect(added.text).not.toContain(autotask.secret);
    const body = added.json as { id: string; streams: string[]; settings: Record<string, unknown> };
    integrationId = body.id;
    expect(body.streams).toEqual(['activity']);
    expect(body.settings).toEqual({
      username: autotask.username,
      integrationCode: autotask.integrationCode,
      queueId: 29682833,
      zoneLookupUrl: autotask.url,
      priority: 2,
      newStatus: 1,
      closedStatus: 5,
      closeOnSuccess: true,
    });
  });

  it('searches Autotask’s active companies through the integration’s credentials', async () => {
    expect((await api('GET', `${base()}/companies?search=north`)).json).toEqual([
      { id: '174', name: 'Northwind Traders' },
    ]);
    expect((await api('GET', `${base()}/companies`)).json).toEqual([
      { id: '176', name: 'Contoso Ltd' },
      { id: '0', name: 'MSP One (own company)' },
      { id: '174', name: 'Northwind Traders' },
    ]);
    autotask.revokeCredentials();
    try {
      const refused = await api('GET', `${base()}/companies?search=north`);
      expect(refused.status).toBe(502);
      expect((refused.json as { error: { message: string } }).error.message).toBe(
        'Autotask refused the credentials (HTTP 401: Authorization has been denied for this request.). Check the API user, its secret and the integration code.',
      );
    } finally {
      autotask.restoreCredentials();
    }
  });

  it('maps and unmaps an account, audited; outside accounts and other kinds are a 404', async () => {
    const mapped = await api('PUT', `${base()}/company-mappings/${northwind.id}`, {
      companyId: '174',
      companyName: 'Northwind Traders',
    });
    expect(mapped.status).toBe(200);
    expect(mapped.json).toEqual({
      account: { id: northwind.id, name: 'Northwind' },
      company: { id: '174', name: 'Northwind Traders' },
    });
    expect((await api('GET', `${base()}/company-mappings`)).json).toEqual([
      { account: { id: expect.any(String), name: 'Contoso' }, company: null },
      { account: { id: northwind.id, name: 'Northwind' }, company: { id: '174', name: 'Northwind Traders' } },
    ]);
    expect((await api('GET', `${base()}/company-mappings?accounts=north`)).json).toHaveLength(1);
    expect((await api('PUT', `${base()}/company-mappings/${stranger.id}`, { companyId: '174' })).status).toBe(404);
    expect((await api('PUT', `${base()}/company-mappings/${partner.id}`, { companyId: '174' })).status).toBe(404);
    expect(await em().count(IntegrationCompany, { account: stranger.id })).toBe(0);

    expect((await api('DELETE', `${base()}/company-mappings/${northwind.id}`)).status).toBe(204);
    expect(await em().count(IntegrationCompany, { integration: integrationId })).toBe(0);
    const audit = await em().find(
      AuditEvent,
      { organization: partner.id, activity: 'Integration changed' },
      { orderBy: { id: 'asc' } },
    );
    expect(audit.map((a) => a.description)).toEqual([
      'Autotask company of Northwind: Northwind Traders (id 174)',
      'Autotask company of Northwind removed',
    ]);
    const everything = await em().find(AuditEvent, {});
    expect(JSON.stringify(everything)).not.toContain(autotask.secret);

    const splunk = await api('POST', `/organizations/${partner.id}/integrations`, {
      kind: 'splunk',
      streams: ['activity'],
      settings: { url: 'http://127.0.0.1:9/services/collector/event' },
      secret: 'hec-token',
    });
    const splunkId = (splunk.json as { id: string }).id;
    expect((await api('GET', `/organizations/${partner.id}/integrations/${splunkId}/companies`)).status).toBe(404);
    expect((await api('GET', `/organizations/${partner.id}/integrations/${splunkId}/company-mappings`)).status).toBe(
      404,
    );
  });

  it('refuses to map a company the PSA does not have (422 on the field), or when it cannot be asked (502)', async () => {
    const path = `${base()}/company-mappings/${northwind.id}`;
    const unknown = await api('PUT', path, { companyId: '999', companyName: 'Made Up' });
    expect(unknown.status).toBe(422);
    expect((unknown.json as { error: { fields: Record<string, string> } }).error.fields).toEqual({
      companyId: 'Autotask has no active company with the id 999. Choose one from its list.',
    });
    // Northwind Labs (175) exists but is inactive: the picker never lists it, so it cannot be mapped either.
    expect((await api('PUT', path, { companyId: '175' })).status).toBe(422);
    autotask.revokeCredentials();
    try {
      const refused = await api('PUT', path, { companyId: '174' });
      expect(refused.status).toBe(502);
      expect(refused.json).toMatchObject({
        error: {
          code: 'psa_unavailable',
          message: expect.stringMatching(
            /^The company could not be checked: Autotask refused the credentials \(HTTP 401/,
          ),
        },
      });
      const form = await t.app.request(`/settings/integrations/${integrationId}/companies/${northwind.id}`, {
        method: 'POST',
        headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ companyId: '174', companyName: 'Northwind Traders' }).toString(),
      });
      expect(form.status).toBe(303);
      expect(form.headers.get('location')).toBe(`/settings/integrations/${integrationId}/companies/${northwind.id}`);
    } finally {
      autotask.restoreCredentials();
    }
    expect(await em().count(IntegrationCompany, { account: northwind.id })).toBe(0);

    // A known company is saved under the PSA's own name for it, whatever name was sent.
    const saved = await api('PUT', path, { companyId: '174', companyName: 'typo' });
    expect(saved.json).toEqual({
      account: { id: northwind.id, name: 'Northwind' },
      company: { id: '174', name: 'Northwind Traders' },
    });
    expect((await api('DELETE', path)).status).toBe(204);
  });

  it('records a partner’s mapping change in the customer account’s audit as well as its own', async () => {
    const path = `${base()}/company-mappings/${northwind.id}`;
    const customerAudit = async () =>
      (
        await em().find(
          AuditEvent,
          { organization: northwind.id, activity: 'Integration changed' },
          { orderBy: { id: 'asc' } },
        )
      ).map((a) => [a.description, a.performedBy]);
    const before = (await customerAudit()).length;
    expect((await api('PUT', path, { companyId: '176' })).status).toBe(200);
    expect((await api('DELETE', path)).status).toBe(204);
    expect((await customerAudit()).slice(before)).toEqual([
      ['Autotask company of Northwind (integration of MSP Partner): Contoso Ltd (id 176)', 'tech@msp.example'],
      ['Autotask company of Northwind (integration of MSP Partner) removed', 'tech@msp.example'],
    ]);
  });

  it('shows the mapping on the Settings page and picks a company there, never the secret', async () => {
    const page = await t.app.request(`/settings/integrations/${integrationId}`, {
      headers: { cookie, origin: ORIGIN },
    });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('Companies in Autotask');
    expect(html).toContain('Accounts without a company open no ticket');
    expect(html).not.toContain(autotask.secret);
    const picker = await t.app.request(`/settings/integrations/${integrationId}/companies/${northwind.id}?q=contoso`, {
      headers: { cookie, origin: ORIGIN },
    });
    const pickerHtml = await picker.text();
    expect(pickerHtml).toContain('Contoso Ltd');
    expect(pickerHtml).not.toContain('Northwind Traders');
    const chosen = await t.app.request(`/settings/integrations/${integrationId}/companies/${northwind.id}`, {
      method: 'POST',
      headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ companyId: '176', companyName: 'Contoso Ltd' }).toString(),
    });
    expect(chosen.status).toBe(303);
    expect(await em().findOne(IntegrationCompany, { account: northwind.id })).toMatchObject({
      companyId: '176',
      companyName: 'Contoso Ltd',
    });
    const foreign = await t.app.request(`/settings/integrations/${integrationId}/companies/${stranger.id}`, {
      headers: { cookie, origin: ORIGIN },
    });
    expect(foreign.status).toBe(404);

    // Removing the integration removes its mapping and tickets with it.
    expect((await api('DELETE', base())).status).toBe(204);
    expect(await em().count(IntegrationCompany, {})).toBe(0);
  });
});
