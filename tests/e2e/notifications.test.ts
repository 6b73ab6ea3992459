// Settings › Notifications in a real browser against the real appliance: a bad address is
// answered on its field, then a recipient is added, edited and removed, and the summary report's
// settings changed; screenshots at desktop and phone widths, with no sideways scrolling.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import {
  consoleErrorsOf,
  horizontalOverflow,
  screenshotBothWidths,
  setupAdministrator,
  signInPage,
} from '../helpers/e2e.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

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

describe('Settings › Notifications in a browser', () => {
  it('adds, edits and removes a recipient', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page, /status of 422/);
    page.on('dialog', (d) => void d.accept());
    await signInPage(page, appliance.url);

    await page.goto(`${appliance.url}/settings`);
    await page
      .getByRole('navigation', { name: 'Settings sections' })
      .getByRole('link', { name: 'Notifications' })
      .click();
    await page.waitForURL('**/settings/notifications');
    expect(await page.locator('main').textContent()).toContain(
      'unless an account has its own recipients for that type',
    );
    expect(await screenshotBothWidths(page, 'notifications-empty')).toBeLessThanOrEqual(0);

    await page.getByRole('link', { name: '+ Add recipient' }).click();
    await page.getByLabel('Email').fill('not-an-address');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect
      .poll(() => page.locator('#email-error').textContent())
      .toBe('Enter a valid email address, like it@example.com.');
    expect(await screenshotBothWidths(page, 'notifications-invalid')).toBeLessThanOrEqual(0);

    await page.getByLabel('Email').fill('noc@northwind.example');
    await page.getByLabel('Display name (optional)').fill('Northwind Network Operations');
    await page.getByLabel('Summary report').uncheck();
    await page.getByLabel('Smart alerts').uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'noc@northwind.example added.' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'noc@northwind.example' });
    // Recovery, exceptions, auto-discovery and the trial accounts report.
    expect(await row.getByLabel('Yes').count()).toBe(4);
    // Every column fits the desktop width too: no sideways scrolling of the page, nor of the
    // table (its Edit and Remove buttons in view).
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(
      await page
        .locator('.table-wrap')
        .first()
        .evaluate((wrap) => wrap.scrollWidth - wrap.clientWidth),
    ).toBeLessThanOrEqual(0);
    expect(await screenshotBothWidths(page, 'notifications-added')).toBeLessThanOrEqual(0);

    await page.getByRole('link', { name: 'Edit noc@northwind.example' }).click();
    await page.getByLabel('Display name (optional)').fill('Northwind NOC');
    await page.getByLabel('Auto-discovery notification').uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'noc@northwind.example saved.' }).waitFor();
    expect(await row.textContent()).toContain('Northwind NOC');
    expect(await row.getByLabel('Yes').count()).toBe(3);
    expect(await screenshotBothWidths(page, 'notifications-edited')).toBeLessThanOrEqual(0);

    await page.getByRole('button', { name: 'Remove noc@northwind.example' }).click();
    await page.getByRole('status').filter({ hasText: 'noc@northwind.example removed.' }).waitFor();
    expect(await page.getByRole('row').filter({ hasText: 'noc@northwind.example' }).count()).toBe(0);

    // The summary report: weekly at 06:00 Berlin time, failures only, as a link, one file per account.
    await page.getByLabel('Send the summary report').check();
    await page.getByLabel('Backup failure details').check();
    await page.getByLabel(/A download link/).check();
    await page.getByLabel('Frequency').selectOption('weekly');
    await page.getByLabel('At', { exact: true }).selectOption('6');
    await page.getByLabel('Time zone').selectOption('Europe/Berlin');
    await page.getByLabel('One file (and mail) per account').check();
    await page.getByRole('button', { name: 'Save report settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Summary report settings saved.' }).waitFor();
    expect(await page.getByLabel('Frequency').inputValue()).toBe('weekly');
    expect(await page.getByLabel('At', { exact: true }).inputValue()).toBe('6');
    expect(await page.getByLabel('Time zone').inputValue()).toBe('Europe/Berlin');
    expect(await page.getByLabel('One file (and mail) per account').isChecked()).toBe(true);
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await screenshotBothWidths(page, 'notifications-report')).toBeLessThanOrEqual(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
