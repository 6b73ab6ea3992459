// The portal: the accounts list (scope, search, filters, sort, paging, htmx fragments), adding
// an account with its first administrator, opening an account and coming back (session rotation,
// banner, audit entries), removal and restore; every route tried with ids of another tenant,
// a sibling partner and a parent (404), without sign-in (redirect/401) and without permission (403).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../core/audit/entities.ts';
import { type IOrganization, type IUser, Organization, User } from '../../core/identity/entities.ts';
import { MailMessage } from '../../core/mail/entities.ts';
import { completeSetupVia, createTestApp, form, ORIGIN, signIn, type TestApp } from '../helpers/kernel.ts';
import { flashOf } from '../helpers/security.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let distributor: IOrganization;
let partner: IOrganization;
let sibling: IOrganization;
let otherTenant: IOrganization;
let fabrikam: IOrganization;
let tailspin: IOrganization;
let siblingCustomer: IOrganization;
let otherCustomer: IOrganization;
let direct: IOrganization;
let partnerAdmin: IUser;
let viewer: IUser;
let selectedUser: IUser;
let customerAdmin: IUser;
let rootCookie: string;
let adminCookie: string;
let viewerCookie: string;

const em = () => t.kernel.orm.em.fork();

function get(path: string, cookie?: string, headers: Record<string, string> = {}) {
  return t.app.request(path, { headers: { ...(cookie ? { cookie } : {}), ...headers } });
}

function post(path: string, cookie: string | undefined, fields: Record<string, string> = {}) {
  const f = form(fields);
  return t.app.request(path, { ...f, headers: { ...f.headers, ...(cookie ? { cookie } : {}) } });
}

/** The account names in the table of a portal page, in order. */
function accountNames(html: string): string[] {
  return [...html.matchAll(/<button type="submit" class="link-button" title="Open [^"]*">([^<]*)<\/button>/g)].map(
    (m) => m[1] as string,
  );
}

function cookieFrom(res: Response): string {
  const value = res.headers.get('set-cookie');
  if (!value) throw new Error('no cookie set');
  return value.split(';')[0] as string;
}

