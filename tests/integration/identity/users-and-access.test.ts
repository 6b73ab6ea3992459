// Users, mail links, throttling, IP restrictions and account removal through the browser routes,
// with the tenant-scope checks: another tenant's ids are 404 and change nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { type IOrganization, type IUser, Organization, User } from '../../../core/identity/entities.ts';
import { type IMailMessage, MailMessage } from '../../../core/mail/entities.ts';
import {
  ADMIN,
  completeSetupVia,
  createTestApp,
  form,
  fromAddress,
  ORIGIN,
  signIn,
  type TestApp,
} from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let partnerA: IOrganization;
let partnerB: IOrganization;
let customerA: IOrganization;
let adminA: IUser;
let adminB: IUser;
let userB: IUser;
let customUser: IUser;

const em = () => t.kernel.orm.em.fork();

async function lastMailTo(to: string): Promise<IMailMessage> {
  const mail = await em().findOne(MailMessage, { to }, { orderBy: { id: 'desc' } });
  if (!mail) throw new Error(`no mail to ${to}`);
  return mail;
}

async function auditOf(org: IOrganization, activity: string) {
  return em().find(AuditEvent, { organization: org.id, activity }, { orderBy: { id: 'desc' } });
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const e = em();
  root = await rootOf(e);
  partnerA = await makeOrganization(e, root, 'partner', 'Partner A');
  partnerB = await makeOrganization(e, root, 'partner', 'Partner B');
  customerA = await makeOrganization(e, partnerA, 'customer', 'Customer of A');
  adminA = await makeUser(e, partnerA, 'admin@a.example');
  adminB = await makeUser(e, partnerB, 'admin@b.example');
  userB = await makeUser(e, partnerB, 'user@b.example', { role: 'custom', permissions: ['view_dashboard'] });
  customUser = await makeUser(e, partnerA, 'viewer@a.example', { role: 'custom', permissions: ['view_dashboard'] });
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('users', () => {
  it('invites a user who activates their account through the mailed link', async () => {
    const cookie = await signIn(t.app, adminA.email, TEST_PASSWORD);
    const res = await t.app.request('/settings/users/new', {
      ...form({ email: 'New.Person@A.example', displayName: 'New Person', role: 'custom', permissions: 'restore' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(res.status).toBe(303);
    const invited = await em().findOneOrFail(User, { email: 'new.person@a.example' });
    expect(invited.status).toBe('pending');
    expect(invited.permissions).toEqual(['restore']);
    const mail = await lastMailTo('new.person@a.example');
    const link = /\/confirm-email\/[A-Za-z0-9_-]+/.exec(mail.text)?.[0] as string;
    expect(link).toMatch(/^\/confirm-email\/[A-Za-z0-9_-]{43}$/);
    expect((await t.app.request(link)).status).toBe(200);
    const weak = await t.app.request(link, form({ password: 'short', confirmPassword: 'short' }));
    expect(weak.status).toBe(422);
    const ok = await t.app.request(
      link,
      form({ password: 'A-much-better-pass-99', confirmPassword: 'A-much-better-pass-99' }),
    );
    expect(ok.status).toBe(303);
    expect((await t.app.request(link)).status).toBe(410); // single use
    await signIn(t.app, 'new.person@a.example', 'A-much-better-pass-99');
    expect((await auditOf(partnerA, 'User added')).length).toBe(1);
    expect((await auditOf(partnerA, 'Email confirmed')).length).toBe(1);
    // The token is not in the log, and only its hash is stored.
    const token = link.split('/').at(-1) as string;
    expect(t.logs.join('\n')).not.toContain(token);
  });

  it('says the invitation waits in the Outbox when no mail server is configured', async () => {
    const cookie = await signIn(t.app, adminA.email, TEST_PASSWORD);
    const res = await t.app.request('/settings/users/new', {
      ...form({ email: 'outbox.person@a.example', role: 'custom', permissions: 'restore' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(res.status).toBe(303);
    // The banner travels in a one-time flash cookie set with the redirect.
    const flash = /holdfast_flash=[^;]*/.exec(res.headers.get('set-cookie') ?? '')?.[0];
    const page = await t.app.request(res.headers.get('location') as string, {
      headers: { cookie: `${cookie}; ${flash}` },
    });
    const html = await page.text();
    expect(html).toContain('Invitation waiting in the Outbox (no mail server is configured)');
    expect(html).not.toContain('Invitation sent');
  });

  it('offers a new user the backup operator permissions by default, not none', async () => {
    const cookie = await signIn(t.app, adminA.email, TEST_PASSWORD);
    const html = await (await t.app.request('/settings/users/new', { headers: { cookie } })).text();
    const checked = [...html.matchAll(/name="permissions" value="([a-z_]+)" checked/g)].map((m) => m[1]);
    expect(checked).toEqual(['view_dashboard', 'manage_backups', 'restore', 'export_download', 'view_activity']);
  });

  it('refuses an email already used in the same organization with a field message', async () => {
    const cookie = await signIn(t.app, adminA.email, TEST_PASSWORD);
    const res = await t.app.request('/settings/users/new', {
      ...form({ email: customUser.email, role: 'administrator' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('already exists');
  });

  it("answers an invitation to another tenant's user's address exactly as a new one, and changes nothing there", async () => {
    const cookie = await signIn(t.app, adminA.email, TEST_PASSWORD);
    const invite = (email: string) =>
      t.app.request('/settings/users/new', {
        ...form({ email, role: 'custom', permissions: 'restore' }),
        headers: { ...form({}).headers, cookie },
      });
    const fresh = await invite('fresh.person@a.example');
    const held = await invite(adminB.email);
    expect(held.status).toBe(fresh.status);
    const notice = (res: Response, email: string) =>
      decodeURIComponent(res.headers.get('location') ?? '').replace(email, '<email>');
    expect(notice(held, adminB.email)).toBe(notice(fresh, 'fresh.person@a.example'));
    const holder = await em().findOneOrFail(User, { email: adminB.email }, { populate: ['organization'] });
    expect([holder.organization.id, holder.status, holder.role]).toEqual([partnerB.id, 'active', 'administrator']);
    expect(await em().count(User, { email: adminB.email })).toBe(1);
    // The holder hears of it, without a link that could change their account.
    const mail = await lastMailTo(adminB.email);
    expect(mail.text).toContain('already belongs to a Holdfast user');
    expect(mail.text).not.toMatch(/confirm-email|reset-password/);
  });

  it('keeps the last administrator and refuses self-lockout', async () => {
    const cookie = await signIn(t.app, adminB.email, TEST_PASSWORD);
    const demote = await t.app.request(`/settings/users/${adminB.id}`, {
      ...form({ email: adminB.email, role: 'custom' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(demote.status).toBe(409);
    expect(await demote.text()).toContain('only active administrator');
    const self = await t.app.request(`/settings/users/${adminB.id}/deactivate`, {
      ...form({}),
      headers: { ...form({}).headers, cookie },
    });
    expect(self.status).toBe(409);
    expect((await em().findOneOrFail(User, { id: adminB.id })).role).toBe('administrator');
  });

  it('answers 404 for users of another tenant and changes nothing', async () => {
    const cookie = await signIn(t.app, adminA.email, TEST_PASSWORD);
    const headers = { ...form({}).headers, cookie };
    expect((await t.app.request(`/settings/users/${userB.id}`, { headers: { cookie } })).status).toBe(404);
    for (const action of ['deactivate', 'delete', 'resend', 'activate']) {
      const res = await t.app.request(`/settings/users/${userB.id}/${action}`, { ...form({}), headers });
      expect(res.status).toBe(404);
    }
    const edit = await t.app.request(`/settings/users/${userB.id}`, {
      ...form({ email: 'stolen@a.example', role: 'administrator' }),
      headers,
    });
    expect(edit.status).toBe(404);
    const after = await em().findOneOrFail(User, { id: userB.id });
    expect(after.status).toBe('active');
    expect(after.role).toBe('custom');
    expect(after.email).toBe('user@b.example');
  });

  it('forbids users without "manage users", and custom users cannot grant what they lack', async () => {
    const cookie = await signIn(t.app, customUser.email, TEST_PASSWORD);
    expect((await t.app.request('/settings/users', { headers: { cookie } })).status).toBe(403);
    expect(
      (
        await t.app.request('/settings/users/new', {
          ...form({ email: 'x@a.example', role: 'custom' }),
          headers: { ...form({}).headers, cookie },
        })
      ).status,
    ).toBe(403);
    expect((await t.app.request('/settings/ip-restrictions', { headers: { cookie } })).status).toBe(403);
    expect((await t.app.request('/settings/outbox', { headers: { cookie } })).status).toBe(403);
    const e = em();
    const manager = await makeUser(e, partnerA, 'manager@a.example', { role: 'custom', permissions: ['manage_users'] });
    const mc = await signIn(t.app, manager.email, TEST_PASSWORD);
    const res = await t.app.request('/settings/users/new', {
      ...form({ email: 'escalate@a.example', role: 'administrator' }),
      headers: { ...form({}).headers, cookie: mc },
    });
    expect(res.status).toBe(403);
    expect(await em().count(User, { email: 'escalate@a.example' })).toBe(0);
  });

  it("lets an administrator reset a user's two-factor, audited and mailed", async () => {
    const e = em();
    const user = await makeUser(e, partnerA, 'lostphone@a.example', { role: 'custom' });
    user.totpSecret = 'hf1.x.y.z';
    user.totpEnabledAt = new Date();
    await e.flush();
    const cookie = await signIn(t.app, adminA.email, TEST_PASSWORD);
    const res = await t.app.request(`/settings/users/${user.id}/reset-two-factor`, {
      ...form({}),
      headers: { ...form({}).headers, cookie },
    });
    expect(res.status).toBe(303);
    const after = await em().findOneOrFail(User, { id: user.id });
    expect(after.totpEnabledAt).toBeNull();
    expect(after.totpSecret).toBeNull();
    expect((await lastMailTo(user.email)).subject).toContain('two-factor authentication was reset');
    const again = await t.app.request(`/settings/users/${user.id}/reset-two-factor`, {
      ...form({}),
      headers: { ...form({}).headers, cookie },
    });
    expect(again.status).toBe(409);
  });

  it('signs the user out everywhere else from Settings › Security', async () => {
    const e = em();
    const user = await makeUser(e, customerA, 'traveller@c.example', { role: 'custom' });
    const laptop = await signIn(t.app, user.email, TEST_PASSWORD);
    const phone = await signIn(t.app, user.email, TEST_PASSWORD);
    const page = await (await t.app.request('/settings/security', { headers: { cookie: laptop } })).text();
    expect(page).toContain('Where you are signed in');
    expect(page).toContain('This session');
    const res = await t.app.request('/settings/security/sessions/end-others', {
      ...form({}),
      headers: { ...form({}).headers, cookie: laptop },
    });
    expect(res.status).toBe(303);
    expect((await t.app.request('/', { headers: { cookie: phone } })).status).toBe(303);
    expect((await t.app.request('/', { headers: { cookie: laptop } })).status).toBe(200);
  });

  it('deactivation signs the user out at once', async () => {
    const e = em();
    const victim = await makeUser(e, partnerA, 'leaver@a.example', { role: 'custom' });
    const victimCookie = await signIn(t.app, victim.email, TEST_PASSWORD);
    expect((await t.app.request('/', { headers: { cookie: victimCookie } })).status).toBe(200);
    const cookie = await signIn(t.app, adminA.email, TEST_PASSWORD);
    const res = await t.app.request(`/settings/users/${victim.id}/deactivate`, {
      ...form({}),
      headers: { ...form({}).headers, cookie },
    });
    expect(res.status).toBe(303);
    expect((await t.app.request('/', { headers: { cookie: victimCookie } })).status).toBe(303);
    expect((await auditOf(partnerA, 'User deactivated')).length).toBeGreaterThan(0);
  });
});

describe('password reset and throttling', () => {
  it('resets a password through a mailed link and ends old sessions', async () => {
    const e = em();
    const user = await makeUser(e, customerA, 'forgetful@c.example', { role: 'administrator' });
    const old = await signIn(t.app, user.email, TEST_PASSWORD);
    const unknown = await t.app.request('/forgot-password', form({ email: 'nobody@nowhere.example' }));
    const known = await t.app.request('/forgot-password', form({ email: user.email }));
    expect(unknown.status).toBe(200);
    expect(known.status).toBe(200);
    expect(await unknown.text()).toContain('Check your mail'); // same answer for both
    const link = /\/reset-password\/[A-Za-z0-9_-]+/.exec((await lastMailTo(user.email)).text)?.[0] as string;
    const res = await t.app.request(
      link,
      form({ password: 'Brand-new-pass-2027', confirmPassword: 'Brand-new-pass-2027' }),
    );
    expect(res.status).toBe(303);
    expect((await t.app.request('/', { headers: { cookie: old } })).status).toBe(303);
    await signIn(t.app, user.email, 'Brand-new-pass-2027');
    expect((await auditOf(customerA, 'Password reset')).length).toBe(1);
  });

  it('throttles repeated failures on one account from one address, even with the right password next', async () => {
    const e = em();
    const user = await makeUser(e, customerA, 'target@c.example');
    for (let i = 0; i < 5; i++) {
      const res = await t.app.request(
        '/login',
        form({ email: user.email, password: `wrong-${i}` }),
        fromAddress('198.51.100.7'),
      );
      expect(res.status).toBe(401);
    }
    const blocked = await t.app.request(
      '/login',
      form({ email: user.email, password: TEST_PASSWORD }),
      fromAddress('198.51.100.7'),
    );
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await blocked.text()).toContain('Too many failed sign-in attempts');
    const failures = await em().find(AuditEvent, { activity: 'Sign-in', status: 'failed', account: user.email });
    expect(failures.length).toBe(5);
  });
});

describe('IP restrictions', () => {
  it('refuses to enable without the caller, enables with it, then denies other addresses', async () => {
    const e = em();
    const org = await makeOrganization(e, root, 'partner', 'Locked Partner');
    const admin = await makeUser(e, org, 'admin@locked.example');
    const office = fromAddress('203.0.113.10');
    const login = await t.app.request('/login', form({ email: admin.email, password: TEST_PASSWORD }), office);
    const cookie = (login.headers.get('set-cookie') as string).split(';')[0] as string;
    const headers = { ...form({}).headers, cookie };
    const add = (addresses: string) =>
      t.app.request('/settings/ip-restrictions', { ...form({ description: 'Office', addresses }), headers }, office);
    expect((await add('10.0.0.0/99')).status).toBe(422);
    expect((await add('192.0.2.0/24')).status).toBe(303);
    const refused = await t.app.request(
      '/settings/ip-restrictions/enabled',
      { ...form({ enabled: 'on' }), headers },
      office,
    );
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('203.0.113.10');
    expect((await add('203.0.113.0-203.0.113.20')).status).toBe(303);
    const enabled = await t.app.request(
      '/settings/ip-restrictions/enabled',
      { ...form({ enabled: 'on' }), headers },
      office,
    );
    expect(enabled.status).toBe(303);
    expect((await em().findOneOrFail(Organization, { id: org.id })).ipRestrictionsEnabled).toBe(true);
    expect((await t.app.request('/', { headers: { cookie } }, office)).status).toBe(200);
    const outside = await t.app.request('/', { headers: { cookie } }, fromAddress('198.51.100.200'));
    expect(outside.status).toBe(403);
    expect(await outside.text()).toContain('Access denied');
    // A spoofed X-Forwarded-For without a trusted proxy changes nothing.
    const spoofed = await t.app.request(
      '/',
      { headers: { cookie, 'x-forwarded-for': '203.0.113.10' } },
      fromAddress('198.51.100.200'),
    );
    expect(spoofed.status).toBe(403);
    const outsideLogin = await t.app.request(
      '/login',
      form({ email: admin.email, password: TEST_PASSWORD }),
      fromAddress('198.51.100.200'),
    );
    expect(outsideLogin.status).toBe(403);
    expect((await auditOf(org, 'Access denied')).length).toBeGreaterThanOrEqual(3);
    expect((await auditOf(org, 'IP restrictions changed')).length).toBe(3);
    expect(await em().count(MailMessage, { to: admin.email, subject: { $like: 'IP restrictions%' } })).toBe(3);
    // Another tenant's rule ids are 404.
    const rule = (
      await em().find((await import('../../../core/access/entities.ts')).IpRule, { organization: org.id })
    )[0];
    const other = await signIn(t.app, adminB.email, TEST_PASSWORD);
    const res = await t.app.request(`/settings/ip-restrictions/${rule?.id}/delete`, {
      ...form({}),
      headers: { ...form({}).headers, cookie: other },
    });
    expect(res.status).toBe(404);
  });
});

describe('IP restrictions with IPv4-mapped and unreadable entries', () => {
  it('stores an IPv4-mapped block as the IPv4 block it covers, then refuses other addresses with a 403', async () => {
    const e = em();
    const org = await makeOrganization(e, root, 'partner', 'Mapped Partner');
    const admin = await makeUser(e, org, 'admin@mapped.example');
    const office = fromAddress('127.0.0.1');
    const login = await t.app.request('/login', form({ email: admin.email, password: TEST_PASSWORD }), office);
    const cookie = (login.headers.get('set-cookie') as string).split(';')[0] as string;
    const headers = { ...form({}).headers, cookie };
    const added = await t.app.request(
      '/settings/ip-restrictions',
      { ...form({ description: 'Loopback', addresses: '::ffff:127.0.0.0/104' }), headers },
      office,
    );
    expect(added.status).toBe(303);
    const { IpRule } = await import('../../../core/access/entities.ts');
    expect((await em().find(IpRule, { organization: org.id }))[0]?.entries).toEqual(['127.0.0.0/8']);
    const tooWide = await t.app.request(
      '/settings/ip-restrictions',
      { ...form({ addresses: '::ffff:127.0.0.0/64' }), headers },
      office,
    );
    expect(tooWide.status).toBe(422);
    expect(await tooWide.text()).toContain('IPv4-mapped');
    const enabled = await t.app.request(
      '/settings/ip-restrictions/enabled',
      { ...form({ enabled: 'on' }), headers },
      office,
    );
    expect(enabled.status).toBe(303);
    const outside = await t.app.request(
      '/login',
      form({ email: admin.email, password: TEST_PASSWORD }),
      fromAddress('198.51.100.201'),
    );
    expect(outside.status).toBe(403);
    expect((await auditOf(org, 'Access denied')).length).toBe(1);
    expect((await t.app.request('/', { headers: { cookie } }, fromAddress('::ffff:127.0.0.9'))).status).toBe(200);
  });

  it('denies and audits, never a 500, when a stored entry cannot be read, and other rules stay deletable', async () => {
    const e = em();
    const org = await makeOrganization(e, root, 'partner', 'Broken Rule Partner');
    const admin = await makeUser(e, org, 'admin@broken-rule.example');
    const { IpRule } = await import('../../../core/access/entities.ts');
    // What an older version stored for ::ffff:127.0.0.0/104.
    const broken = e.create(IpRule, { organization: org, description: 'Old', entries: ['127.0.0.0/104'] });
    const spare = e.create(IpRule, { organization: org, description: 'Spare', entries: ['192.0.2.0/24'] });
    e.create(IpRule, { organization: org, description: 'Office', entries: ['203.0.113.0/24'] });
    org.ipRestrictionsEnabled = true;
    await e.flush();
    const outside = await t.app.request(
      '/login',
      form({ email: admin.email, password: TEST_PASSWORD }),
      fromAddress('198.51.100.202'),
    );
    expect(outside.status).toBe(403);
    expect((await auditOf(org, 'Access denied')).length).toBe(1);
    const office = fromAddress('203.0.113.5');
    const login = await t.app.request('/login', form({ email: admin.email, password: TEST_PASSWORD }), office);
    expect(login.status).toBe(303);
    const cookie = (login.headers.get('set-cookie') as string).split(';')[0] as string;
    const headers = { ...form({}).headers, cookie };
    for (const rule of [spare, broken]) {
      const res = await t.app.request(`/settings/ip-restrictions/${rule.id}/delete`, { ...form({}), headers }, office);
      expect(res.status).toBe(303);
    }
    expect((await em().find(IpRule, { organization: org.id })).map((r) => r.description)).toEqual(['Office']);
  });
});

describe('account removal and CSRF', () => {
  it('needs the approval, then schedules removal for 7 days and can be restored', async () => {
    const e = em();
    const org = await makeOrganization(e, partnerA, 'customer', 'Leaving Customer');
    const admin = await makeUser(e, org, 'admin@leaving.example');
    const cookie = await signIn(t.app, admin.email, TEST_PASSWORD);
    const headers = { ...form({}).headers, cookie };
    const missing = await t.app.request('/settings/account/remove', { ...form({}), headers });
    expect(missing.status).toBe(422);
    expect(await missing.text()).toContain('I approve the removal of my data');
    const ok = await t.app.request('/settings/account/remove', { ...form({ approve: 'yes' }), headers });
    expect(ok.status).toBe(303);
    const pending = await em().findOneOrFail(Organization, { id: org.id });
    expect(pending.status).toBe('removal_pending');
    expect((pending.purgeAfter as Date).getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    await t.app.request('/settings/account/restore', { ...form({}), headers });
    expect((await em().findOneOrFail(Organization, { id: org.id })).status).toBe('active');
    expect((await auditOf(org, 'Account removal requested')).length).toBe(1);
    expect((await auditOf(org, 'Account restored')).length).toBe(1);
  });

  it('rejects a cross-site form post', async () => {
    const cookie = await signIn(t.app, ADMIN.email, ADMIN.password);
    const res = await t.app.request('/settings/account', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', cookie },
      body: new URLSearchParams({ name: 'Hijacked' }).toString(),
    });
    expect(res.status).toBe(403);
    expect((await rootOf(em())).name).toBe(ADMIN.organizationName);
    expect(ORIGIN).toBe('http://localhost');
  });
});
