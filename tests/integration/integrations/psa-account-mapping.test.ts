// A partner's PSA company mapping from below and in bulk (issue 22, Deliver 4), against the
// Autotask stand-in: inside a customer account, the partner's Autotask integration is listed
// with the account's company and the partner's administrator picks one through the same PSA
// search (another account or another tenant's integration a 404); the customer's own
// administrator sees it read-only (403 on the picker and on a change); from the partner's
// Accounts list, three ticked accounts are mapped to one company (each audited), a foreign
// ticked account or integration is a 404 that changes nothing, as does a company id Autotask does
// not have, and a user without "Manage integrations" gets a 403.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Integration, IntegrationCompany } from '../../../core/integrations/entities.ts';
import { createIntegration } from '../../../core/integrations/integrations.ts';
import { type AutotaskStandIn, startAutotask } from '../../fakes/psa/autotask.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let autotask: AutotaskStandIn;
let partner: IOrganization;
let northwind: IOrganization;
let contoso: IOrganization;
let fabrikam: IOrganization;
let stranger: IOrganization;
let integrationId: string;
let strangerIntegrationId: string;
let partnerCookie: string;
let insideCookie: string;
let customerCookie: string;
const em = () => t.kernel.orm.em.fork();
const ACTOR = { label: 'setup', id: 'u0', ip: '192.0.2.1' };

async function get(path: string, cookie: string): Promise<Response> {
  return t.app.request(path, { headers: { cookie } });
}

