// Every security action of the identity issue leaves its Security Audit entry: one walk through
// the browser routes, then a check per activity.
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/access/entities.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { Organization, User } from '../../../core/identity/entities.ts';
import { MailMessage } from '../../../core/mail/entities.ts';
import { ADMIN, completeSetupVia, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp;
let cookie: string;
const em = () => t.kernel.orm.em.fork();

function post(path: string, fields: Record<string, string>, extra: Record<string, string> = {}) {
  return t.app.request(path, { ...form(fields), headers: { ...form({}).headers, cookie, ...extra } });
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
});

afterAll(async () => {
  await t.close();
});

describe('security audit coverage', () => {
  it('records every action of the identity issue', async () => {
    // Sign-in: a failure, then a success.
    expect((await t.app.request('/login', form({ email: ADMIN.email, password: 'wrong-password-1' }))).status).toBe(
      401,
    );
    cookie = await signIn(t.app);

    // Accounts: add a customer, open it, return.
    expect((await post('/portal/new', { kind: 'customer', name: 'Audited Customer' })).status).toBe(303);
    const customer = await em().findOneOrFail(Organization, { name: 'Audited Customer' });
    const opened = await post(`/portal/accounts/${customer.id}/open`, {});
    expect(opened.status).toBe(303);
    cookie = (opened.headers.get('set-cookie') as string).split(';')[0] as string;
    const back = await post('/portal/return', {});
    cookie = (back.headers.get('set-cookie') as string).split(';')[0] as string;

    // Users: add, change permissions, deactivate, delete.
    expect(
      (await post('/settings/users/new', { email: 'temp@acme.example', role: 'custom', permissions: 'restore' }))
        .status,
    ).toBe(303);
    const temp = await em().findOneOrFail(User, { email: 'temp@acme.example' });
    expect(
      (await post(`/settings/users/${temp.id}`, { email: temp.email, role: 'custom', permissions: 'export_download' }))
        .status,
    ).toBe(303);
    expect((await post(`/settings/users/${temp.id}/deactivate`, {})).status).toBe(303);
    expect((await post(`/settings/users/${temp.id}/delete`, {})).status).toBe(303);

    // Settings and security settings.
    expect((await post('/settings/account', { name: 'Acme Managed Services Ltd' })).status).toBe(303);
    const root = await em().findOneOrFail(Organization, { kind: 'root' });
    expect(
      (
        await post('/settings/security/policies', {
          organizationId: root.id,
          passwordExpiry: 'days',
          passwordExpiryDays: '365',
        })
      ).status,
    ).toBe(303);

    // IP restrictions: a rule (restrictions stay off).
    expect((await post('/settings/ip-restrictions', { description: 'Office', addresses: '192.0.2.0/24' })).status).toBe(
      303,
    );

    // Two-factor: enrol with a computed code.
    const enrolPage = await (await t.app.request('/settings/security/two-factor', { headers: { cookie } })).text();
    const secret = /id="totp-secret"[^>]*>([^<]+)</.exec(enrolPage)?.[1]?.replace(/\s+/g, '') as string;
    expect(secret).toMatch(/^[A-Z2-7]+$/);
    const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 }).generate();
    const enrolled = await post('/settings/security/two-factor', { code });
    expect([200, 303]).toContain(enrolled.status);
    expect((await em().findOneOrFail(User, { email: ADMIN.email })).totpEnabledAt).not.toBeNull();

    // API keys: create, delete.
    expect((await post('/settings/api/keys', {})).status).toBeLessThan(400);
    const key = await em().findOneOrFail(ApiKey, { organization: root.id });
    expect((await post(`/settings/api/keys/${key.id}/delete`, {})).status).toBe(303);

    // Export of the audit itself.
    const csv = await t.app.request('/activity/security-audit/export.csv', { headers: { cookie } });
    expect(csv.status).toBe(200);
    await csv.text();

    // Password reset by mail, then sign-out.
    await t.app.request('/forgot-password', form({ email: ADMIN.email }));
    const mail = await em().findOneOrFail(MailMessage, { subject: 'Reset your Holdfast password' });
    const link = /\/reset-password\/[A-Za-z0-9_-]+/.exec(mail.text)?.[0] as string;
    expect(
      (await t.app.request(link, form({ password: 'Another-strong-pass-1', confirmPassword: 'Another-strong-pass-1' })))
        .status,
    ).toBe(303);

    const activities = new Set((await em().find(AuditEvent, {})).map((e) => `${e.activity}/${e.status}`));
    for (const expected of [
      'Sign-in/completed',
      'Sign-in/failed',
      'Account added/completed',
      'Account accessed/completed',
      'User added/completed',
      'Permissions changed/completed',
      'User deactivated/completed',
      'User removed/completed',
      'Settings changed/completed',
      'Security settings changed/completed',
      'IP restrictions changed/completed',
      'Two-factor changed/completed',
      'API key created/completed',
      'API key deleted/completed',
      'Audit exported/completed',
      'Password reset/completed',
    ]) {
      expect(activities, expected).toContain(expected);
    }
  });
});
