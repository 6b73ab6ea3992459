// The portal and the Security Audit page in a real browser against the real appliance process:
// add accounts (with a refused form first), search the table through htmx without a reload,
// remove an account, open one and come back through the banner, filter the audit log and export
// it. Every page is captured at 1280 and 390 px (tests/.artifacts/screenshots/) and checked for
// horizontal overflow on the narrow screen.
import { readFileSync } from 'node:fs';
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
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

const LONG_NAME =
  'Contoso Managed IT Services for Hospitality, Healthcare and Small Professional Offices International';
let browser: Browser;
let appliance: RunningProcess;
const dir = tempDir();

beforeAll(async () => {
  appliance = await startApplianceProcess(baseEnv(dir.path));
  await setupAdministrator(appliance.url);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

async function addAccount(page: Page, fields: Record<string, string>): Promise<void> {
  const res = await page.request.post(`${appliance.url}/portal/new`, {
    form: fields,
    headers: { origin: appliance.url },
    maxRedirects: 0,
  });
  expect(res.status()).toBe(303);
}

describe('portal and security audit in a browser', () => {
  it('adds, finds, removes, opens and audits accounts', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    // The refused form (422) is expected; anything else (a CSP refusal, a script error) is not.
    const consoleErrors = consoleErrorsOf(page, /status of 422/);

    await signInPage(page, appliance.url);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    await page.waitForURL('**/portal');
    expect(await page.getByRole('heading', { level: 3 }).textContent()).toBe('No accounts yet');
    await shoot(page, 'portal-empty-desktop');

    // A refused form keeps what was typed and says what is wrong at each field.
    await page.getByRole('link', { name: '+ Add account' }).first().click();
    await page.waitForURL('**/portal/new');
    await page.getByLabel('Contact email').fill('not-an-email');
    await page.getByRole('button', { name: 'Add account' }).click();
    await expect.poll(() => page.locator('#name-error').textContent()).toBe('Enter a name.');
    expect(await page.getByLabel('Contact email').inputValue()).toBe('not-an-email');
    await shoot(page, 'portal-new-error-desktop');

    await page.getByLabel('Distributor').check();
    await page.getByLabel('Account name').fill('Northwind Distribution');
    await page.getByLabel('Contact email').fill('hello@northwind.example');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.waitForURL(/\/portal\/accounts\/[0-9a-f-]+$/);
    expect(await page.getByRole('status').first().textContent()).toContain('The account has been added.');
    await shoot(page, 'portal-account-desktop');

    await addAccount(page, {
      kind: 'customer',
      name: LONG_NAME,
      contactEmail: 'it-operations-and-service-desk@contoso-managed-services-international.example',
    });
    for (const name of ['Fabrikam', 'Tailspin Toys', 'Woodgrove Bank', 'Adatum Corporation', 'Litware Inc']) {
      await addAccount(page, {
        kind: name === 'Adatum Corporation' ? 'partner' : 'customer',
        name,
        contactEmail: `it@${name.split(' ')[0]?.toLowerCase()}.example`,
      });
    }

    await page.goto(`${appliance.url}/portal`);
    expect(await page.locator('#accounts-results tbody tr').count()).toBe(7);
    await shoot(page, 'portal-list-desktop');

    // Typing in the search box updates the table and the address without reloading the page.
    await page.evaluate('window.__sameDocument = true');
    await page.getByLabel('Search').fill('contoso');
    await page.waitForURL('**/portal?q=contoso');
    await expect.poll(() => page.locator('#accounts-results tbody tr').count()).toBe(1);
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    await page.getByLabel('Kind').selectOption('customer');
    await page.waitForURL('**/portal?q=contoso&kind=customer');
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    await shoot(page, 'portal-search-desktop');

    // Remove an account: approval sentence, then the grace period shows on its page and in the list.
    await page.goto(`${appliance.url}/portal?q=tailspin`);
    await page.getByRole('link', { name: 'Details of Tailspin Toys' }).click();
    await page.getByRole('link', { name: 'Remove account…' }).click();
    await page.waitForURL('**/remove');
    await page.getByRole('button', { name: 'Remove account' }).click();
    await expect.poll(() => page.locator('#approve-error').textContent()).toContain('Tick');
    await shoot(page, 'portal-remove-desktop');
    await page.getByLabel('I approve the removal of my data').check();
    await page.getByRole('button', { name: 'Remove account' }).click();
    await page.getByText('Removal requested.').waitFor();
    expect(await page.locator('.alert-warning').textContent()).toContain('Removal pending.');
    await shoot(page, 'portal-account-pending-desktop');
    await page.goto(`${appliance.url}/portal?status=removal_pending`);
    expect(await page.locator('#accounts-results tbody tr').count()).toBe(1);

    // Open an account: the banner names it, Back returns to the portal.
    await page.goto(`${appliance.url}/portal`);
    await page.getByRole('button', { name: 'Northwind Distribution' }).click();
    await page.waitForURL(`${appliance.url}/`);
    const banner = page.locator('.acting-banner');
    expect(await banner.textContent()).toContain(
      'You are working in Northwind Distribution on behalf of Acme Managed Services.',
    );
    await shoot(page, 'portal-acting-home-desktop');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    await page.waitForURL('**/portal');
    expect(await page.getByRole('heading', { level: 3 }).textContent()).toBe('No accounts yet');
    await addAccount(page, { kind: 'partner', name: 'Northwind Partner One' });
    await page.reload();
    await shoot(page, 'portal-acting-portal-desktop');
    await banner.getByRole('button', { name: /^Back to/ }).click();
    await page.waitForURL('**/portal');
    expect(await page.locator('.acting-banner').count()).toBe(0);

    // Security audit: filter through htmx, export exactly what is shown.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click();
    await page.waitForURL('**/activity');
    await page
      .getByRole('navigation', { name: 'Activity sections' })
      .getByRole('link', { name: 'Security audit' })
      .click();
    await page.waitForURL('**/activity/security-audit');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Security audit');
    await shoot(page, 'audit-desktop');
    await page.evaluate('window.__sameDocument = true');
    await page.getByLabel('Activity', { exact: true }).selectOption('Account accessed');
    await page.waitForURL('**/activity/security-audit?activity=Account+accessed');
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    const shown = await page.locator('#audit-results tbody tr').count();
    expect(shown).toBe(3); // opened (in the portal and in the account), returned
    await shoot(page, 'audit-filtered-desktop');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^holdfast-security-audit-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync((await download.path()) as string, 'utf8');
    const lines = csv.trim().split('\r\n');
    expect(lines).toHaveLength(shown + 1);
    expect(lines.slice(1).every((line) => line.split(',')[1] === 'Account accessed')).toBe(true);

    // The same pages on a phone-sized screen: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    const tailspin = await page.request.get(`${appliance.url}/portal?q=tailspin`);
    const tailspinId = /\/portal\/accounts\/([0-9a-f-]+)"/.exec(await tailspin.text())?.[1] as string;
    const narrow: [string, string][] = [
      ['/portal', 'portal-list-narrow'],
      ['/portal?q=nothing-matches', 'portal-no-match-narrow'],
      ['/portal/new', 'portal-new-narrow'],
      [`/portal/accounts/${tailspinId}`, 'portal-account-pending-narrow'],
      ['/activity/security-audit', 'audit-narrow'],
    ];
    for (const [path, name] of narrow) {
      await page.goto(`${appliance.url}${path}`);
      const overflow = await horizontalOverflow(page);
      expect(overflow, `horizontal overflow on ${path}`).toBeLessThanOrEqual(0);
      await shoot(page, name);
    }
    await page.goto(`${appliance.url}/portal?q=contoso`);
    await page.getByRole('link', { name: /^Details of Contoso/ }).click();
    await page.getByRole('link', { name: 'Remove account…' }).click();
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await shoot(page, 'portal-remove-narrow');
    await page.goto(`${appliance.url}/portal`);
    await page.getByRole('button', { name: LONG_NAME }).click();
    await page.waitForURL(`${appliance.url}/`);
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await shoot(page, 'portal-acting-home-narrow');

    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
