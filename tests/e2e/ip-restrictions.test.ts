// IP restrictions in a real browser against the real appliance, behind a "proxy" the appliance
// trusts (the browser itself, on loopback): a rule that leaves the administrator out cannot be
// switched on; one that includes them can; then a request forwarded from an outside address is
// denied. Also walks the settings pages at desktop and phone widths for screenshots.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import {
  consoleErrorsOf,
  horizontalOverflow,
  setupAdministrator,
  screenshot as shoot,
  signInPage,
} from '../helpers/e2e.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

let browser: Browser;
let appliance: RunningProcess;
const dir = tempDir();

beforeAll(async () => {
  appliance = await startApplianceProcess(baseEnv(dir.path, { HOLDFAST_TRUSTED_PROXIES: '127.0.0.1,::1' }));
  await setupAdministrator(appliance.url);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

const signIn = (page: Page) => signInPage(page, appliance.url);

describe('IP restrictions in a browser', () => {
  it('refuses a list without the caller, enables one with it, and denies outside addresses', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
    await signIn(page);

    await page.goto(`${appliance.url}/settings/ip-restrictions`);
    const callerIp = (await page.locator('#caller-ip').textContent())?.trim() as string;
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1']).toContain(callerIp);
    await shoot(page, 'ip-restrictions-empty-desktop');

    await page.getByRole('link', { name: '+ Add IP address' }).click();
    await page.getByLabel('Description').fill('Branch office');
    await page.getByLabel('Addresses', { exact: true }).fill('192.0.2.0/24, 198.51.100.7');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL('**/settings/ip-restrictions');
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('is not in the trusted list');
    await shoot(page, 'ip-restrictions-refused-desktop');

    await page.getByRole('link', { name: '+ Add IP address' }).click();
    await page.getByLabel('Addresses', { exact: true }).fill('not-an-address');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('#addresses-error').textContent()).toContain('not a valid');
    await page.getByLabel('Description').fill('Head office and loopback');
    await page.getByLabel('Addresses', { exact: true }).fill('127.0.0.1, ::1, 10.20.0.0-10.20.0.255');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL('**/settings/ip-restrictions');
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('status').filter({ hasText: 'IP restrictions are on' }).waitFor();
    await shoot(page, 'ip-restrictions-on-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await shoot(page, 'ip-restrictions-on-narrow');
    const overflow = await horizontalOverflow(page);
    expect(overflow).toBeLessThanOrEqual(0);

    // The same session, forwarded by the trusted proxy from an outside address: denied.
    await context.setExtraHTTPHeaders({ 'x-forwarded-for': '198.51.100.250' });
    const denied = await page.goto(`${appliance.url}/settings/users`);
    expect(denied?.status()).toBe(403);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Access denied');
    expect(await page.content()).not.toContain(ADMIN.organizationName);
    await shoot(page, 'access-denied-narrow');
    await context.setExtraHTTPHeaders({ 'x-forwarded-for': '10.20.0.9' });
    expect((await page.goto(`${appliance.url}/settings/users`))?.status()).toBe(200);
    await context.close();
  });

  it('shows the settings pages cleanly at desktop and phone widths', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page, /status of (4\d\d)/);
    await signIn(page);
    await page.goto(`${appliance.url}/settings/users/new`);
    await page.getByLabel('Email').fill('a.very.long.address.for.testing.layout@subdomain.example-customer.example');
    await page.getByLabel('Name (optional)').fill('Maximiliane Konstantinopoulou-Vanderberghe');
    await page.getByLabel('Restore').check();
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.waitForURL('**/settings/users');
    for (const [path, name] of [
      ['/settings/users', 'users'],
      ['/settings/users/new', 'user-form'],
      ['/settings/account', 'account'],
      ['/settings/outbox', 'outbox'],
    ] as const) {
      for (const [width, label] of [
        [1280, 'desktop'],
        [390, 'narrow'],
      ] as const) {
        await page.setViewportSize({ width, height: 844 });
        await page.goto(`${appliance.url}${path}`);
        if (name === 'outbox') await page.locator('details.mail summary').first().click();
        await shoot(page, `settings-${name}-${label}`);
        const overflow = await horizontalOverflow(page);
        expect(overflow, `horizontal overflow on ${path} at ${width}px`).toBeLessThanOrEqual(0);
      }
    }
    const outbox = await page.locator('.mail-body').first().textContent();
    expect(outbox).toContain('/confirm-email/');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${appliance.url}/forgot-password`);
    await shoot(page, 'forgot-password-narrow');
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
