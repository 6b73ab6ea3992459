// The steps of signing in after the password, through the real routes: a two-factor code (or a
// recovery code), enrolment forced by the organization, a new password when it has expired.
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../core/audit/entities.ts';
import { type IOrganization, LoginThrottle, Organization, Session, User } from '../../core/identity/entities.ts';
import { verifyPassword } from '../../core/identity/password.ts';
import { confirmEnrolment, pendingEnrolment } from '../../core/identity/two-factor.ts';
import { MailMessage } from '../../core/mail/entities.ts';
import { ADMIN, completeSetupVia, createTestApp, type TestApp } from '../helpers/kernel.ts';
import {
  addOrganization,
  addUser,
  appCode,
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
const em = (): EntityManager => t.kernel.orm.em.fork();
/** Everything secret the tests saw; none of it may appear in a log line. */
const secretsSeen: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  clock = testClock(t.kernel.deps);
  root = await em().findOneOrFail(Organization, { kind: 'root' });
});
afterAll(async () => {
  await t?.close();
});

/** A user with two-factor on (enrolled through the service); returns the secret and recovery codes. */
async function userWithTwoFactor(email: string): Promise<{ secret: string; codes: string[] }> {
  const fork = em();
  const user = await addUser(fork, await fork.findOneOrFail(Organization, { id: root.id }), email);
  const secret = await pendingEnrolment(fork, user, t.kernel.deps.credentials);
  const codes = await confirmEnrolment(
    fork,
    user,
    t.kernel.deps.credentials,
    appCode(secret, clock.now()),
    clock.now(),
  );
  clock.advance(30);
  secretsSeen.push(secret, ...codes);
  return { secret, codes };
}