async function auditOf(org: IOrganization, activity: string) {
  return em().find(AuditEvent, { organization: org.id, activity }, { orderBy: { id: 'desc' } });
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const e = em();
  root = await rootOf(e);
  distributor = await makeOrganization(e, root, 'distributor', 'Northwind Distribution');
  partner = await makeOrganization(e, distributor, 'partner', 'Contoso IT');
  sibling = await makeOrganization(e, distributor, 'partner', 'Sibling Partner');
  otherTenant = await makeOrganization(e, root, 'distributor', 'Other Distribution');
  fabrikam = await makeOrganization(e, partner, 'customer', 'Fabrikam');
  tailspin = await makeOrganization(e, partner, 'customer', 'Tailspin Toys');
  // Both can be created within one millisecond; "oldest first" needs a real difference.
  tailspin.createdAt = new Date(fabrikam.createdAt.getTime() + 1000);
  await e.flush();
  siblingCustomer = await makeOrganization(e, sibling, 'customer', 'Sibling Customer');
  otherCustomer = await makeOrganization(e, otherTenant, 'customer', 'Other Customer');
  direct = await makeOrganization(e, root, 'customer', 'Direct Customer');
  fabrikam.contactEmail = 'it@fabrikam.example';
  tailspin.contactEmail = 'ops_team@tailspin.example';
  await e.flush();
  // Enough accounts under the sibling partner for a second page.
  for (let i = 1; i <= 27; i++) {
    await makeOrganization(e, sibling, 'customer', `Bulk ${String(i).padStart(2, '0')}`);
  }
  partnerAdmin = await makeUser(e, partner, 'admin@contoso.example');
  viewer = await makeUser(e, partner, 'viewer@contoso.example', { role: 'custom', permissions: ['view_dashboard'] });
  selectedUser = await makeUser(e, partner, 'selected@contoso.example', {
    role: 'custom',
    permissions: ['view_dashboard'],
    accessible: [tailspin.id],
  });
  customerAdmin = await makeUser(e, fabrikam, 'admin@fabrikam.example');
  rootCookie = await signIn(t.app);
  adminCookie = await signIn(t.app, partnerAdmin.email, TEST_PASSWORD);
  viewerCookie = await signIn(t.app, viewer.email, TEST_PASSWORD);
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('accounts list', () => {
  it('shows the direct children the user may reach, with kind, email, status and creation date', async () => {
    const res = await get('/portal', adminCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(accountNames(html)).toEqual(['Fabrikam', 'Tailspin Toys']);
    expect(html).toContain('it@fabrikam.example');
    expect(html).toContain('Customer account');
    expect(html).toContain('badge-success">Active');
    expect(html).toContain('2 accounts');
    expect(html).not.toContain('Sibling Customer');
    expect(html).not.toContain('Other Customer');
    expect(html).toContain('aria-current="page"><svg'); // the Accounts entry is the current one
  });

  it('shows direct children by default and the whole subtree with "show all levels"', async () => {
    expect(accountNames(await (await get('/portal', rootCookie)).text())).toEqual([
      'Direct Customer',
      'Northwind Distribution',
      'Other Distribution',
    ]);
    const all = accountNames(await (await get('/portal?all=1&kind=customer&q=o', rootCookie)).text());
    expect(all).toEqual(['Direct Customer', 'Other Customer', 'Sibling Customer', 'Tailspin Toys']);
  });

  it('searches by name or contact email, literally and ignoring case', async () => {
    expect(accountNames(await (await get('/portal?q=FABRI', adminCookie)).text())).toEqual(['Fabrikam']);
    expect(accountNames(await (await get('/portal?q=ops_team', adminCookie)).text())).toEqual(['Tailspin Toys']);
    // `_` and `%` are letters to search for, not wildcards.
    expect(accountNames(await (await get('/portal?q=ops%25team', adminCookie)).text())).toEqual([]);
    const none = await (await get('/portal?q=nothing-like-this', adminCookie)).text();
    expect(none).toContain('No accounts match');
    expect(none).toContain('Clear filters');
  });

  it('filters by kind and status, sorts by name and creation, and ignores unknown values', async () => {
    expect(accountNames(await (await get('/portal?sort=name_desc', adminCookie)).text())).toEqual([
      'Tailspin Toys',
      'Fabrikam',
    ]);
    expect(accountNames(await (await get('/portal?sort=created', adminCookie)).text())).toEqual([
      'Fabrikam',
      'Tailspin Toys',
    ]);
    expect(accountNames(await (await get('/portal?all=1&kind=partner', rootCookie)).text())).toEqual([
      'Contoso IT',
      'Sibling Partner',
    ]);
    expect(accountNames(await (await get('/portal?status=removal_pending', adminCookie)).text())).toEqual([]);
    const odd = await get('/portal?sort=drop+table&kind=x&status=y&page=-4', adminCookie);
    expect(odd.status).toBe(200);
    expect(accountNames(await odd.text())).toEqual(['Fabrikam', 'Tailspin Toys']);
  });

  it('pages 25 accounts at a time', async () => {
    // The root administrator works in the sibling partner (opened from the portal) to see its 28 accounts.
    const opened = await post(`/portal/accounts/${distributor.id}/open`, rootCookie);
    const inDistributor = cookieFrom(opened);
    const inSibling = cookieFrom(await post(`/portal/accounts/${sibling.id}/open`, inDistributor));
    const first = await (await get('/portal', inSibling)).text();
    expect(accountNames(first)).toHaveLength(25);
    expect(first).toContain('Page 1 of 2');
    expect(first).toContain('href="/portal?page=2"');
    const second = accountNames(await (await get('/portal?page=2', inSibling)).text());
    expect(second).toEqual(['Bulk 26', 'Bulk 27', 'Sibling Customer']);
    expect(accountNames(await (await get('/portal?page=99', inSibling)).text())).toEqual(second);
    const back = await post('/portal/return', inSibling);
    rootCookie = cookieFrom(back);
    expect(await (await get('/portal', rootCookie)).text()).not.toContain('acting-banner');
  });

  it('answers htmx requests with the table fragment only, and history restores with the full page', async () => {
    const fragment = await get('/portal?q=tail', adminCookie, { 'hx-request': 'true' });
    const html = await fragment.text();
    expect(html.trimStart().startsWith('<div id="accounts-results"')).toBe(true);
    expect(html).not.toContain('<html');
    expect(accountNames(html)).toEqual(['Tailspin Toys']);
    expect(fragment.headers.get('vary')).toContain('HX-Request');
    expect(fragment.headers.get('cache-control')).toBe('no-store');
    const restore = await get('/portal?q=tail', adminCookie, {
      'hx-request': 'true',
      'hx-history-restore-request': 'true',
    });
    expect(await restore.text()).toContain('<html');
  });

  it('shows a user granted selected accounts only those', async () => {
    const cookie = await signIn(t.app, selectedUser.email, TEST_PASSWORD);
    expect(accountNames(await (await get('/portal', cookie)).text())).toEqual(['Tailspin Toys']);
    expect(accountNames(await (await get('/portal?all=1', cookie)).text())).toEqual(['Tailspin Toys']);
    expect((await get(`/portal/accounts/${fabrikam.id}`, cookie)).status).toBe(404);
    expect((await post(`/portal/accounts/${fabrikam.id}/open`, cookie)).status).toBe(404);
    expect((await get(`/portal/accounts/${tailspin.id}`, cookie)).status).toBe(200);
  });

  it('shows an empty state with the way to add the first account', async () => {
    const fresh = await makeOrganization(em(), root, 'partner', 'Fresh Partner');
    await makeUser(em(), fresh, 'admin@fresh.example');
    const cookie = await signIn(t.app, 'admin@fresh.example', TEST_PASSWORD);
    const html = await (await get('/portal', cookie)).text();
    expect(html).toContain('No accounts yet');
    expect(html).toContain('href="/portal/new"');
    expect(html).not.toContain('Show all levels'); // a partner's accounts hold no accounts
  });

  it('does not exist inside a customer account, whose navigation has no Accounts entry', async () => {
    const cookie = await signIn(t.app, customerAdmin.email, TEST_PASSWORD);
    expect((await get('/portal', cookie)).status).toBe(404);
    expect((await get('/portal/new', cookie)).status).toBe(404);
    expect(await (await get('/', cookie)).text()).not.toContain('href="/portal"');
  });
});

describe('adding an account', () => {
  it('offers only the kinds the organization can hold', async () => {
    const partnerForm = await (await get('/portal/new', adminCookie)).text();
    expect(partnerForm).toContain('value="customer" checked');
    expect(partnerForm).not.toContain('value="partner"');
    const rootForm = await (await get('/portal/new', rootCookie)).text();
    for (const kind of ['distributor', 'partner', 'customer']) expect(rootForm).toContain(`value="${kind}"`);
  });

  it('shows a message per field, keeps what was typed, and adds nothing', async () => {
    const before = await em().count(Organization);
    const res = await post('/portal/new', adminCookie, {
      kind: 'partner',
      name: '',
      contactEmail: 'not-an-email',
      phone: 'call me',
      contactName: 'Kept Name',
      adminEmail: 'bad',
    });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('Enter a name.');
    expect(html).toContain('Enter a valid email address, like it@example.com.');
    expect(html).toContain('Use digits, spaces and + ( ) - . only.');
    expect(html).toContain('Contoso IT cannot hold a partner.');
    expect(html).toContain('id="adminEmail-error"');
    expect(html).toContain('value="Kept Name"');
    expect(await em().count(Organization)).toBe(before);
  });

  it('refuses an administrator email that is already in use, before creating anything', async () => {
    const before = await em().count(Organization);
    const res = await post('/portal/new', adminCookie, {
      kind: 'customer',
      name: 'Duplicate Admin Ltd',
      adminEmail: 'VIEWER@contoso.example',
    });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('A user with this email address already exists.');
    expect(await em().count(Organization)).toBe(before);
  });

  it('answers an administrator email held in another tenant as a new one, inviting nobody', async () => {
    const held = await makeUser(em(), otherCustomer, 'held@other.example');
    const res = await post('/portal/new', adminCookie, { kind: 'customer', name: 'Probe Ltd', adminEmail: held.email });
    expect(res.status).toBe(303);
    const account = await em().findOneOrFail(Organization, { name: 'Probe Ltd' });
    expect(res.headers.get('location')).toBe(`/portal/accounts/${account.id}`);
    const holder = await em().findOneOrFail(User, { email: held.email }, { populate: ['organization'] });
    expect(holder.organization.id).toBe(otherCustomer.id);
    expect(await em().count(User, { organization: account.id })).toBe(0);
    const mail = await em().findOneOrFail(MailMessage, { to: held.email });
    expect(mail.text).not.toMatch(/confirm-email/);
  });

  it('adds the account under the organization worked in, invites its administrator and audits both', async () => {
    const res = await post('/portal/new', adminCookie, {
      kind: 'customer',
      name: '  Woodgrove Bank  ',
      contactName: 'Wendy Wood',
      contactEmail: 'IT@Woodgrove.example',
      phone: '+1 (555) 010-2000',
      adminEmail: 'First.Admin@woodgrove.example',
    });
    expect(res.status).toBe(303);
    const account = await em().findOneOrFail(Organization, { name: 'Woodgrove Bank' }, { populate: ['parent'] });
    expect(res.headers.get('location')).toBe(`/portal/accounts/${account.id}`);
    expect(account.parent?.id).toBe(partner.id);
    expect(account.path).toBe(`${partner.path}${account.id}/`);
    expect(account.contactEmail).toBe('it@woodgrove.example');
    const admin = await em().findOneOrFail(
      User,
      { email: 'first.admin@woodgrove.example' },
      { populate: ['organization'] },
    );
    expect(admin.role).toBe('administrator');
    expect(admin.status).toBe('pending');
    expect(admin.organization.id).toBe(account.id);
    const mail = await em().findOneOrFail(MailMessage, { to: 'first.admin@woodgrove.example' });
    expect(mail.text).toMatch(/\/confirm-email\/[A-Za-z0-9_-]+/);
    const [added] = await auditOf(partner, 'Account added');
    expect(added?.account).toBe('Woodgrove Bank');
    expect(added?.performedBy).toBe(partnerAdmin.email);
    expect((await auditOf(account, 'User added'))[0]?.account).toBe('first.admin@woodgrove.example');
    // The banner travels in the one-time flash cookie set with the redirect.
    const page = await (await get(res.headers.get('location') as string, `${adminCookie}; ${flashOf(res)}`)).text();
    // No mail server in this app: the invitation waits in the Outbox, and the banner says so.
    expect(page).toContain(
      'Its administrator&#39;s invitation is waiting in the Outbox (no mail server is configured)',
    );
    expect(page).toContain('Wendy Wood');
  });

  it('lets the operator add a distributor without an administrator', async () => {
    const res = await post('/portal/new', rootCookie, { kind: 'distributor', name: 'Adatum Distribution' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(
      `/portal/accounts/${(await em().findOneOrFail(Organization, { name: 'Adatum Distribution' })).id}`,
    );
    const org = await em().findOneOrFail(Organization, { name: 'Adatum Distribution' });
    expect(org.kind).toBe('distributor');
    expect(await em().count(User, { organization: org.id })).toBe(0);
  });
});

describe('opening an account', () => {
  it('rotates the session into the account, shows the banner, and audits it in both logs', async () => {
    const res = await post(`/portal/accounts/${fabrikam.id}/open`, adminCookie);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const inside = cookieFrom(res);
    expect(inside).not.toBe(adminCookie);
    // The old token is worth nothing after rotation.
    expect((await get('/', adminCookie)).status).toBe(303);
    const home = await (await get('/', inside)).text();
    expect(home).toContain('You are working in <strong title="Fabrikam">Fabrikam</strong> on behalf of Contoso IT.');
    expect(home).toContain('action="/portal/return"');
    expect(home).toContain('<p class="page-subtitle" title="Fabrikam">Fabrikam</p>');
    expect(home).not.toContain('href="/portal"'); // a customer account has no portal

    const [inAccount] = await auditOf(fabrikam, 'Account accessed');
    expect(inAccount?.description).toBe('Opened Fabrikam from the portal of Contoso IT');
    expect(inAccount?.performedBy).toBe(partnerAdmin.email);
    const [inPortal] = await auditOf(partner, 'Account accessed');
    expect(inPortal?.description).toBe('Opened Fabrikam');
    expect(inPortal?.account).toBe('Fabrikam');

    // From inside the customer, its siblings cannot be opened.
    expect((await post(`/portal/accounts/${tailspin.id}/open`, inside)).status).toBe(404);
    expect((await get('/portal', inside)).status).toBe(404);

    const back = await post('/portal/return', inside);
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/portal');
    adminCookie = cookieFrom(back);
    expect((await get('/', inside)).status).toBe(303);
    const portal = await (await get('/portal', adminCookie)).text();
    expect(portal).not.toContain('acting-banner');
    const [returned] = await auditOf(partner, 'Account accessed');
    expect(returned?.description).toBe('Returned to Contoso IT from Fabrikam');
  });

  it('opens reachable descendants from inside an opened account, and nothing else', async () => {
    const inDistributor = cookieFrom(await post(`/portal/accounts/${distributor.id}/open`, rootCookie));
    const list = await (await get('/portal', inDistributor)).text();
    expect(list).toContain('You are working in <strong title="Northwind Distribution">');
    expect(accountNames(list)).toEqual(['Contoso IT', 'Sibling Partner']);
    expect((await post(`/portal/accounts/${direct.id}/open`, inDistributor)).status).toBe(404);
    expect((await post(`/portal/accounts/${distributor.id}/open`, inDistributor)).status).toBe(404);
    const inPartner = cookieFrom(await post(`/portal/accounts/${partner.id}/open`, inDistributor));
    expect(await (await get('/', inPartner)).text()).toContain('on behalf of Acme Managed Services');
    const [entry] = await auditOf(partner, 'Account accessed');
    expect(entry?.description).toBe('Opened Contoso IT from the portal of Northwind Distribution');
    rootCookie = cookieFrom(await post('/portal/return', inPartner));
    expect(await (await get('/portal', rootCookie)).text()).not.toContain('acting-banner');
  });

  it('returns without an audit entry when no account is open', async () => {
    const before = await em().count(AuditEvent, { activity: 'Account accessed' });
    const res = await post('/portal/return', viewerCookie);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/portal');
    expect(await em().count(AuditEvent, { activity: 'Account accessed' })).toBe(before);
  });
});

describe('removing and restoring an account', () => {
  it('asks for the approval sentence and changes nothing without it', async () => {
    const page = await get(`/portal/accounts/${tailspin.id}/remove`, adminCookie);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('I approve the removal of my data');
    const res = await post(`/portal/accounts/${tailspin.id}/remove`, adminCookie, {});
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('Tick &quot;I approve the removal of my data&quot; to remove this account.');
    expect((await em().findOneOrFail(Organization, { id: tailspin.id })).status).toBe('active');
  });

  it('starts the 7-day grace period, shows it in the list, then restores, all audited', async () => {
    const res = await post(`/portal/accounts/${tailspin.id}/remove`, adminCookie, { approve: 'yes' });
    expect(res.status).toBe(303);
    const removed = await em().findOneOrFail(Organization, { id: tailspin.id });
    expect(removed.status).toBe('removal_pending');
    const days = ((removed.purgeAfter as Date).getTime() - (removed.removalRequestedAt as Date).getTime()) / 86_400_000;
    expect(days).toBe(7);
    const [requested] = await auditOf(partner, 'Account removal requested');
    expect(requested?.account).toBe('Tailspin Toys');
    const detail = await (await get(res.headers.get('location') as string, `${adminCookie}; ${flashOf(res)}`)).text();
    expect(detail).toContain('Removal requested.');
    expect(detail).toContain('Restore account');
    const list = await (await get('/portal?status=removal_pending', adminCookie)).text();
    expect(accountNames(list)).toEqual(['Tailspin Toys']);
    expect(list).toContain('Removal pending');
    expect(list).toContain('Purged after');
    // Asking again changes nothing and is not audited twice.
    await post(`/portal/accounts/${tailspin.id}/remove`, adminCookie, { approve: 'yes' });
    expect(await auditOf(partner, 'Account removal requested')).toHaveLength(1);

    const restore = await post(`/portal/accounts/${tailspin.id}/restore`, adminCookie);
    expect(restore.status).toBe(303);
    const restored = await em().findOneOrFail(Organization, { id: tailspin.id });
    expect(restored.status).toBe('active');
    expect(restored.purgeAfter).toBeNull();
    expect((await auditOf(partner, 'Account restored'))[0]?.account).toBe('Tailspin Toys');
    expect((await post(`/portal/accounts/${tailspin.id}/restore`, adminCookie)).status).toBe(409);
  });
});

describe('tenant scope and permissions on every portal route', () => {
  const routes = (id: string): [string, string][] => [
    ['GET', `/portal/accounts/${id}`],
    ['POST', `/portal/accounts/${id}/open`],
    ['GET', `/portal/accounts/${id}/remove`],
    ['POST', `/portal/accounts/${id}/remove`],
    ['POST', `/portal/accounts/${id}/restore`],
  ];
  const call = (method: string, path: string, cookie?: string) =>
    method === 'GET' ? get(path, cookie) : post(path, cookie, { approve: 'yes' });

  it('answers 404 for another tenant, a sibling partner, a parent, the organization itself and unknown ids', async () => {
    const statusBefore = (await em().find(Organization, {})).map((o) => `${o.id}:${o.status}`).sort();
    for (const target of [otherCustomer, otherTenant, siblingCustomer, sibling, distributor, root, partner]) {
      for (const [method, path] of routes(target.id)) {
        const res = await call(method, path, adminCookie);
        expect(res.status, `${method} ${path} (${target.name})`).toBe(404);
      }
    }
    for (const id of ['no-such-id', 'x'.repeat(400)]) {
      expect((await get(`/portal/accounts/${id}`, adminCookie)).status).toBe(404);
    }
    expect((await em().find(Organization, {})).map((o) => `${o.id}:${o.status}`).sort()).toEqual(statusBefore);
  });

  it('sends anonymous callers to sign in', async () => {
    for (const [method, path] of [
      ...routes(fabrikam.id),
      ['GET', '/portal'],
      ['GET', '/portal/new'],
      ['POST', '/portal/new'],
      ['POST', '/portal/return'],
    ] as [string, string][]) {
      const res = await call(method, path);
      expect(res.status, `${method} ${path}`).toBe(303);
      expect(res.headers.get('location')).toMatch(/^\/login/);
    }
  });

  it('answers 403 to a user without the permission, before looking at the account', async () => {
    const guarded: [string, string][] = [
      ['GET', '/portal/new'],
      ['POST', '/portal/new'],
      ['GET', `/portal/accounts/${fabrikam.id}/remove`],
      ['POST', `/portal/accounts/${fabrikam.id}/remove`],
      ['POST', `/portal/accounts/${fabrikam.id}/restore`],
      ['GET', `/portal/accounts/${otherCustomer.id}/remove`],
    ];
    for (const [method, path] of guarded) {
      expect((await call(method, path, viewerCookie)).status, `${method} ${path}`).toBe(403);
    }
    expect((await em().findOneOrFail(Organization, { id: fabrikam.id })).status).toBe('active');
    // Viewing and opening need "view dashboard" only.
    const list = await (await get('/portal', viewerCookie)).text();
    expect(list).not.toContain('href="/portal/new"');
    expect(await (await get(`/portal/accounts/${fabrikam.id}`, viewerCookie)).text()).not.toContain('Remove account');

    const noDashboard = await makeUser(em(), partner, 'nodash@contoso.example', {
      role: 'custom',
      permissions: ['add_accounts'],
    });
    const cookie = await signIn(t.app, noDashboard.email, TEST_PASSWORD);
    expect((await get('/portal', cookie)).status).toBe(403);
    expect((await get(`/portal/accounts/${fabrikam.id}`, cookie)).status).toBe(403);
    expect((await post(`/portal/accounts/${fabrikam.id}/open`, cookie)).status).toBe(403);
    expect(await (await get('/', cookie)).text()).not.toContain('href="/portal"');
  });

  it('refuses a cross-site post', async () => {
    const res = await t.app.request(`/portal/accounts/${fabrikam.id}/open`, {
      method: 'POST',
      headers: {
        cookie: adminCookie,
        origin: 'https://evil.example',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: '',
    });
    expect(res.status).toBe(403);
    expect(ORIGIN).not.toBe('https://evil.example');
  });
});
