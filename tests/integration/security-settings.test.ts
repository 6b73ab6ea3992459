// Settings › Security through the real routes: changing the password, two-factor on and off,
// new recovery codes, and the organization's policies (permission, tenant scope, validation).
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../core/audit/entities.ts';
import { type IOrganization, Organization, Session, User } from '../../core/identity/entities.ts';
import { verifyPassword } from '../../core/identity/password.ts';
import { MailMessage } from '../../core/mail/entities.ts';
import { completeSetupVia, createTestApp, form, type TestApp } from '../helpers/kernel.ts';
import {
  addOrganization,
  addUser,
  appCode,
  flashOf,
  get,
  passwordStep,
  post,
  recoveryCodesOnPage,
  secretOnPage,
  sessionCookieOf,
  testClock,
  USER_PASSWORD,
} from '../helpers/security.ts';

let t: TestApp;
let clock: ReturnType<typeof testClock>;
let root: IOrganization;
let customer: IOrganization;
let other: IOrganization;
const em = (): EntityManager => t.kernel.orm.em.fork();

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  clock = testClock(t.kernel.deps);
  const fork = em();
  root = await fork.findOneOrFail(Organization, { kind: 'root' });
  const partner = await addOrganization(fork, root, 'partner', 'Bright Partner');
  customer = await addOrganization(fork, partner, 'customer', 'Customer With A Rather Long Name For Wrapping');
  other = await addOrganization(fork, root, 'customer', 'Other Tenant');
  await addUser(fork, root, 'security-admin@acme.example');
  await addUser(fork, root, 'custom@acme.example', { role: 'custom', permissions: ['view_dashboard'] });
  await addUser(fork, root, 'custom-security@acme.example', { role: 'custom', permissions: ['manage_security'] });
  await addUser(fork, root, 'changer@acme.example');
  await addUser(fork, root, 'tfa@acme.example');
  await addUser(fork, other, 'other-admin@other.example');
  await addUser(fork, customer, 'customer-admin@customer.example');
});
afterAll(async () => {
  await t?.close();
});

async function signedIn(email: string, password = USER_PASSWORD): Promise<string> {
  const step = await passwordStep(t.app, email, password);
  expect(step.location).toBe('/');
  return step.cookie;
}

describe('the Security page', () => {
  it('is behind sign-in', async () => {
    const res = await get(t.app, '/settings/security');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login?next=%2Fsettings%2Fsecurity');
    for (const path of [
      '/settings/security/password',
      '/settings/security/two-factor',
      '/settings/security/two-factor/disable',
      '/settings/security/two-factor/recovery-codes',
      '/settings/security/policies',
    ]) {
      const posted = await t.app.request(path, form({}));
      expect(posted.status, path).toBe(303);
      expect(posted.headers.get('location'), path).toMatch(/^\/login/);
    }
  });

  it('shows the personal panels to everyone and the policies only with "Manage security"', async () => {
    const admin = await (await get(t.app, '/settings/security', await signedIn('security-admin@acme.example'))).text();
    expect(admin).toContain('Change password');
    expect(admin).toContain('Set up two-factor authentication');
    expect(admin).toContain('Security policies');
    expect(admin).toContain(`name="organizationId" value="${root.id}"`);

    const customCookie = await signedIn('custom@acme.example');
    const custom = await get(t.app, '/settings/security', customCookie);
    expect(custom.status).toBe(200);
    const html = await custom.text();
    expect(html).toContain('Change password');
    expect(html).not.toContain('Security policies');
    const refused = await post(t.app, '/settings/security/policies', customCookie, {
      organizationId: root.id,
      enforceTwoFactor: 'on',
      passwordExpiry: 'off',
    });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('You need the &quot;Manage security&quot; permission');
    expect((await em().findOneOrFail(Organization, { id: root.id })).enforceTwoFactor).toBe(false);

    const granted = await (
      await get(t.app, '/settings/security', await signedIn('custom-security@acme.example'))
    ).text();
    expect(granted).toContain('Security policies');
  });

  it('refuses a cross-site post', async () => {
    const cookie = await signedIn('custom@acme.example');
    const res = await t.app.request('/settings/security/policies', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: 'enforceTwoFactor=on&passwordExpiry=off',
    });
    expect(res.status).toBe(403);
  });
});

