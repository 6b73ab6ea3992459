// Every page where a password is chosen states the whole rule before anything is typed, so a
// newcomer does not learn it one refusal at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD_RULES } from '../../core/identity/password.ts';
import { MailMessage } from '../../core/mail/entities.ts';
import { ADMIN, completeSetupVia, createTestApp, form, signIn, type TestApp } from '../helpers/kernel.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

async function linkMailedTo(to: string, path: string): Promise<string> {
  const mail = await t.kernel.orm.em.fork().findOne(MailMessage, { to }, { orderBy: { id: 'desc' } });
  const link = new RegExp(`/${path}/[A-Za-z0-9_-]+`).exec(mail?.text ?? '')?.[0];
  if (!link) throw new Error(`no ${path} link mailed to ${to}`);
  return link;
}

describe('password rules', () => {
  it('names length, character mix, common passwords and the email name', () => {
    expect(PASSWORD_RULES).toContain('At least 12 characters');
    expect(PASSWORD_RULES).toContain('three of: lower-case letters, upper-case letters, digits, symbols');
    expect(PASSWORD_RULES).toContain('email name');
  });

  it('are shown on the setup, change, reset and invitation pages before anything is typed', async () => {
    const setup = await (await t.app.request('/setup')).text();
    expect(setup).toContain(PASSWORD_RULES);

    await completeSetupVia(t.app);
    const cookie = await signIn(t.app);
    const security = await (await t.app.request('/settings/security', { headers: { cookie } })).text();
    expect(security).toContain(PASSWORD_RULES);

    await t.app.request('/forgot-password', form({ email: ADMIN.email }));
    const reset = await (await t.app.request(await linkMailedTo(ADMIN.email, 'reset-password'))).text();
    expect(reset).toContain(PASSWORD_RULES);

    const invited = await t.app.request('/settings/users/new', {
      ...form({ email: 'new.person@acme.example', role: 'custom', permissions: 'restore' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(invited.status).toBe(303);
    const accept = await (await t.app.request(await linkMailedTo('new.person@acme.example', 'confirm-email'))).text();
    expect(accept).toContain(PASSWORD_RULES);
  });
});