describe('the two-factor step', () => {
  it('asks for a code after the password and signs in with it, with a new session token', async () => {
    const { secret } = await userWithTwoFactor('tfa-one@acme.example');
    const step = await passwordStep(t.app, 'tfa-one@acme.example', USER_PASSWORD, '/settings/security');
    expect(step.location).toBe('/login/two-factor?next=%2Fsettings%2Fsecurity');
    // Half signed in: no page but the step's own opens.
    const home = await get(t.app, '/', step.cookie);
    expect(home.headers.get('location')).toBe('/login/two-factor');
    const page = await get(t.app, step.location as string, step.cookie);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Authentication code');
    expect(html).toContain('name="next" value="/settings/security"');
    expect(html).toContain('href="/login/two-factor?mode=recovery&amp;next=%2Fsettings%2Fsecurity"');

    const wrong = await post(t.app, '/login/two-factor', step.cookie, { code: '000000', next: '/settings/security' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That code is not right.');

    const code = appCode(secret, clock.now());
    secretsSeen.push(code);
    const ok = await post(t.app, '/login/two-factor', step.cookie, { code, next: '/settings/security' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/settings/security');
    const cookie = sessionCookieOf(ok) as string;
    expect(cookie).toBeDefined();
    expect(cookie).not.toBe(step.cookie);
    expect((await get(t.app, '/', cookie)).status).toBe(200);
    // The half-signed-in token is worth nothing now.
    expect((await get(t.app, '/login/two-factor', step.cookie)).headers.get('location')).toBe('/login');

    // The same code does not open a second sign-in.
    const again = await passwordStep(t.app, 'tfa-one@acme.example');
    expect((await post(t.app, '/login/two-factor', again.cookie, { code })).status).toBe(401);
    clock.advance(30);
    const later = await post(t.app, '/login/two-factor', again.cookie, { code: appCode(secret, clock.now()) });
    expect(later.status).toBe(303);
    expect(later.headers.get('location')).toBe('/');

    const audit = await em().find(AuditEvent, { account: 'tfa-one@acme.example' }, { orderBy: { id: 'asc' } });
    expect(audit.map((a) => [a.activity, a.status, a.description.split(' from ')[0]])).toEqual([
      ['Sign-in', 'completed', 'Password accepted with an unknown browser'],
      ['Sign-in', 'failed', 'Sign-in failed (wrong two-factor code)'],
      ['Sign-in', 'completed', 'Signed in with a two-factor code'],
      ['Sign-in', 'completed', 'Password accepted with an unknown browser'],
      ['Sign-in', 'failed', 'Sign-in failed (wrong two-factor code)'],
      ['Sign-in', 'completed', 'Signed in with a two-factor code'],
    ]);
  });

  it('signs in with a recovery code once, and tells the user by mail', async () => {
    const { codes } = await userWithTwoFactor('tfa-recovery@acme.example');
    const step = await passwordStep(t.app, 'tfa-recovery@acme.example');
    const page = await get(t.app, '/login/two-factor?mode=recovery', step.cookie);
    expect(await page.text()).toContain('Recovery code');
    const ok = await post(t.app, '/login/two-factor', step.cookie, {
      method: 'recovery_code',
      code: (codes[0] as string).toUpperCase(),
    });
    expect(ok.status).toBe(303);
    const mail = await em().findOneOrFail(MailMessage, { to: 'tfa-recovery@acme.example' });
    expect(mail.subject).toBe('A recovery code was used to sign in to your Holdfast account');
    expect(mail.text).toContain('You have 9 unused recovery codes left.');
    expect(mail.text).not.toContain(codes[0]);

    const second = await passwordStep(t.app, 'tfa-recovery@acme.example');
    const reused = await post(t.app, '/login/two-factor', second.cookie, {
      method: 'recovery_code',
      code: codes[0] as string,
    });
    expect(reused.status).toBe(401);
    expect(await reused.text()).toContain('That recovery code is not right, or it has been used already.');
    const audit = await em().find(AuditEvent, { account: 'tfa-recovery@acme.example', activity: 'Two-factor changed' });
    expect(audit.map((a) => a.description)).toEqual(['Recovery code used to sign in; 9 left']);
  });

  it('throttles wrong codes per account, and a new password sign-in does not reset the count', async () => {
    const { secret } = await userWithTwoFactor('tfa-guess@acme.example');
    let step = await passwordStep(t.app, 'tfa-guess@acme.example');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await post(t.app, '/login/two-factor', step.cookie, { code: String(100000 + i) })).status);
    }
    step = await passwordStep(t.app, 'tfa-guess@acme.example');
    const fifth = await post(t.app, '/login/two-factor', step.cookie, { code: '999999' });
    statuses.push(fifth.status);
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    expect(await fifth.text()).toContain('Too many wrong codes. Try again in 15 minutes.');
    expect(Number(fifth.headers.get('retry-after'))).toBeGreaterThan(0);
    // Locked: even the right code waits.
    const right = await post(t.app, '/login/two-factor', step.cookie, { code: appCode(secret, clock.now()) });
    expect(right.status).toBe(429);
    await em().nativeDelete(LoginThrottle, {});
  });

  it('accepts only a session of its own stage', async () => {
    await userWithTwoFactor('tfa-stage@acme.example');
    const step = await passwordStep(t.app, 'tfa-stage@acme.example');
    for (const path of ['/login/two-factor/setup', '/login/new-password']) {
      expect((await get(t.app, path, step.cookie)).headers.get('location')).toBe('/login');
      expect((await post(t.app, path, step.cookie, { code: '123456' })).headers.get('location')).toBe('/login');
    }
    expect((await get(t.app, '/settings/security', step.cookie)).headers.get('location')).toBe('/login/two-factor');
    for (const path of ['/login/two-factor', '/login/two-factor/setup', '/login/new-password']) {
      expect((await get(t.app, path)).headers.get('location')).toBe('/login');
    }
    // A full session is sent on (the login page sends it home).
    const admin = await passwordStep(t.app, ADMIN.email, ADMIN.password);
    expect(admin.location).toBe('/');
    expect((await get(t.app, '/login/two-factor', admin.cookie)).headers.get('location')).toBe('/login');
  });
});

describe('enrolment required by the organization', () => {
  it('makes a user without two-factor set it up before anything else, then shows the recovery codes once', async () => {
    const fork = em();
    const org = await addOrganization(
      fork,
      await fork.findOneOrFail(Organization, { id: root.id }),
      'customer',
      'Enforcing Customer',
    );
    org.enforceTwoFactor = true;
    await fork.flush();
    await addUser(fork, org, 'forced@enforcing.example');

    const otherBrowser = await passwordStep(t.app, 'forced@enforcing.example');
    const step = await passwordStep(t.app, 'forced@enforcing.example', USER_PASSWORD, '/settings/security');
    expect(step.location).toBe('/login/two-factor/setup?next=%2Fsettings%2Fsecurity');
    expect((await get(t.app, '/', step.cookie)).headers.get('location')).toBe('/login/two-factor/setup');
    const page = await get(t.app, step.location as string, step.cookie);
    const html = await page.text();
    expect(html).toContain('Enforcing Customer</span> requires two-factor authentication');
    expect(html).toMatch(/<figure class="qr-code"[^>]*><svg /);
    const secret = secretOnPage(html);
    secretsSeen.push(secret);
    // Reloading shows the same secret, so a code already scanned still works.
    expect(secretOnPage(await (await get(t.app, '/login/two-factor/setup', step.cookie)).text())).toBe(secret);

    const wrong = await post(t.app, '/login/two-factor/setup', step.cookie, {
      code: '12345',
      next: '/settings/security',
    });
    expect(wrong.status).toBe(422);
    expect(await wrong.text()).toContain('That code is not right.');

    const done = await post(t.app, '/login/two-factor/setup', step.cookie, {
      code: appCode(secret, clock.now()),
      next: '/settings/security',
    });
    expect(done.status).toBe(200);
    const codesPage = await done.text();
    const codes = recoveryCodesOnPage(codesPage);
    secretsSeen.push(...codes);
    expect(codes).toHaveLength(10);
    expect(codesPage).toContain('href="/settings/security"');
    expect(codesPage).not.toContain(secret);
    const cookie = sessionCookieOf(done) as string;
    expect(cookie).not.toBe(step.cookie);
    const settings = await get(t.app, '/settings/security', cookie);
    expect(settings.status).toBe(200);
    const settingsHtml = await settings.text();
    expect(settingsHtml).toContain('10 of 10 recovery codes left.');
    expect(settingsHtml).not.toContain(secret);
    expect(settingsHtml).not.toContain(codes[0]);

    const user = await em().findOneOrFail(User, { email: 'forced@enforcing.example' });
    expect(user.totpEnabledAt).not.toBeNull();
    const audit = await em().find(AuditEvent, { account: 'forced@enforcing.example' }, { orderBy: { id: 'asc' } });
    expect(audit.map((a) => a.activity)).toEqual(['Sign-in', 'Sign-in', 'Two-factor changed', 'Sign-in']);
    expect(audit[2]?.description).toBe('Two-factor authentication turned on at sign-in (required by the organization)');
    expect((await em().findOneOrFail(MailMessage, { to: 'forced@enforcing.example' })).subject).toBe(
      'Two-factor authentication is on for your Holdfast account',
    );

    // A sign-in left at the enrolment step elsewhere must start over (and will ask for a code).
    expect((await get(t.app, '/login/two-factor/setup', otherBrowser.cookie)).headers.get('location')).toBe('/login');
    // Next time the code is asked for, not enrolment.
    clock.advance(30);
    const next = await passwordStep(t.app, 'forced@enforcing.example');
    expect(next.location).toBe('/login/two-factor');
  });
});

describe('expired passwords', () => {
  it('asks for a new password at sign-in, refuses weak, mismatched or unchanged ones, and ends other sessions', async () => {
    const fork = em();
    const org = await addOrganization(
      fork,
      await fork.findOneOrFail(Organization, { id: root.id }),
      'customer',
      'Expiring Customer',
    );
    org.passwordExpiryDays = 30;
    await fork.flush();
    await addUser(fork, org, 'expired@expiring.example', {
      passwordChangedAt: new Date(clock.now().getTime() - 31 * 86_400_000),
    });
    const other = await passwordStep(t.app, 'expired@expiring.example');
    const step = await passwordStep(t.app, 'expired@expiring.example', USER_PASSWORD, '/settings/security');
    expect(step.location).toBe('/login/new-password?next=%2Fsettings%2Fsecurity');
    const page = await get(t.app, step.location as string, step.cookie);
    expect(await page.text()).toContain('asks for a new one every 30 days');

    const strength = await post(t.app, '/login/new-password/strength', step.cookie, { newPassword: 'short' });
    expect(await strength.text()).toContain('Use at least 12 characters.');
    // Only a session at this step may use the check.
    expect((await post(t.app, '/login/new-password/strength', other.cookie.replace(/=.*/, '=x'), {})).status).toBe(403);

    const cases: [Record<string, string>, string][] = [
      [{ newPassword: 'short', confirmPassword: 'short' }, 'Use at least 12 characters.'],
      [
        { newPassword: 'Brand-new-pass-2027', confirmPassword: 'Brand-new-pass-2028' },
        'The two passwords do not match.',
      ],
      [
        { newPassword: USER_PASSWORD, confirmPassword: USER_PASSWORD },
        'Choose a password different from the expired one.',
      ],
    ];
    for (const [fields, message] of cases) {
      const res = await post(t.app, '/login/new-password', step.cookie, { ...fields, next: '/settings/security' });
      expect(res.status).toBe(422);
      expect(await res.text()).toContain(message);
    }
    const ok = await post(t.app, '/login/new-password', step.cookie, {
      newPassword: 'Brand-new-pass-2027',
      confirmPassword: 'Brand-new-pass-2027',
      next: '/settings/security',
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/settings/security');
    const cookie = sessionCookieOf(ok) as string;
    expect((await get(t.app, '/settings/security', cookie)).status).toBe(200);
    // The half-finished session opened before is gone.
    expect((await get(t.app, '/login/new-password', other.cookie)).headers.get('location')).toBe('/login');

    const user = await em().findOneOrFail(User, { email: 'expired@expiring.example' });
    expect(await verifyPassword('Brand-new-pass-2027', user.passwordHash as string)).toBe(true);
    expect(user.passwordChangedAt?.getTime()).toBe(clock.now().getTime());
    expect(await em().count(Session, { user: user.id })).toBe(1);
    const audit = await em().find(AuditEvent, { account: 'expired@expiring.example', activity: 'Password changed' });
    expect(audit.map((a) => a.description)).toEqual(['Expired password replaced at sign-in']);
    expect((await em().findOneOrFail(MailMessage, { to: 'expired@expiring.example' })).subject).toBe(
      'Your Holdfast password was changed',
    );
    // The new password signs in without the step.
    expect((await passwordStep(t.app, 'expired@expiring.example', 'Brand-new-pass-2027')).location).toBe('/');
  });

  it('chains the steps: enrolment first, then the new password', async () => {
    const fork = em();
    const org = await addOrganization(
      fork,
      await fork.findOneOrFail(Organization, { id: root.id }),
      'customer',
      'Strict Customer',
    );
    org.passwordExpiryDays = 10;
    org.enforceTwoFactor = true;
    await fork.flush();
    await addUser(fork, org, 'strict@strict.example', {
      passwordChangedAt: new Date(clock.now().getTime() - 11 * 86_400_000),
    });
    const step = await passwordStep(t.app, 'strict@strict.example', USER_PASSWORD, '/settings');
    expect(step.location).toBe('/login/two-factor/setup?next=%2Fsettings');
    const secret = secretOnPage(await (await get(t.app, '/login/two-factor/setup', step.cookie)).text());
    secretsSeen.push(secret);
    const enrolled = await post(t.app, '/login/two-factor/setup', step.cookie, {
      code: appCode(secret, clock.now()),
      next: '/settings',
    });
    expect(await enrolled.text()).toContain('href="/login/new-password?next=%2Fsettings"');
    const cookie = sessionCookieOf(enrolled) as string;
    expect((await get(t.app, '/', cookie)).headers.get('location')).toBe('/login/new-password');
    const ok = await post(t.app, '/login/new-password', cookie, {
      newPassword: 'Chained-new-pass-2027',
      confirmPassword: 'Chained-new-pass-2027',
      next: '/settings',
    });
    expect(ok.headers.get('location')).toBe('/settings');
  });
});

describe('logs', () => {
  it('never contain a TOTP secret, a code or a recovery code', () => {
    expect(secretsSeen.length).toBeGreaterThan(20);
    const all = t.logs.join('');
    expect(all).toContain('sign-in step completed');
    for (const secret of secretsSeen) {
      // A 6-digit code could sit by chance inside a hex id: look for it standing alone.
      const alone = new RegExp(`(?<![0-9a-f])${secret}(?![0-9a-f])`, 'i');
      expect(alone.test(all), `log mentions ${secret}`).toBe(false);
    }
    // Nor the encrypted form of a secret.
    expect(all).not.toMatch(/hf1\.[0-9a-f]{8}\./);
  });
});