describe('changing the password', () => {
  it('checks the strength of a new password as it is typed (htmx)', async () => {
    const cookie = await signedIn('custom@acme.example');
    const weak = await post(t.app, '/settings/security/password/strength', cookie, { newPassword: 'short' });
    expect(weak.status).toBe(200);
    expect((await weak.text()).trim()).toBe(
      '<p class="field-error" id="newPassword-error" aria-live="polite">Use at least 12 characters. Mix at least three of: lower-case letters, upper-case letters, digits, symbols. Use more varied characters.</p>',
    );
    const named = await post(t.app, '/settings/security/password/strength', cookie, {
      newPassword: 'Custom-and-long-12',
    });
    expect(await named.text()).toContain('The password must not contain your email name.');
    const fine = await post(t.app, '/settings/security/password/strength', cookie, {
      newPassword: 'Fine-password-2027',
    });
    expect(await fine.text()).toContain('aria-live="polite"></p>');
    const anonymous = await t.app.request('/settings/security/password/strength', form({ newPassword: 'short' }));
    expect(anonymous.status).toBe(303);
    const page = await (await get(t.app, '/settings/security', cookie)).text();
    expect(page).toContain('hx-post="/settings/security/password/strength"');
    expect(page).toContain('hx-params="newPassword"');
  });

  it('needs the current password, a strong new one typed twice, then signs out the other sessions', async () => {
    const elsewhere = await signedIn('changer@acme.example');
    const cookie = await signedIn('changer@acme.example');
    const cases: [Record<string, string>, number, string][] = [
      [
        { currentPassword: '', newPassword: 'Fresh-password-2027', confirmPassword: 'Fresh-password-2027' },
        422,
        'Enter your current password.',
      ],
      [
        {
          currentPassword: 'Wrong-password-11',
          newPassword: 'Fresh-password-2027',
          confirmPassword: 'Fresh-password-2027',
        },
        422,
        'The password is not right.',
      ],
      [
        { currentPassword: USER_PASSWORD, newPassword: 'weak', confirmPassword: 'weak' },
        422,
        'Use at least 12 characters.',
      ],
      [
        { currentPassword: USER_PASSWORD, newPassword: 'Fresh-password-2027', confirmPassword: 'Fresh-password-2028' },
        422,
        'The two passwords do not match.',
      ],
      [
        { currentPassword: USER_PASSWORD, newPassword: USER_PASSWORD, confirmPassword: USER_PASSWORD },
        422,
        'Choose a password different from the current one.',
      ],
    ];
    for (const [fields, status, message] of cases) {
      const res = await post(t.app, '/settings/security/password', cookie, fields);
      expect(res.status).toBe(status);
      const html = await res.text();
      expect(html).toContain(message);
      // Passwords are never echoed back into the page.
      expect(html).not.toContain('Fresh-password-2027');
    }
    const ok = await post(t.app, '/settings/security/password', cookie, {
      currentPassword: USER_PASSWORD,
      newPassword: 'Fresh-password-2027',
      confirmPassword: 'Fresh-password-2027',
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/settings/security');
    const fresh = sessionCookieOf(ok) as string;
    expect(fresh).not.toBe(cookie);
    const page = await get(t.app, '/settings/security', `${fresh}; ${flashOf(ok)}`);
    expect(await page.text()).toContain('Your password has been changed.');
    // The old token and the other browser are signed out.
    expect((await get(t.app, '/', cookie)).status).toBe(303);
    expect((await get(t.app, '/', elsewhere)).status).toBe(303);

    const user = await em().findOneOrFail(User, { email: 'changer@acme.example' });
    expect(await verifyPassword('Fresh-password-2027', user.passwordHash as string)).toBe(true);
    expect(await em().count(Session, { user: user.id })).toBe(1);
    const audit = await em().find(AuditEvent, { account: 'changer@acme.example', activity: 'Password changed' });
    expect(audit).toHaveLength(1);
    expect(audit[0]?.performedBy).toBe('changer@acme.example');
    const mail = await em().find(MailMessage, { to: 'changer@acme.example' });
    expect(mail.map((m) => m.subject)).toEqual(['Your Holdfast password was changed']);
    expect(t.logs.join('')).not.toContain('Fresh-password-2027');
  });
});

describe('two-factor from Settings', () => {
  let cookie: string;
  let secret: string;

  it('enrols with the QR page and a code, then shows ten recovery codes once', async () => {
    cookie = await signedIn('tfa@acme.example');
    const page = await get(t.app, '/settings/security/two-factor', cookie);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/<svg [^>]*viewBox=/);
    expect(html).toContain('Account: Holdfast (tfa@acme.example)');
    secret = secretOnPage(html);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const stored = await em().findOneOrFail(User, { email: 'tfa@acme.example' });
    expect(stored.totpSecret).not.toContain(secret);
    expect(stored.totpEnabledAt).toBeNull();

    const wrong = await post(t.app, '/settings/security/two-factor', cookie, { code: '000000' });
    expect(wrong.status).toBe(422);
    expect(await wrong.text()).toContain('That code is not right.');
    const empty = await post(t.app, '/settings/security/two-factor', cookie, { code: '' });
    expect(await empty.text()).toContain('Enter the 6-digit code from your app.');

    const ok = await post(t.app, '/settings/security/two-factor', cookie, { code: appCode(secret, clock.now()) });
    expect(ok.status).toBe(200);
    const codesPage = await ok.text();
    const codes = recoveryCodesOnPage(codesPage);
    expect(codes).toHaveLength(10);
    expect(codesPage).toContain('download="holdfast-recovery-codes.txt"');
    expect(codesPage).toContain(encodeURIComponent(codes[0] as string));

    const settings = await (await get(t.app, '/settings/security', cookie)).text();
    expect(settings).toContain('badge-success">On');
    expect(settings).toContain('10 of 10 recovery codes left.');
    expect(settings).not.toContain(codes[0]);
    expect(settings).not.toContain(secret);
    // Once on, the enrolment page leads back.
    expect((await get(t.app, '/settings/security/two-factor', cookie)).headers.get('location')).toBe(
      '/settings/security',
    );
    const audit = await em().find(AuditEvent, { account: 'tfa@acme.example', activity: 'Two-factor changed' });
    expect(audit.map((a) => a.description)).toEqual(['Two-factor authentication turned on']);
    const mail = await em().find(MailMessage, { to: 'tfa@acme.example' });
    expect(mail.map((m) => m.subject)).toEqual(['Two-factor authentication is on for your Holdfast account']);
  });

  it('makes new recovery codes with a code from the app or the password', async () => {
    clock.advance(30);
    const wrong = await post(t.app, '/settings/security/two-factor/recovery-codes', cookie, {
      regenerateCode: '000000',
    });
    expect(wrong.status).toBe(422);
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toContain('id="regenerateCode-error"');
    expect(wrongHtml).toMatch(/<details class="disclosure" open>\s*<summary>Make new recovery codes/);
    const neither = await post(t.app, '/settings/security/two-factor/recovery-codes', cookie, {});
    expect(await neither.text()).toContain('Enter a code from your app, or your password.');

    const byCode = await post(t.app, '/settings/security/two-factor/recovery-codes', cookie, {
      regenerateCode: appCode(secret, clock.now()),
    });
    expect(byCode.status).toBe(200);
    expect(recoveryCodesOnPage(await byCode.text())).toHaveLength(10);
    const byPassword = await post(t.app, '/settings/security/two-factor/recovery-codes', cookie, {
      regeneratePassword: USER_PASSWORD,
    });
    expect(recoveryCodesOnPage(await byPassword.text())).toHaveLength(10);
    const audit = await em().find(AuditEvent, { account: 'tfa@acme.example', activity: 'Two-factor changed' });
    expect(audit.filter((a) => a.description.startsWith('Recovery codes regenerated'))).toHaveLength(2);
  });

  it('turns off only with the right password', async () => {
    const wrong = await post(t.app, '/settings/security/two-factor/disable', cookie, {
      disablePassword: 'Not-my-password-9',
    });
    expect(wrong.status).toBe(422);
    expect(await wrong.text()).toContain('The password is not right.');
    expect((await em().findOneOrFail(User, { email: 'tfa@acme.example' })).totpEnabledAt).not.toBeNull();

    const ok = await post(t.app, '/settings/security/two-factor/disable', cookie, { disablePassword: USER_PASSWORD });
    expect(ok.headers.get('location')).toBe('/settings/security');
    const user = await em().findOneOrFail(User, { email: 'tfa@acme.example' });
    expect(user.totpEnabledAt).toBeNull();
    expect(user.totpSecret).toBeNull();
    const page = await (await get(t.app, '/settings/security', `${cookie}; ${flashOf(ok)}`)).text();
    expect(page).toContain('Two-factor authentication is off.');
    const audit = await em().find(AuditEvent, { account: 'tfa@acme.example', activity: 'Two-factor changed' });
    expect(audit.at(-1)?.description).toBe('Two-factor authentication turned off');
    const mail = await em().find(MailMessage, { to: 'tfa@acme.example' }, { orderBy: { id: 'asc' } });
    expect(mail.at(-1)?.subject).toBe('Two-factor authentication was turned off for your Holdfast account');
    // Signing in asks for no code any more.
    expect((await passwordStep(t.app, 'tfa@acme.example')).location).toBe('/');
  });

  it('throttles guessing the password from an open session', async () => {
    const guesser = await signedIn('custom@acme.example');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await post(t.app, '/settings/security/password', guesser, {
        currentPassword: `Guess-number-${i}-x`,
        newPassword: 'Another-password-2027',
        confirmPassword: 'Another-password-2027',
      });
      statuses.push(res.status);
      if (res.status === 429) expect(await res.text()).toContain('Too many failed password attempts.');
    }
    expect(statuses).toEqual([422, 422, 422, 422, 422, 429]);
  });
});