async function post(path: string, cookie: string, fields: [string, string][]): Promise<Response> {
  return t.app.request(path, {
    method: 'POST',
    headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

/** The banner shown after a redirect (the flash cookie the answer set). */
async function bannerAfter(res: Response, cookie: string): Promise<string> {
  const flash = (res.headers.get('set-cookie') ?? '').split(';')[0];
  const html = await (await get(res.headers.get('location') ?? '/', `${cookie}; ${flash}`)).text();
  return /class="alert alert-(?:success|error)" role="(?:status|alert)">([^<]*)</.exec(html)?.[1] ?? '';
}

async function autotaskOf(org: IOrganization): Promise<string> {
  const i = await createIntegration(
    em(),
    t.kernel.credentials,
    org,
    {
      kind: 'autotask',
      streams: ['activity'],
      settings: {
        username: autotask.username,
        integrationCode: autotask.integrationCode,
        queueId: '29682833',
        zoneLookupUrl: autotask.url,
      },
      secret: autotask.secret,
    },
    { allowPrivate: true },
    ACTOR,
    new Date(),
  );
  return i.id;
}

const mappingsOf = async (integration: string) =>
  (await em().find(IntegrationCompany, { integration }, { populate: ['account'], orderBy: { companyId: 'asc' } }))
    .map((r) => `${(r.account as IOrganization).name} → ${r.companyName} (${r.companyId})`)
    .sort();

const auditOf = async (org: IOrganization) =>
  (
    await em().find(AuditEvent, { organization: org.id, activity: 'Integration changed' }, { orderBy: { id: 'asc' } })
  ).map((a) => a.description);

beforeAll(async () => {
  autotask = await startAutotask();
  t = await createTestApp({ HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true' });
  await completeSetupVia(t.app);
  const root = await rootOf(em());
  partner = await makeOrganization(em(), root, 'partner', 'MSP Partner');
  northwind = await makeOrganization(em(), partner, 'customer', 'Northwind');
  contoso = await makeOrganization(em(), partner, 'customer', 'Contoso');
  fabrikam = await makeOrganization(em(), partner, 'customer', 'Fabrikam');
  const other = await makeOrganization(em(), root, 'partner', 'Other Partner');
  stranger = await makeOrganization(em(), other, 'customer', 'Stranger Co');
  integrationId = await autotaskOf(partner);
  strangerIntegrationId = await autotaskOf(other);
  await makeUser(em(), partner, 'tech@msp.example');
  await makeUser(em(), northwind, 'admin@northwind.example');
  partnerCookie = await signIn(t.app, 'tech@msp.example', TEST_PASSWORD);
  customerCookie = await signIn(t.app, 'admin@northwind.example', TEST_PASSWORD);
  // A second session of the partner's administrator, working inside Northwind.
  const second = await signIn(t.app, 'tech@msp.example', TEST_PASSWORD);
  const opened = await post(`/portal/accounts/${northwind.id}/open`, second, []);
  expect(opened.status).toBe(303);
  insideCookie = (opened.headers.get('set-cookie') as string).split(';')[0] as string;
}, 60_000);

afterAll(async () => {
  await t?.close();
  await autotask?.close();
});

describe("a customer account's Settings › Integrations", () => {
  it('shows the partner’s Autotask unmapped, and lets the partner pick the company through Autotask’s search', async () => {
    const page = await (await get('/settings/integrations', insideCookie)).text();
    expect(page).toContain('PSA tickets from above');
    expect(page).toContain('Autotask <span class="muted">· of MSP Partner</span>');
    expect(page).toContain('Not mapped — failures open no ticket');
    expect(page).toContain(`href="/settings/integrations/${integrationId}/companies/${northwind.id}"`);

    const picker = await get(`/settings/integrations/${integrationId}/companies/${northwind.id}?q=north`, insideCookie);
    expect(picker.status).toBe(200);
    const pickerHtml = await picker.text();
    expect(pickerHtml).toContain('Northwind Traders');
    expect(pickerHtml).not.toContain('Contoso Ltd');
    expect(pickerHtml).toContain('href="/settings/integrations#psa-companies">Back to Integrations');
    expect(pickerHtml).not.toContain(autotask.secret);

    const chosen = await post(`/settings/integrations/${integrationId}/companies/${northwind.id}`, insideCookie, [
      ['companyId', '174'],
      ['companyName', 'Northwind Traders'],
    ]);
    expect(chosen.status).toBe(303);
    expect(chosen.headers.get('location')).toBe('/settings/integrations#psa-companies');
    expect(await bannerAfter(chosen, insideCookie)).toBe('Northwind: tickets go to Northwind Traders in Autotask.');
    expect(await mappingsOf(integrationId)).toEqual(['Northwind → Northwind Traders (174)']);
    expect(await auditOf(partner)).toEqual(['Autotask company of Northwind: Northwind Traders (id 174)']);
    const after = await (await get('/settings/integrations', insideCookie)).text();
    expect(after).toContain('Northwind Traders <span class="muted">· id 174</span>');
  });

  it('says where an unmapped account goes when the integration has a default company', async () => {
    const setDefault = async (defaultCompanyId: string | undefined) => {
      const e = em();
      const i = await e.findOneOrFail(Integration, { id: integrationId });
      i.settings = { ...i.settings, defaultCompanyId };
      await e.flush();
    };
    await setDefault('0');
    try {
      const removed = await post(
        `/settings/integrations/${integrationId}/companies/${northwind.id}/delete`,
        insideCookie,
        [],
      );
      expect(removed.status).toBe(303);
      expect(await bannerAfter(removed, insideCookie)).toBe('Northwind: company mapping removed.');
      const page = await (await get('/settings/integrations', insideCookie)).text();
      expect(page).toContain('Not mapped — tickets go to the default company (id 0)');
    } finally {
      await setDefault(undefined);
    }
    expect(await auditOf(partner)).toEqual([
      'Autotask company of Northwind: Northwind Traders (id 174)',
      'Autotask company of Northwind removed',
    ]);
  });

  it('answers 404 for another account than the one worked in, and for another tenant’s integration', async () => {
    const before = await mappingsOf(integrationId);
    for (const path of [
      `/settings/integrations/${integrationId}/companies/${contoso.id}`,
      `/settings/integrations/${integrationId}/companies/${stranger.id}`,
      `/settings/integrations/${strangerIntegrationId}/companies/${northwind.id}`,
    ]) {
      expect((await get(`${path}?q=north`, insideCookie)).status, path).toBe(404);
      expect((await post(path, insideCookie, [['companyId', '176']])).status, path).toBe(404);
      expect((await post(`${path}/delete`, insideCookie, [])).status, path).toBe(404);
    }
    expect(await mappingsOf(integrationId)).toEqual(before);
    expect(await mappingsOf(strangerIntegrationId)).toEqual([]);
  });

  it('shows the customer’s own administrator the mapping read-only (403 on a change)', async () => {
    await post(`/settings/integrations/${integrationId}/companies/${northwind.id}`, insideCookie, [
      ['companyId', '174'],
      ['companyName', 'Northwind Traders'],
    ]);
    const page = await (await get('/settings/integrations', customerCookie)).text();
    expect(page).toContain('Northwind Traders <span class="muted">· id 174</span>');
    expect(page).toContain('Set by MSP Partner');
    expect(page).not.toContain(`/settings/integrations/${integrationId}/companies/`);
    // The partner's settings (its API user, its queue) are not the customer's to read.
    expect(page).not.toContain(autotask.username);
    const picker = `/settings/integrations/${integrationId}/companies/${northwind.id}`;
    expect((await get(picker, customerCookie)).status).toBe(403);
    expect((await post(picker, customerCookie, [['companyId', '176']])).status).toBe(403);
    expect((await post(`${picker}/delete`, customerCookie, [])).status).toBe(403);
    expect(await mappingsOf(integrationId)).toEqual(['Northwind → Northwind Traders (174)']);
  });
});

describe('the same through /api/v1', () => {
  it('answers the account’s companies above it, editable for the partner only; another tenant’s account a 404', async () => {
    const path = `/api/v1/organizations/${northwind.id}/psa-companies`;
    const expected = (editable: boolean) => [
      {
        integration: { id: integrationId, label: 'Autotask' },
        owner: { id: partner.id, name: 'MSP Partner' },
        company: { id: '174', name: 'Northwind Traders' },
        defaultCompanyId: null,
        editable,
      },
    ];
    expect(await (await get(path, partnerCookie)).json()).toEqual(expected(true));
    expect(await (await get(path, customerCookie)).json()).toEqual(expected(false));
    expect(await (await get(`/api/v1/organizations/${partner.id}/psa-companies`, partnerCookie)).json()).toEqual([]);
    expect((await get(`/api/v1/organizations/${stranger.id}/psa-companies`, partnerCookie)).status).toBe(404);
  });
});

describe('bulk mapping from the Accounts list', () => {
  it('offers "Map to PSA company…" with the partner’s PSA integrations', async () => {
    const page = await (await get('/portal', partnerCookie)).text();
    expect(page).toContain('formaction="/portal/bulk/psa-company">Map to PSA company…');
    expect(page).toContain(
      `<option value="${integrationId}">Autotask · ${autotask.username} (queue 29682833)</option>`,
    );
    // The customer's administrator has no Accounts list; its own list of integrations offers nothing to map in bulk.
    expect(await (await get('/portal', customerCookie)).text()).not.toContain('Map to PSA company');
  });

  it('maps three ticked accounts to a company found by searching Autotask, one audit entry each', async () => {
    const ticked: [string, string][] = [
      ['account', northwind.id],
      ['account', contoso.id],
      ['account', fabrikam.id],
      ['integration', integrationId],
      ['sort', 'name'],
      ['q', 'o'],
    ];
    const picker = await post('/portal/bulk/psa-company', partnerCookie, [...ticked, ['company', 'contoso']]);
    expect(picker.status).toBe(200);
    const html = await picker.text();
    expect(html).toContain('3 ticked accounts');
    expect(html).toContain('Contoso, Fabrikam, Northwind.');
    expect(html).toContain('aria-label="Use Contoso Ltd for 3 ticked accounts"');
    expect(html).not.toContain('Northwind Traders');
    // The list's own search goes back to the list; the company search is its own field.
    expect(html).toContain('<input type="hidden" name="q" value="o">');
    expect(html).toContain('name="company" type="search" value="contoso"');

    const mapped = await post('/portal/bulk/psa-company/map', partnerCookie, [
      ...ticked,
      ['companyId', '176'],
      ['companyName', 'Contoso Ltd'],
    ]);
    expect(mapped.status).toBe(303);
    expect(mapped.headers.get('location')).toBe('/portal?q=o&sort=name');
    expect(await bannerAfter(mapped, partnerCookie)).toBe('Mapped 3 accounts to Contoso Ltd (id 176) in Autotask.');
    expect(await mappingsOf(integrationId)).toEqual([
      'Contoso → Contoso Ltd (176)',
      'Fabrikam → Contoso Ltd (176)',
      'Northwind → Contoso Ltd (176)',
    ]);
    expect((await auditOf(partner)).slice(-3)).toEqual([
      'Autotask company of Contoso: Contoso Ltd (id 176)',
      'Autotask company of Fabrikam: Contoso Ltd (id 176)',
      'Autotask company of Northwind: Contoso Ltd (id 176)',
    ]);
  });

  it('needs "Manage integrations" besides "Add accounts" (403, nothing offered)', async () => {
    await makeUser(em(), partner, 'clerk@msp.example', {
      role: 'custom',
      permissions: ['view_dashboard', 'add_accounts'],
    });
    const clerk = await signIn(t.app, 'clerk@msp.example', TEST_PASSWORD);
    expect(await (await get('/portal', clerk)).text()).not.toContain('Map to PSA company');
    const fields: [string, string][] = [
      ['account', northwind.id],
      ['integration', integrationId],
      ['companyId', '174'],
    ];
    expect((await post('/portal/bulk/psa-company', clerk, fields)).status).toBe(403);
    expect((await post('/portal/bulk/psa-company/map', clerk, fields)).status).toBe(403);
  });

  it('refuses a foreign ticked account or integration with a 404, and asks for what is missing', async () => {
    const before = await mappingsOf(integrationId);
    const audits = (await auditOf(partner)).length;
    const foreignAccount = await post('/portal/bulk/psa-company/map', partnerCookie, [
      ['account', northwind.id],
      ['account', stranger.id],
      ['integration', integrationId],
      ['companyId', '174'],
    ]);
    expect(foreignAccount.status).toBe(404);
    const foreignIntegration = await post('/portal/bulk/psa-company', partnerCookie, [
      ['account', northwind.id],
      ['integration', strangerIntegrationId],
    ]);
    expect(foreignIntegration.status).toBe(404);
    const noIntegration = await post('/portal/bulk/psa-company', partnerCookie, [['account', northwind.id]]);
    expect(noIntegration.status).toBe(303);
    expect(await bannerAfter(noIntegration, partnerCookie)).toBe('Choose the PSA integration to map the accounts in.');
    const noCompany = await post('/portal/bulk/psa-company/map', partnerCookie, [
      ['account', northwind.id],
      ['integration', integrationId],
    ]);
    expect(await bannerAfter(noCompany, partnerCookie)).toBe('Choose a company from the PSA’s list.');
    // A company id Autotask does not have (typed into a crafted form) maps nothing.
    const unknownCompany = await post('/portal/bulk/psa-company/map', partnerCookie, [
      ['account', northwind.id],
      ['integration', integrationId],
      ['companyId', '999'],
      ['companyName', 'Made Up'],
    ]);
    expect(await bannerAfter(unknownCompany, partnerCookie)).toBe(
      'Autotask has no active company with the id 999. Choose one from its list.',
    );
    expect(await mappingsOf(integrationId)).toEqual(before);
    expect(await auditOf(partner)).toHaveLength(audits);
  });
});
