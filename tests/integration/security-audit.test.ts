// Activity › Security Audit: scope (the organization worked in and its reachable accounts),
// every filter, paging, htmx fragments, and the CSV export, which must hold exactly the rows the
// page shows for the same filters across all pages; plus 404/403/sign-in on every route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { principalForUser } from '../../core/access/principal.ts';
import { allAuditRows } from '../../core/audit/audit-service.ts';
import { AuditEvent, type AuditStatus } from '../../core/audit/entities.ts';
import { type IOrganization, type IUser, User } from '../../core/identity/entities.ts';
import { parseCsv } from '../helpers/csv.ts';
import { completeSetupVia, createTestApp, form, signIn, type TestApp } from '../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let partner: IOrganization;
let customer: IOrganization;
let sibling: IOrganization;
let siblingCustomer: IOrganization;
let partnerAdmin: IUser;
let adminCookie: string;
let rootCookie: string;

const em = () => t.kernel.orm.em.fork();
const DAY = 86_400_000;
const BASE = Date.parse('2026-03-01T12:00:00.000Z');

function get(path: string, cookie?: string, headers: Record<string, string> = {}) {
  return t.app.request(path, { headers: { ...(cookie ? { cookie } : {}), ...headers } });
}

function decode(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The descriptions of the table rows of a page, in order. */
function descriptions(html: string): string[] {
  return [...html.matchAll(/<span class="clip description" title="([^"]*)">/g)].map((m) => decode(m[1] as string));
}

/** Every row the page shows for a query, following the pager. */
async function allPageRows(query: string, cookie: string): Promise<string[]> {
  const rows: string[] = [];
  for (let page = 1; page < 100; page++) {
    const sep = query ? '&' : '?';
    const html = await (await get(`/activity/security-audit${query}${sep}page=${page}`, cookie)).text();
    rows.push(...descriptions(html));
    if (!html.includes('>Next</a>')) return rows;
  }
  throw new Error('too many pages');
}

async function exportCsv(query: string, cookie: string): Promise<{ res: Response; rows: string[][] }> {
  const res = await get(`/activity/security-audit/export.csv${query}`, cookie);
  const bytes = new Uint8Array(await res.arrayBuffer());
  // A UTF-8 byte order mark, so spreadsheets read the names right.
  expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  return { res, rows: parseCsv(new TextDecoder().decode(bytes)) };
}

interface Seed {
  org: IOrganization;
  activity: string;
  status: AuditStatus;
  by: string;
  day: number;
  text: string;
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const e = em();
  root = await rootOf(e);
  partner = await makeOrganization(e, root, 'partner', 'Contoso IT');
  customer = await makeOrganization(e, partner, 'customer', 'Fabrikam');
  sibling = await makeOrganization(e, root, 'partner', 'Sibling Partner');
  siblingCustomer = await makeOrganization(e, sibling, 'customer', 'Sibling Customer');
  partnerAdmin = await makeUser(e, partner, 'admin@contoso.example');
  await makeUser(e, partner, 'viewer@contoso.example', { role: 'custom', permissions: ['view_dashboard'] });
  // 130 entries spread over 13 days and four organizations; descriptions are unique so rows can be compared.
  const seeds: Seed[] = [];
  const orgs = [partner, customer, sibling, siblingCustomer, root];
  const activities = ['Sign-in', 'User added', 'Settings changed', 'Account accessed'];
  for (let i = 0; i < 130; i++) {
    seeds.push({
      org: orgs[i % orgs.length] as IOrganization,
      activity: activities[i % activities.length] as string,
      status: i % 7 === 0 ? 'failed' : 'completed',
      by: i % 3 === 0 ? 'jane_doe@contoso.example' : 'janeXdoe@contoso.example',
      day: i % 13,
      text: `Entry ${String(i).padStart(3, '0')}, with "quotes", commas`,
    });
  }
  for (const s of seeds) {
    e.create(AuditEvent, {
      at: new Date(BASE + s.day * DAY + s.text.length * 1000 + Number(s.text.slice(6, 9)) * 10),
      organization: s.org.id,
      activity: s.activity,
      status: s.status,
      service: null,
      // Entries about a user of the account: the page adds which account they belong to.
      account: s.org.kind === 'customer' ? `user${s.text.slice(6, 9)}@example.com` : s.org.name,
      performedBy: s.by,
      performerId: null,
      ip: '192.0.2.1',
      userAgent: null,
      description: s.text,
    });
  }
  e.create(AuditEvent, {
    at: new Date(BASE + 20 * DAY),
    organization: partner.id,
    activity: 'Settings changed',
    status: 'completed',
    account: '=HYPERLINK("http://evil.example")',
    performedBy: 'attacker@contoso.example',
    description: `A very long description ${'that goes on and on '.repeat(30)}`,
  });
  e.create(AuditEvent, {
    at: new Date(BASE + 19 * DAY),
    organization: customer.id,
    activity: 'User added',
    status: 'completed',
    account: '<b>bold</b>@evil.example',
    performedBy: '<i>x</i>@evil.example',
    description: 'Markup in typed values stays text',
  });
  await e.flush();
  adminCookie = await signIn(t.app, partnerAdmin.email, TEST_PASSWORD);
  rootCookie = await signIn(t.app);
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('security audit page', () => {
  it('is a tab of Activity next to System Activity', async () => {
    const res = await get('/activity', adminCookie);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<a href="/activity/security-audit">Security audit</a>');
    const html = await (await get('/activity/security-audit', adminCookie)).text();
    expect(html).toContain('<a href="/activity/security-audit" aria-current="page">Security audit</a>');
    expect(html).toContain('<a href="/activity">System activity</a>');
  });

  it('shows the organization and its accounts, newest first, 50 per page', async () => {
    const res = await get('/activity/security-audit', adminCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    const rows = descriptions(html);
    expect(rows).toHaveLength(50);
    expect(rows[0]).toMatch(/^Signed in with /); // the admin's own sign-in, just now
    expect(rows[1]).toMatch(/^A very long description/);
    expect(rows[2]).toBe('Markup in typed values stays text');
    expect(html).toContain('Page 1 of 2');
    // Partner and customer entries (26 + 26, plus the long one; and the admin's sign-in): none of the sibling's or root's.
    const all = await allPageRows('', adminCookie);
    const own = await em().count(AuditEvent, { organization: { $in: [partner.id, customer.id] } });
    expect(all).toHaveLength(own);
    expect(all.every((d) => !/Entry \d{3}/.test(d) || [0, 1].includes(Number(d.slice(6, 9)) % 5))).toBe(true);
    expect(html).toContain('in Fabrikam'); // entries of accounts under it name the account
    expect(html).toContain('title="A very long description');
    expect(html).toContain('badge-danger">Failed');
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt;@<wbr>evil.example');
    expect(html).toContain('&lt;i&gt;x&lt;/i&gt;@<wbr>evil.example');
    expect(html).not.toContain('<b>bold</b>');
  });

  it('filters by date range (the end date included), activity, status, account and performer', async () => {
    const range = await allPageRows('?from=2026-03-02&to=2026-03-03', adminCookie);
    const expected = await em().count(AuditEvent, {
      organization: { $in: [partner.id, customer.id] },
      at: { $gte: new Date('2026-03-02T00:00:00Z'), $lt: new Date('2026-03-04T00:00:00Z') },
    });
    expect(range).toHaveLength(expected);
    expect(expected).toBeGreaterThan(0);

    const failedSignIns = await allPageRows('?activity=Sign-in&status=failed', adminCookie);
    expect(failedSignIns.length).toBeGreaterThan(0);
    for (const d of failedSignIns) {
      const i = Number(d.slice(6, 9));
      expect(i % 4).toBe(0);
      expect(i % 7).toBe(0);
    }

    const customerOnly = await allPageRows(`?account=${customer.id}`, adminCookie);
    expect(customerOnly.length).toBe(await em().count(AuditEvent, { organization: customer.id }));

    // `_` is a letter here, not a wildcard.
    const byUnderscore = await allPageRows('?performer=jane_doe', adminCookie);
    expect(byUnderscore.every((d) => Number(d.slice(6, 9)) % 3 === 0)).toBe(true);
    expect(byUnderscore.length).toBeGreaterThan(0);
    expect(await allPageRows('?performer=JANEXDOE', adminCookie)).toHaveLength(
      await em().count(AuditEvent, {
        organization: { $in: [partner.id, customer.id] },
        performedBy: 'janeXdoe@contoso.example',
      }),
    );

    const none = await (await get('/activity/security-audit?performer=nobody-at-all', adminCookie)).text();
    expect(none).toContain('No entries match');
    expect(none).toContain('Clear filters');
  });

  it('keeps the filters in the form, the pager and the export link', async () => {
    const html = await (await get('/activity/security-audit?activity=Sign-in&performer=jane', adminCookie)).text();
    expect(html).toContain('<option selected>Sign-in</option>');
    expect(html).toContain('name="performer" type="search" value="jane"');
    expect(html).toContain('href="/activity/security-audit/export.csv?activity=Sign-in&amp;performer=jane"');
  });

  it('explains filters it cannot use', async () => {
    const res = await get(
      '/activity/security-audit?from=2026-02-30&to=yesterday&activity=Nope&status=maybe',
      adminCookie,
    );
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('Enter a date as YYYY-MM-DD.');
    expect(html).toContain('Choose an activity from the list.');
    expect(html).toContain('Choose a status from the list.');
    const reversed = await get('/activity/security-audit?from=2026-03-05&to=2026-03-01', adminCookie);
    expect(await reversed.text()).toContain('The end date is before the start date.');
    expect((await get('/activity/security-audit/export.csv?from=junk', adminCookie)).status).toBe(422);
  });

  it('answers htmx requests with the results fragment', async () => {
    const res = await get('/activity/security-audit?status=failed', adminCookie, { 'hx-request': 'true' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html.trimStart().startsWith('<div id="audit-results"')).toBe(true);
    expect(html).not.toContain('<html');
    expect(html).toContain('export.csv?status=failed');
    const invalid = await get('/activity/security-audit?from=bad', adminCookie, { 'hx-request': 'true' });
    expect(invalid.status).toBe(200); // htmx swaps only successful responses
    expect(await invalid.text()).toContain('Enter a date as YYYY-MM-DD.');
  });

  it('scopes to an opened account when working in it', async () => {
    const open = await t.app.request(`/portal/accounts/${sibling.id}/open`, {
      ...form({}),
      headers: { ...form({}).headers, cookie: rootCookie },
    });
    const inSibling = (open.headers.get('set-cookie') as string).split(';')[0] as string;
    const rows = await allPageRows('', inSibling);
    const expected = await em().count(AuditEvent, { organization: { $in: [sibling.id, siblingCustomer.id] } });
    expect(rows).toHaveLength(expected);
    expect((await get(`/activity/security-audit?account=${customer.id}`, inSibling)).status).toBe(404);
    rootCookie = (
      (
        await t.app.request('/portal/return', { ...form({}), headers: { ...form({}).headers, cookie: inSibling } })
      ).headers.get('set-cookie') as string
    ).split(';')[0] as string;
  });
});

describe("the root administrator's total", () => {
  it("counts every entry of an organization and none of the appliance's own", async () => {
    const e = em();
    // A sign-in attempt of an unknown email belongs to no organization: nobody's page lists it.
    e.create(AuditEvent, {
      at: new Date(BASE + 21 * DAY),
      organization: null,
      activity: 'Sign-in',
      status: 'failed',
      account: 'nobody@unknown.example',
      performedBy: 'nobody@unknown.example',
      description: 'Sign-in failed: unknown email',
    });
    await e.flush();
    const withOrganization = await em().count(AuditEvent, { organization: { $ne: null } });
    expect(await em().count(AuditEvent, { organization: null })).toBeGreaterThan(0);
    const html = await (await get('/activity/security-audit', rootCookie)).text();
    expect(html).toContain(`${withOrganization} entries`);
    expect(descriptions(html)).not.toContain('Sign-in failed: unknown email');
  });
});

describe('CSV export', () => {
  it('holds exactly the filtered rows of all pages, in the same order, then records the export', async () => {
    for (const query of ['', '?status=completed&performer=jane', '?from=2026-03-03&to=2026-03-09&activity=Sign-in']) {
      const pageRows = await allPageRows(query, adminCookie);
      const { res, rows } = await exportCsv(query, adminCookie);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(res.headers.get('content-disposition')).toMatch(
        /^attachment; filename="holdfast-security-audit-\d{4}-\d{2}-\d{2}\.csv"$/,
      );
      const [header, ...data] = rows;
      expect(header).toEqual([
        'Date',
        'Activity',
        'Service',
        'Status',
        'Account',
        'Organization',
        'Performed by',
        'IP address',
        'Description',
      ]);
      // The export's own entry is written after the file, so neither side has it yet.
      expect(data.map((r) => r[8])).toEqual(pageRows);
      const [entry] = await em().find(
        AuditEvent,
        { organization: partner.id, activity: 'Audit exported' },
        { orderBy: { id: 'desc' } },
      );
      expect(entry?.description).toContain(`Exported ${data.length} security audit`);
      expect(entry?.performedBy).toBe(partnerAdmin.email);
    }
  });

  it('names the filters in the audit entry and defuses spreadsheet formulas', async () => {
    const { rows } = await exportCsv(`?account=${partner.id}&performer=attacker`, adminCookie);
    expect(rows).toHaveLength(2);
    expect(rows[1]?.[4]).toBe('\'=HYPERLINK("http://evil.example")');
    const [entry] = await em().find(
      AuditEvent,
      { organization: partner.id, activity: 'Audit exported' },
      { orderBy: { id: 'desc' } },
    );
    expect(entry?.description).toBe(
      'Exported 1 security audit entry as CSV (filters: account Contoso IT, performed by "attacker")',
    );
  });
});

describe('reading all rows for the export', () => {
  it('reads every row exactly once across batches, with ties on the date, newest first', async () => {
    const e = em();
    const bulk = await makeOrganization(e, root, 'customer', 'Bulk Audit Customer');
    const at = new Date('2026-01-01T00:00:00.000Z');
    const rows = Array.from({ length: 2_345 }, (_, i) => ({
      // Groups of 7 entries share one timestamp, and a batch boundary falls inside groups.
      at: new Date(at.getTime() + Math.floor(i / 7) * 1000),
      organization: bulk.id,
      activity: 'Sign-in',
      status: 'completed' as const,
      description: `bulk ${i}`,
    }));
    await e.insertMany(AuditEvent, rows as never);
    const admin = await e.findOneOrFail(User, { email: 'admin@acme.example' }, { populate: ['organization'] });
    const seen: { at: number; id: number }[] = [];
    for await (const row of allAuditRows(em(), principalForUser(admin), bulk, {})) {
      seen.push({ at: row.at.getTime(), id: row.id });
    }
    expect(seen).toHaveLength(rows.length);
    expect(new Set(seen.map((r) => r.id)).size).toBe(rows.length);
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1] as { at: number; id: number }, seen[i] as { at: number; id: number }];
      expect(a.at > b.at || (a.at === b.at && a.id > b.id)).toBe(true);
    }
  });
});

describe('tenant scope and permissions on the audit routes', () => {
  const paths = (id: string) => [
    `/activity/security-audit?account=${id}`,
    `/activity/security-audit/export.csv?account=${id}`,
  ];

  it('answers 404 for the account filter of another tenant, a sibling, a parent or an unknown id', async () => {
    const before = await em().count(AuditEvent);
    for (const id of [siblingCustomer.id, sibling.id, root.id, 'no-such-id']) {
      for (const path of paths(id)) expect((await get(path, adminCookie)).status, path).toBe(404);
    }
    expect(await em().count(AuditEvent)).toBe(before);
  });

  it('sends anonymous callers to sign in', async () => {
    for (const path of ['/activity', '/activity/security-audit', '/activity/security-audit/export.csv']) {
      const res = await get(path);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toMatch(/^\/login\?next=/);
    }
  });

  it('answers 403 without "view security audit"', async () => {
    const cookie = await signIn(t.app, 'viewer@contoso.example', TEST_PASSWORD);
    for (const path of ['/activity/security-audit', '/activity/security-audit/export.csv', ...paths(customer.id)]) {
      expect((await get(path, cookie)).status, path).toBe(403);
    }
  });
});
