// Every identity and access activity of the Security Audit's list leaves its entry: one walk
// through the browser routes, then a check against the list itself (not a copy of it).
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/access/entities.ts';
import { AUDIT_ACTIVITIES, type AuditActivity } from '../../../core/audit/audit-service.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { Organization, User } from '../../../core/identity/entities.ts';
import { MailMessage } from '../../../core/mail/entities.ts';
import { runMaintenance } from '../../../core/maintenance.ts';
import {
  ADMIN,
  completeSetupVia,
  createTestApp,
  form,
  fromAddress,
  signIn,
  type TestApp,
} from '../../helpers/kernel.ts';

let t: TestApp;
let cookie: string;
const em = () => t.kernel.orm.em.fork();

async function post(
  path: string,
  fields: Record<string, string>,
  extra: Record<string, string> = {},
  peer?: ReturnType<typeof fromAddress>,
): Promise<Response> {
  const res = await t.app.request(path, { ...form(fields), headers: { ...form({}).headers, cookie, ...extra } }, peer);
  // A 303 to the sign-in page would pass a status check while doing nothing.
  expect(res.headers.get('location') ?? '', `${path} answered as to a signed-out visitor`).not.toMatch(/^\/login/);
  return res;
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
});

afterAll(async () => {
  await t.close();
});

// Activities of backups, jobs, recovery and storage locations: their own tests walk them
// (tests/integration/tasks, jobs, storage-locations, system-activity, salesforce/compare,
// integrations).
const OTHER_FEATURES = new Set<AuditActivity>([
  // tests/integration/identity/sso-settings.test.ts
  'Single sign-on changed',
  'External identity removed',
  // tests/integration/dr/recovery-sheet.test.ts
  'Recovery sheet viewed',
  // A customer's own administrator decides (tests/integration/partner-access.test.ts).
  'Partner access removed',
  'Partner access restored',
  'Integration added',
  'Integration changed',
  'Integration removed',
  'Storage location changed',
  // tests/integration/billing/*.test.ts (MSP billing)
  'Trial subscribed',
  'Billing changed',
  'Invoice issued',
  'Invoice paid',
  // tests/integration/storage-locations/scheduled-verification.test.ts
  'Verification started',
  'Repair started',
  'Activity exported',
  'Backup task added',
  'Backup task changed',
  'Backup task reconnected',
  'Backup task deleted',
  'Backup task restored',
  'Backup task purged',
  'Backups activated',
  'Backups paused',
  'Backup started',
  'Backups deleted',
  'Backups restored',
  'Job canceled',
  'Restore started',
  'Export started',
  'Export downloaded',
  'Compare started',
]);

describe('security audit coverage', () => {
  it('records every identity and access activity of the audit list', async () => {
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
    // The invitee confirms the address from the invitation mail.
    const invite = await em().findOneOrFail(MailMessage, { to: 'temp@acme.example' });
    const confirmLink = /\/confirm-email\/[A-Za-z0-9_-]+/.exec(invite.text)?.[0] as string;
    expect(
      (
        await t.app.request(
          confirmLink,
          form({ password: 'Orchard-lantern-river-42', confirmPassword: 'Orchard-lantern-river-42' }),
        )
      ).status,
    ).toBeLessThan(400);
    expect(
      (await post(`/settings/users/${temp.id}`, { email: temp.email, role: 'custom', permissions: 'export_download' }))
        .status,
    ).toBe(303);
    expect((await post(`/settings/users/${temp.id}/deactivate`, {})).status).toBe(303);
    expect((await post(`/settings/users/${temp.id}/activate`, {})).status).toBe(303);
    expect((await post(`/settings/users/${temp.id}/deactivate`, {})).status).toBe(303);
    expect((await post(`/settings/users/${temp.id}/delete`, {})).status).toBe(303);

    // Accounts: request removal, restore, request again (maintenance purges it at the end).
    expect((await post(`/portal/accounts/${customer.id}/remove`, { approve: 'yes' })).status).toBe(303);
    expect((await post(`/portal/accounts/${customer.id}/restore`, {})).status).toBe(303);
    expect((await post(`/portal/accounts/${customer.id}/remove`, { approve: 'yes' })).status).toBe(303);

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

    // IP restrictions: a rule, enabled from inside it; a request from elsewhere is refused; off again.
    expect((await post('/settings/ip-restrictions', { description: 'Office', addresses: '192.0.2.0/24' })).status).toBe(
      303,
    );
    const office = fromAddress('192.0.2.10');
    expect((await post('/settings/ip-restrictions/enabled', { enabled: 'on' }, {}, office)).status).toBe(303);
    expect((await t.app.request('/', { headers: { cookie } }, fromAddress('198.51.100.7'))).status).toBe(403);
    expect((await post('/settings/ip-restrictions/enabled', {}, {}, office)).status).toBe(303);

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

    // Password change (the session is rotated), then sign-out.
    const changed = await post('/settings/security/password', {
      currentPassword: ADMIN.password,
      newPassword: 'Changed-strong-pass-1',
      confirmPassword: 'Changed-strong-pass-1',
    });
    expect(changed.status).toBeLessThan(400);
    cookie = (changed.headers.get('set-cookie') as string).split(';')[0] as string;
    const signedOut = await t.app.request('/logout', { ...form({}), headers: { ...form({}).headers, cookie } });
    expect(signedOut.headers.get('location')).toBe('/login?signedOut=1');

    // Password reset by mail.
    await t.app.request('/forgot-password', form({ email: ADMIN.email }));
    const mail = await em().findOneOrFail(MailMessage, { subject: 'Reset your Holdfast password' });
    const link = /\/reset-password\/[A-Za-z0-9_-]+/.exec(mail.text)?.[0] as string;
    expect(
      (await t.app.request(link, form({ password: 'Another-strong-pass-1', confirmPassword: 'Another-strong-pass-1' })))
        .status,
    ).toBe(303);

    // Maintenance a week later purges the removed account (and ends the sessions it finds expired).
    const report = await runMaintenance(t.kernel.orm, t.kernel.deps.log, new Date(Date.now() + 8 * 24 * 3600_000));
    expect(report.purged.map((p) => p.id)).toEqual([customer.id]);

    // Every activity of the audit's list, except those of backups, jobs, recovery and storage
    // (walked by their own tests), was recorded; a new activity must be walked here or named below.
    const activities = new Set((await em().find(AuditEvent, {})).map((e) => `${e.activity}/${e.status}`));
    const expected = AUDIT_ACTIVITIES.filter((a) => !OTHER_FEATURES.has(a)).map((a) =>
      a === 'Access denied' ? `${a}/failed` : `${a}/completed`,
    );
    expect(expected).toHaveLength(AUDIT_ACTIVITIES.length - OTHER_FEATURES.size);
    expect(expected.filter((a) => !activities.has(a))).toEqual([]);
    expect(activities).toContain('Sign-in/failed');
  });
});
