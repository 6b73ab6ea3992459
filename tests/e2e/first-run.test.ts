// A newcomer's first minutes, in a real browser against the real appliance process:
// fresh data folder → setup page → create administrator → sign in → homepage → sign out.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, horizontalOverflow, screenshotBothWidths, screenshot as shoot } from '../helpers/e2e.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

let browser: Browser;
let appliance: RunningProcess;
const dir = tempDir();

beforeAll(async () => {
  appliance = await startApplianceProcess(baseEnv(dir.path));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

describe('first run in a browser', () => {
  it('goes from setup to the homepage and signs out', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    // The refused weak password (422) and the missing page (404) are expected; anything else
    // (a CSP refusal, a script error) is not.
    const consoleErrors = consoleErrorsOf(page, /status of (404|422)/);

    await page.goto(`${appliance.url}/`);
    expect(new URL(page.url()).pathname).toBe('/setup');
    await expect.poll(() => page.title()).toBe('Set up Holdfast · Holdfast');
    // Without HOLDFAST_PUBLIC_URL the page asks where users reach the appliance (links in mail),
    // suggesting the address this browser used.
    expect(await page.getByLabel('Public address').inputValue()).toBe(appliance.url);
    expect(await screenshotBothWidths(page, 'setup')).toBeLessThanOrEqual(0);

    // The rules are on the page before anything is typed.
    expect(await page.locator('#password-hint').textContent()).toContain('At least 12 characters, mixing three of');
    // A weak password is refused with every rule it breaks, at the field.
    await page.getByLabel('Organization name').fill(ADMIN.organizationName);
    await page.getByLabel('Administrator email').fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill('weak');
    await page.getByLabel('Confirm password').fill('weak');
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await expect
      .poll(() => page.locator('#password-error').textContent())
      .toBe(
        'Use at least 12 characters. Mix at least three of: lower-case letters, upper-case letters, digits, symbols. Use more varied characters.',
      );
    expect(await page.evaluate('document.activeElement.id')).toBe('password');
    expect(await page.getByLabel('Administrator email').inputValue()).toBe(ADMIN.email);
    await shoot(page, 'setup-error-desktop');

    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Confirm password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    // Setup signs the administrator in: straight to the homepage, no second sign-in.
    await page.waitForURL(`${appliance.url}/`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Homepage');
    expect(await page.getByText('No backup tasks yet').isVisible()).toBe(true);
    expect(await page.locator('.topbar-email').textContent()).toBe(ADMIN.email);
    const nav = await page.getByRole('navigation', { name: 'Main' }).locator('li').allTextContents();
    expect(nav.map((s) => s.trim())).toEqual([
      'Accounts',
      'Billing',
      'Homepage',
      'Jobs',
      'Recovery',
      'Activity',
      'Settings',
    ]);
    // htmx is loaded from the appliance under the CSP.
    expect(await page.evaluate('typeof window.htmx')).toBe('object');
    await shoot(page, 'home-desktop');

    await page.goto(`${appliance.url}/api/v1/docs`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Holdfast API');
    expect(await page.locator('.operation summary code').allTextContents()).toEqual(
      expect.arrayContaining(['/api/v1/status', '/api/v1/me']),
    );
    await shoot(page, 'api-reference-desktop');

    const missing = await page.goto(`${appliance.url}/no-such-page`);
    expect(missing?.status()).toBe(404);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Page not found');
    await shoot(page, 'not-found-desktop');

    await page.goto(`${appliance.url}/`);
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/', '/api/v1/docs']) {
      await page.goto(`${appliance.url}${path}`);
      const overflow = await horizontalOverflow(page);
      expect(overflow, `horizontal overflow on ${path}`).toBeLessThanOrEqual(0);
    }
    await shoot(page, 'api-reference-narrow');
    await page.goto(`${appliance.url}/`);
    await shoot(page, 'home-narrow');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/login?signedOut=1');
    await page.goto(`${appliance.url}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await shoot(page, 'signed-out-narrow');

    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
