// The accounts list's row actions (issue 20): the account profile (short ID, address, country,
// a contact email unique among a portal's customers), the pencil editing a row in place (htmx
// fragments) or on its own page, and the bulk actions on ticked rows — pause and resume backups,
// assign a storage location — with what they skip said, their audit entries, and 404 for a
// ticked account outside the portal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../core/audit/entities.ts';
import { type IOrganization, type IUser, Organization } from '../../core/identity/entities.ts';
import { OrganizationStorage, StorageLocation } from '../../core/storage-locations/entities.ts';
import { BackupTask } from '../../core/tasks/entities.ts';
import { CONTACT_EMAIL_TAKEN } from '../../core/tenancy/organizations.ts';
import { json } from '../helpers/api.ts';
import { completeSetupVia, createTestApp, form, ORIGIN, signIn, type TestApp } from '../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../helpers/tenants.ts';

let t: TestApp;
let partner: IOrganization;
let otherPartner: IOrganization;
let alpha: IOrganization;
let beta: IOrganization;
let foreign: IOrganization;
let admin: IUser;
let cookie: string;
const em = () => t.kernel.orm.em.fork();

async function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return t.app.request(path, { headers: { cookie, ...headers } });
}

async function post(path: string, fields: [string, string][], headers: Record<string, string> = {}) {
  return t.app.request(path, {
    method: 'POST',
    headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** The banner the list shows after a redirect (the flash cookie the answer set). */
async function bannerAfter(res: Response): Promise<string> {
  const flash = (res.headers.get('set-cookie') ?? '').split(';')[0];
  const html = await (await get(res.headers.get('location') ?? '/portal', { cookie: `${cookie}; ${flash}` })).text();
  return /class="alert alert-(?:success|error)" role="(?:status|alert)">([^<]*)</.exec(html)?.[1] ?? '';
}

async function task(org: IOrganization, name: string, storageLocation: string | null = null) {
  const e = em();
  const made = e.create(BackupTask, {
    organization: org.id,
    service: 'test-service',
    name,
    connection: 'not-a-sealed-connection',
    storageLocation,
  });
  await e.flush();
  return made.id;
}

async function statusOf(id: string): Promise<string> {
  return (await em().findOneOrFail(BackupTask, { id })).status;
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const root = await rootOf(em());
  partner = await makeOrganization(em(), root, 'partner', 'Harbour IT');
  otherPartner = await makeOrganization(em(), root, 'partner', 'Other MSP');
  alpha = await makeOrganization(em(), partner, 'customer', 'Alpha Dental');
  beta = await makeOrganization(em(), partner, 'customer', 'Beta Books');
  foreign = await makeOrganization(em(), otherPartner, 'customer', 'Foreign Foods');
  admin = await makeUser(em(), partner, 'admin@harbour.example');
  cookie = await signIn(t.app, admin.email, TEST_PASSWORD);
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('account profile', () => {
  it('gives every new account a short ID of its kind, shown in the list and on the account', async () => {
    const res = await post('/portal/new', [
      ['kind', 'customer'],
      ['name', 'Gamma Garage'],
      ['contactEmail', 'it@gamma.example'],
    ]);
    expect(res.status).toBe(303);
    const gamma = await em().findOneOrFail(Organization, { name: 'Gamma Garage' });
    expect(gamma.code).toMatch(/^C[2-9A-HJ-NP-Z]{7}$/);
    expect(alpha.code).toMatch(/^C[2-9A-HJ-NP-Z]{7}$/);
    expect(partner.code).toMatch(/^P[2-9A-HJ-NP-Z]{7}$/);
    expect(await (await get('/portal')).text()).toContain(`<span class="account-code">${gamma.code}</span>`);
    const details = await (await get(`/portal/accounts/${gamma.id}`)).text();
    expect(details).toContain('<dt>Account ID</dt><dd><span class="account-code">');
    expect(details).toContain(gamma.code as string);
    // Searching the list by the whole ID, in any case, finds the account.
    const found = await (await get(`/portal?q=${gamma.code?.toLowerCase()}`)).text();
    expect(found).toContain('Gamma Garage');
    expect(found).not.toContain('Alpha Dental');
  });

  it("refuses a contact email another customer of the portal uses, with the field's message, but not another portal's", async () => {
    const again = await post('/portal/new', [
      ['kind', 'customer'],
      ['name', 'Gamma Twin'],
      ['contactEmail', 'IT@gamma.example'],
    ]);
    expect(again.status).toBe(422);
    expect(await again.text()).toContain(CONTACT_EMAIL_TAKEN.replaceAll("'", '&#39;'));
    const api = await t.app.request(`/api/v1/organizations/${beta.id}`, {
      method: 'PATCH',
      headers: { cookie, origin: ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ contactEmail: 'it@gamma.example' }),
    });
    expect(api.status).toBe(422);
    expect((await json(api)).error.fields).toEqual({ contactEmail: CONTACT_EMAIL_TAKEN });
    // Another partner's customer may use it: the check says nothing about other tenants.
    const e = em();
    const other = await e.findOneOrFail(Organization, { id: foreign.id });
    other.contactEmail = 'it@gamma.example';
    await e.flush();
    expect(await em().count(Organization, { contactEmail: 'it@gamma.example' })).toBe(2);
  });

  it('takes address and country through the API, refusing an unknown country', async () => {
    const patch = (body: unknown) =>
      t.app.request(`/api/v1/organizations/${beta.id}`, {
        method: 'PATCH',
        headers: { cookie, origin: ORIGIN, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const wrong = await patch({ country: 'QQ' });
    expect(wrong.status).toBe(422);
    expect((await json(wrong)).error.fields).toEqual({ country: 'Choose a country from the list.' });
    const ok = await json(await patch({ address: '1 Quay Street\nPort Town', country: 'ie' }));
    expect(ok).toMatchObject({ address: '1 Quay Street\nPort Town', country: 'IE', partnerAccessRemoved: false });
    expect(ok.code).toBe(beta.code);
    const details = await (await get(`/portal/accounts/${beta.id}`)).text();
    expect(details).toContain('<dd>Ireland</dd>');
  });
});

describe('the pencil', () => {
  const hx = { 'hx-request': 'true' };

  it('swaps the row for its edit form and back', async () => {
    const list = await (await get('/portal')).text();
    expect(list).toContain(`hx-get="/portal/accounts/${alpha.id}/edit"`);
    const formHtml = (await (await get(`/portal/accounts/${alpha.id}/edit`, hx)).text()).trimStart();
    expect(formHtml).toMatch(new RegExp(`^<tr id="account-row-${alpha.id}" class="row-editing">`));
    expect(formHtml).toContain('name="address"');
    expect(formHtml).toContain('<option value="IE">Ireland</option>');
    const cancel = (await (await get(`/portal/accounts/${alpha.id}/row`, hx)).text()).trimStart();
    expect(cancel).toMatch(new RegExp(`^<tr id="account-row-${alpha.id}">`));
    expect(cancel).toContain('Alpha Dental');
  });

  it('saves in place: the answer is the changed row, and the audit of the account and the portal say what changed', async () => {
    const res = await post(
      `/portal/accounts/${alpha.id}/edit`,
      [
        ['name', 'Alpha Dental Care'],
        ['contactName', 'Ana'],
        ['contactEmail', 'ops@alpha.example'],
        ['phone', '+353 1 555 0100'],
        ['address', 'Dock Road 4'],
        ['country', 'PT'],
      ],
      hx,
    );
    expect(res.status).toBe(200);
    const row = (await res.text()).trimStart();
    expect(row).toMatch(new RegExp(`^<tr id="account-row-${alpha.id}">`));
    expect(row).toContain('Alpha Dental Care');
    expect(row).toContain('ops@alpha.example');
    const saved = await em().findOneOrFail(Organization, { id: alpha.id });
    expect([saved.name, saved.contactName, saved.phone, saved.address, saved.country]).toEqual([
      'Alpha Dental Care',
      'Ana',
      '+353 1 555 0100',
      'Dock Road 4',
      'PT',
    ]);
    const audit = await em().find(AuditEvent, { activity: 'Settings changed', account: 'Alpha Dental Care' });
    expect(audit.map((a) => (a.organization as { id: string }).id).sort()).toEqual([alpha.id, partner.id].sort());
    expect(audit[0]?.description).toBe(
      'Account details of Alpha Dental Care changed: name, contactName, contactEmail, phone, address, country',
    );
  });

  it('answers a wrong field with the form again (422), its message under the field, nothing saved', async () => {
    const res = await post(
      `/portal/accounts/${alpha.id}/edit`,
      [
        ['name', 'Alpha Dental Care'],
        ['contactEmail', 'it@gamma.example'],
        ['phone', 'call me'],
      ],
      hx,
    );
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('class="row-editing"');
    expect(html).toContain('Use digits, spaces and + ( ) - . only.');
    const unchanged = await em().findOneOrFail(Organization, { id: alpha.id });
    expect(unchanged.phone).toBe('+353 1 555 0100');
  });

  it('works without htmx: its own page, then back to the account with a banner', async () => {
    const page = await get(`/portal/accounts/${beta.id}/edit`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1 class="wrap-anywhere">Edit Beta Books</h1>');
    const res = await post(`/portal/accounts/${beta.id}/edit`, [
      ['name', 'Beta Books'],
      ['contactEmail', 'books@beta.example'],
    ]);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/portal/accounts/${beta.id}`);
    expect(await bannerAfter(res)).toBe('Account details saved.');
    // Fields the form left out stay as they were.
    expect((await em().findOneOrFail(Organization, { id: beta.id })).country).toBe('IE');
  });

  it("is a 404 for another tenant's account", async () => {
    expect((await get(`/portal/accounts/${foreign.id}/edit`, hx)).status).toBe(404);
    expect((await post(`/portal/accounts/${foreign.id}/edit`, [['name', 'Taken']], hx)).status).toBe(404);
    expect((await get(`/portal/accounts/${foreign.id}/row`, hx)).status).toBe(404);
    expect((await em().findOneOrFail(Organization, { id: foreign.id })).name).toBe('Foreign Foods');
  });
});

describe('bulk actions', () => {
  it('pause and resume the backups of the ticked accounts, and the portal audit sums it up', async () => {
    const a1 = await task(alpha, 'Alpha mail');
    const a2 = await task(alpha, 'Alpha files');
    const b1 = await task(beta, 'Beta mail');
    const paused = await post('/portal/bulk', [
      ['account', alpha.id],
      ['account', beta.id],
      ['action', 'pause'],
    ]);
    expect(paused.status).toBe(303);
    expect(await bannerAfter(paused)).toBe('Paused the backups of 2 accounts (3 backup tasks changed).');
    expect([await statusOf(a1), await statusOf(a2), await statusOf(b1)]).toEqual(['paused', 'paused', 'paused']);
    const summary = await em().findOneOrFail(AuditEvent, {
      organization: partner.id,
      activity: 'Backup task changed',
    });
    expect(summary.description).toBe('Paused 3 backup tasks of 2 accounts: Alpha Dental Care, Beta Books');
    const resumed = await post('/portal/bulk', [
      ['account', beta.id],
      ['action', 'resume'],
    ]);
    expect(await bannerAfter(resumed)).toBe('Resumed the backups of 1 account (1 backup task changed).');
    expect([await statusOf(a1), await statusOf(b1)]).toEqual(['paused', 'active']);
  });

  it('assigns a storage location, leaving an account whose backups live elsewhere as it was, said so', async () => {
    const e = em();
    const location = e.create(StorageLocation, {
      organization: partner.id,
      name: 'Harbour bucket',
      kind: 'local',
      settings: { path: '/nonexistent/harbour' },
      sealedSecrets: null,
      description: null,
      lastTestedAt: null,
      lastTestOk: null,
      lastTestSentence: null,
      lastTestDetail: null,
    });
    await e.flush();
    // Beta already wrote a snapshot somewhere: its location is fixed.
    await task(beta, 'Beta archive', 'builtin');
    const list = await (await get('/portal')).text();
    expect(list).toContain(`<option value="${location.id}">Harbour bucket</option>`);
    const res = await post('/portal/bulk', [
      ['account', alpha.id],
      ['account', beta.id],
      ['action', 'storage'],
      ['location', location.id],
    ]);
    const banner = await bannerAfter(res);
    expect(banner).toMatch(
      /^Assigned the storage location to 1 account\. Beta Books left as it was: Backups of Beta Books are kept at .+; the storage location cannot change once backups exist\.$/,
    );
    const chosen = await em().find(OrganizationStorage, { location: location.id });
    expect(chosen.map((r) => (r.organization as { id: string }).id)).toEqual([alpha.id]);
    const audit = await em().findOneOrFail(AuditEvent, {
      organization: alpha.id,
      activity: 'Storage location changed',
    });
    expect(audit.description).toBe('Backups of Alpha Dental Care go to Harbour bucket');
  });

  it("offers the locations the add-account form offers, in its order, never another portal's", async () => {
    const e = em();
    const root = await rootOf(e);
    const location = (organization: string, name: string) =>
      e.create(StorageLocation, {
        organization,
        name,
        kind: 'local',
        settings: { path: `/nonexistent/${name}` },
        sealedSecrets: null,
        description: null,
        lastTestedAt: null,
        lastTestOk: null,
        lastTestSentence: null,
        lastTestDetail: null,
      });
    location(root.id, 'Appliance vault');
    location(partner.id, 'A partner bucket');
    location(otherPartner.id, 'Another portal bucket');
    await e.flush();
    const list = await (await get('/portal')).text();
    const select = /<select[^>]*name="location"[^>]*>([\s\S]*?)<\/select>/.exec(list)?.[1] ?? '';
    const offered = [...select.matchAll(/<option value="[^"]+">([^<]*)<\/option>/g)].map((m) => m[1]);
    const form = await (await get('/portal/new')).text();
    const formSelect = /<select[^>]*name="storageLocationId"[^>]*>([\s\S]*?)<\/select>/.exec(form)?.[1] ?? '';
    const formOffered = [...formSelect.matchAll(/<option value="[^"]+"[^>]*>([^<]*)<\/option>/g)].map((m) => m[1]);
    expect(offered).toEqual(formOffered);
    expect(offered.indexOf('Appliance vault')).toBeLessThan(offered.indexOf('A partner bucket'));
    expect(offered).not.toContain('Another portal bucket');
  });

  it('needs a ticked account and an action, and is a 404 for an account outside the portal (nothing changes)', async () => {
    expect(await bannerAfter(await post('/portal/bulk', [['action', 'pause']]))).toBe(
      'Tick at least one account first.',
    );
    expect(await bannerAfter(await post('/portal/bulk', [['account', alpha.id]]))).toBe(
      'Choose what to do with the ticked accounts.',
    );
    const foreignTask = await task(foreign, 'Foreign mail');
    const res = await post('/portal/bulk', [
      ['account', alpha.id],
      ['account', foreign.id],
      ['action', 'resume'],
    ]);
    expect(res.status).toBe(404);
    expect(await statusOf(foreignTask)).toBe('active');
    expect(
      (await em().find(BackupTask, { organization: alpha.id, deletedAt: null })).every((x) => x.status === 'paused'),
    ).toBe(true);
  });

  it('needs "Add accounts" (403 for a user with only the dashboard)', async () => {
    await makeUser(em(), partner, 'viewer@harbour.example', { role: 'custom', permissions: ['view_dashboard'] });
    const viewer = await signIn(t.app, 'viewer@harbour.example', TEST_PASSWORD);
    const f = form({ account: alpha.id, action: 'resume' });
    const res = await t.app.request('/portal/bulk', { ...f, headers: { ...f.headers, cookie: viewer } });
    expect(res.status).toBe(403);
    const list = await (await t.app.request('/portal', { headers: { cookie: viewer } })).text();
    expect(list).toContain('Export usage report (CSV)');
    expect(list).not.toContain('Pause backups');
    expect(list).not.toContain('/edit"');
  });
});