describe('organization policies', () => {
  it('validates the number of days and keeps what was typed', async () => {
    const cookie = await signedIn('security-admin@acme.example');
    for (const days of ['0', '366', 'abc', '', '1.5']) {
      const res = await post(t.app, '/settings/security/policies', cookie, {
        organizationId: root.id,
        enforceTwoFactor: 'on',
        passwordExpiry: 'days',
        passwordExpiryDays: days,
      });
      expect(res.status, days).toBe(422);
      const html = await res.text();
      expect(html).toContain('Enter a whole number of days from 1 to 365.');
      expect(html).toContain(
        `name="passwordExpiryDays" min="1" max="365" step="1" inputmode="numeric" value="${days}"`,
      );
      expect(html).toMatch(/id="enforceTwoFactor" name="enforceTwoFactor" value="on" checked/);
    }
    const org = await em().findOneOrFail(Organization, { id: root.id });
    expect([org.enforceTwoFactor, org.passwordExpiryDays]).toEqual([false, null]);
  });

  it('saves enforcement and expiry, audits what changed, and says when nothing did', async () => {
    const cookie = await signedIn('security-admin@acme.example');
    const fields = {
      organizationId: root.id,
      enforceTwoFactor: 'on',
      passwordExpiry: 'days',
      passwordExpiryDays: '90',
    };
    const ok = await post(t.app, '/settings/security/policies', cookie, fields);
    expect(ok.headers.get('location')).toBe('/settings/security');
    const org = await em().findOneOrFail(Organization, { id: root.id });
    expect([org.enforceTwoFactor, org.passwordExpiryDays]).toEqual([true, 90]);
    const page = await (await get(t.app, '/settings/security', `${cookie}; ${flashOf(ok)}`)).text();
    expect(page).toContain('The security policies have been saved.');
    expect(page).toContain('value="90"');

    const same = await post(t.app, '/settings/security/policies', cookie, fields);
    expect(same.headers.get('location')).toBe('/settings/security');
    expect(await (await get(t.app, '/settings/security', `${cookie}; ${flashOf(same)}`)).text()).toContain(
      'Nothing was changed.',
    );
    const off = await post(t.app, '/settings/security/policies', cookie, {
      organizationId: root.id,
      passwordExpiry: 'off',
    });
    expect(off.status).toBe(303);
    const audit = await em().find(AuditEvent, { activity: 'Security settings changed' }, { orderBy: { id: 'asc' } });
    expect(audit.map((a) => [a.account, a.description, a.performedBy])).toEqual([
      [
        'Acme Managed Services',
        'Enforce two-factor authentication: on; Password expiration: off → 90 days',
        'security-admin@acme.example',
      ],
      [
        'Acme Managed Services',
        'Enforce two-factor authentication: off; Password expiration: 90 days → off',
        'security-admin@acme.example',
      ],
    ]);
  });

  it('cannot change another tenant: its id is not found, and a form acts only on the own organization', async () => {
    const cookie = await signedIn('other-admin@other.example');
    for (const id of [root.id, customer.id, 'no-such-id']) {
      const res = await post(t.app, '/settings/security/policies', cookie, {
        organizationId: id,
        enforceTwoFactor: 'on',
        passwordExpiry: 'days',
        passwordExpiryDays: '5',
      });
      expect(res.status, id).toBe(404);
    }
    for (const org of [root, customer]) {
      const stored = await em().findOneOrFail(Organization, { id: org.id });
      expect([stored.enforceTwoFactor, stored.passwordExpiryDays]).toEqual([false, null]);
    }
    // The customer's administrator cannot reach up to its parents either.
    const below = await signedIn('customer-admin@customer.example');
    const up = await post(t.app, '/settings/security/policies', below, {
      organizationId: root.id,
      passwordExpiry: 'off',
    });
    expect(up.status).toBe(404);

    const own = await post(t.app, '/settings/security/policies', cookie, {
      organizationId: other.id,
      enforceTwoFactor: 'on',
      passwordExpiry: 'off',
    });
    expect(own.status).toBe(303);
    expect((await em().findOneOrFail(Organization, { id: other.id })).enforceTwoFactor).toBe(true);
    expect((await em().findOneOrFail(Organization, { id: root.id })).enforceTwoFactor).toBe(false);
  });

  it('acts on the account opened from a portal, and refuses a form shown for another one', async () => {
    const cookie = await signedIn('security-admin@acme.example');
    // What opening the account from the portal does to the session.
    const fork = em();
    const sessions = await fork.find(Session, { user: { email: 'security-admin@acme.example' } });
    for (const session of sessions) session.actingOrganization = fork.getReference(Organization, customer.id);
    await fork.flush();
    const page = await (await get(t.app, '/settings/security', cookie)).text();
    expect(page).toContain(`name="organizationId" value="${customer.id}"`);
    expect(page).toContain('Customer With A Rather Long Name For Wrapping');

    const stale = await post(t.app, '/settings/security/policies', cookie, {
      organizationId: root.id,
      enforceTwoFactor: 'on',
      passwordExpiry: 'off',
    });
    expect(stale.status).toBe(409);
    const ok = await post(t.app, '/settings/security/policies', cookie, {
      organizationId: customer.id,
      passwordExpiry: 'days',
      passwordExpiryDays: '30',
    });
    expect(ok.status).toBe(303);
    expect((await em().findOneOrFail(Organization, { id: customer.id })).passwordExpiryDays).toBe(30);
    expect((await em().findOneOrFail(Organization, { id: root.id })).passwordExpiryDays).toBeNull();
    const audit = await em().findOneOrFail(
      AuditEvent,
      { activity: 'Security settings changed', organization: customer.id },
      { orderBy: { id: 'desc' } },
    );
    expect(audit.description).toBe('Password expiration: off → 30 days');
  });
});
