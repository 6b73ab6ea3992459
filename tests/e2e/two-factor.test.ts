// Two-factor authentication in a real browser against the real appliance process: an
// administrator enrols from Settings › Security and signs in with a code computed from the
// secret shown on the page; then enforces two-factor for the organization, and a user without
// it is made to enrol at their next sign-in (and, with an expired password, to choose a new one).
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/database.ts';
import { Organization, User } from '../../core/identity/entities.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir, testConfig } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths } from '../helpers/e2e.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';
import { addUser, USER_PASSWORD } from '../helpers/security.ts';

let browser: Browser;
let appliance: RunningProcess;
let db: Database | undefined;
const dir = tempDir();

beforeAll(async () => {
  appliance = await startApplianceProcess(baseEnv(dir.path));
  browser = await launchChromium();
});

afterAll(async () => {
  await db?.close();
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

/** Screenshots the page at desktop and phone widths; the phone layout must not scroll sideways. */
async function shoot(page: Page, name: string): Promise<void> {
  expect(await screenshotBothWidths(page, name), `horizontal overflow on ${name}`).toBeLessThanOrEqual(0);
}

/** What an authenticator app shows: the code of `step` (default: now). */
function appCode(secret: string, step?: number): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
  return step === undefined ? totp.generate() : totp.generate({ timestamp: step * 30_000 });
}

function currentStep(): number {
  return Math.floor(Date.now() / 30_000);
}

/** A code not yet used: never the step accepted last (the appliance refuses a code twice). */
function freshCode(secret: string, lastUsedStep: number): { code: string; step: number } {
  const step = Math.max(currentStep(), lastUsedStep + 1);
  return { code: appCode(secret, step), step };
}

async function secretShown(page: Page): Promise<string> {
  const text = (await page.locator('#totp-secret').textContent()) ?? '';
  return text.replaceAll(/\s/g, '');
}

async function signInWithPassword(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${appliance.url}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('two-factor authentication in a browser', () => {
  it('enrols from Settings › Security, signs in with a code, then an enforced organization makes a newcomer enrol', async () => {
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    // Refused codes (401) and form errors (422) are expected answers; anything else is not.
    const consoleErrors = consoleErrorsOf(page, /status of (401|422)/);

    // First run: the administrator.
    await page.goto(`${appliance.url}/setup`);
    await page.getByLabel('Organization name').fill(ADMIN.organizationName);
    await page.getByLabel('Administrator email').fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Confirm password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    // Setup signs the administrator in.
    await page.waitForURL(`${appliance.url}/`);

    // Settings › Security → set up two-factor.
    await page.goto(`${appliance.url}/settings/security`);
    expect(await page.locator('#two-factor-heading .badge').textContent()).toBe('Off');
    // The new password's strength is checked as it is typed.
    await page.getByLabel('New password', { exact: true }).fill('short');
    await expect
      .poll(() => page.locator('#newPassword-error').textContent())
      .toBe(
        'Use at least 12 characters. Mix at least three of: lower-case letters, upper-case letters, digits, symbols. Use more varied characters.',
      );
    await page.getByLabel('New password', { exact: true }).fill('Long-enough-pass-2027');
    await expect.poll(() => page.locator('#newPassword-error').textContent()).toBe('');
    await page.getByLabel('New password', { exact: true }).fill('');
    await shoot(page, 'security-settings');
    await page.getByRole('link', { name: 'Set up two-factor authentication' }).click();
    await page.waitForURL('**/settings/security/two-factor');
    expect(await page.locator('.qr-code svg').isVisible()).toBe(true);
    const secret = await secretShown(page);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await shoot(page, 'two-factor-enrol');

    await page.getByLabel('6-digit code').fill('000000');
    await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
    await expect.poll(() => page.locator('#code-error').textContent()).toContain('That code is not right.');
    expect(await secretShown(page)).toBe(secret);

    let last = freshCode(secret, 0);
    await page.getByLabel('6-digit code').fill(last.code);
    await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
    await expect
      .poll(() => page.getByRole('heading', { level: 2 }).first().textContent())
      .toBe('Two-factor authentication is on');
    expect(await page.locator('.recovery-codes li').count()).toBe(10);
    await shoot(page, 'recovery-codes-settings');
    await page.getByRole('link', { name: 'I have saved my codes' }).click();
    await page.waitForURL('**/settings/security');
    expect(await page.locator('#two-factor-heading .badge').textContent()).toBe('On');
    await page.getByText('Make new recovery codes').first().click();
    await page.getByText('Turn off two-factor authentication').first().click();
    await shoot(page, 'security-settings-two-factor-on');

    // Sign out and back in: the password, then a code from the app.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/login?signedOut=1');
    await signInWithPassword(page, ADMIN.email, ADMIN.password);
    await page.waitForURL('**/login/two-factor');
    await shoot(page, 'login-two-factor');
    // The code that turned two-factor on is still what the app shows: it signs in, once.
    await page.getByLabel('Authentication code').fill(last.code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${appliance.url}/`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/login?signedOut=1');
    await signInWithPassword(page, ADMIN.email, ADMIN.password);
    await page.waitForURL('**/login/two-factor');
    // Replayed, the same code is refused.
    await page.getByLabel('Authentication code').fill(last.code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That code is not right.');
    await page.getByRole('link', { name: 'Use a recovery code' }).click();
    await page.waitForURL('**/login/two-factor?mode=recovery');
    await shoot(page, 'login-recovery-code');
    await page.getByRole('link', { name: 'Use a code from your app' }).click();
    last = freshCode(secret, last.step);
    await page.getByLabel('Authentication code').fill(last.code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${appliance.url}/`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Homepage');

    // Enforce two-factor and a password expiry for the organization.
    await page.goto(`${appliance.url}/settings/security`);
    await page.getByLabel('Require two-factor authentication').check();
    await page.getByLabel('Passwords expire after').check();
    await page.getByLabel('Number of days before a password expires').fill('0');
    await page.getByRole('button', { name: 'Save policies' }).click();
    await expect
      .poll(() => page.locator('#passwordExpiryDays-error').textContent())
      .toBe('Enter a whole number of days from 1 to 365.');
    await shoot(page, 'security-policies-error');
    await page.getByLabel('Number of days before a password expires').fill('30');
    await page.getByRole('button', { name: 'Save policies' }).click();
    await page.waitForURL('**/settings/security');
    expect(await page.getByRole('status').textContent()).toContain('The security policies have been saved.');

    // A user without two-factor, whose password is older than the policy allows.
    db = await openDatabase(testConfig(dir.path));
    const em = db.em.fork();
    const root = await em.findOneOrFail(Organization, { kind: 'root' });
    await addUser(em, root, 'newcomer@acme.example', { passwordChangedAt: new Date(Date.now() - 40 * 86_400_000) });

    const fresh = await newBrowserContext(browser, { viewport: DESKTOP });
    const newcomer = await fresh.newPage();
    const newcomerErrors = consoleErrorsOf(newcomer, /status of (401|422)/);
    await signInWithPassword(newcomer, 'newcomer@acme.example', USER_PASSWORD);
    await newcomer.waitForURL('**/login/two-factor/setup');
    await newcomer.goto(`${appliance.url}/`);
    expect(new URL(newcomer.url()).pathname).toBe('/login/two-factor/setup');
    const newcomerSecret = await secretShown(newcomer);
    await shoot(newcomer, 'login-two-factor-setup');
    await newcomer.getByLabel('6-digit code').fill(freshCode(newcomerSecret, 0).code);
    await newcomer.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
    await expect.poll(() => newcomer.getByRole('heading', { level: 1 }).textContent()).toBe('Save your recovery codes');
    expect(await newcomer.locator('.recovery-codes li').count()).toBe(10);
    await shoot(newcomer, 'login-recovery-codes');
    await newcomer.getByRole('link', { name: 'Continue' }).click();

    // Then the expired password.
    await newcomer.waitForURL('**/login/new-password');
    await shoot(newcomer, 'login-new-password');
    await newcomer.getByLabel('New password', { exact: true }).fill(USER_PASSWORD);
    await newcomer.getByLabel('Confirm new password').fill(USER_PASSWORD);
    await newcomer.getByRole('button', { name: 'Save password and continue' }).click();
    await expect
      .poll(() => newcomer.locator('#newPassword-error').textContent())
      .toBe('Choose a password different from the expired one.');
    await newcomer.getByLabel('New password', { exact: true }).fill('Fresh-start-pass-2027');
    await newcomer.getByLabel('Confirm new password').fill('Fresh-start-pass-2027');
    await newcomer.getByRole('button', { name: 'Save password and continue' }).click();
    await newcomer.waitForURL(`${appliance.url}/`);
    expect(await newcomer.locator('.topbar-email').textContent()).toBe('newcomer@acme.example');
    const stored = await db.em.fork().findOneOrFail(User, { email: 'newcomer@acme.example' });
    expect(stored.totpEnabledAt).not.toBeNull();

    // The appliance's own log never carried the secrets.
    const log = appliance.stdout() + appliance.stderr();
    expect(log).toContain('sign-in step completed');
    expect(log).not.toContain(secret);
    expect(log).not.toContain(newcomerSecret);

    expect([...consoleErrors, ...newcomerErrors]).toEqual([]);
    await fresh.close();
    await context.close();
  });
});
