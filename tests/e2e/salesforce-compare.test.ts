// Salesforce compare in a real browser against the real appliance process and the stand-in: a
// task backed up, a Contact updated and another deleted and an Apex class changed in the org,
// backed up again; the task's Compare form run for the two points in time, the job followed on
// the Jobs page, and the result opened: the objects that differ, the Contact's changed fields,
// and the class's diff side by side and over-under; then the same left side against the live org,
// which shows the same objects differing. Screenshots at 1280 and 390 px.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { FakeSalesforce, seedDemoMetadata, seedDemoOrg } from '../fakes/salesforce/index.ts';
import { newBrowserContext } from '../helpers/browser.ts';
import { connectorSession } from '../helpers/connector-e2e.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';

let salesforce: FakeSalesforce;
const session = connectorSession(async () => {
  salesforce = await new FakeSalesforce({ orgName: 'Northwind Traders (demo)' }).start();
  seedDemoOrg(salesforce.org, { accounts: 6, contactsPerAccount: 3 });
  seedDemoMetadata(salesforce.metadata());
  return {
    env: {
      HOLDFAST_SALESFORCE_CLIENT_ID: salesforce.clientId,
      HOLDFAST_SALESFORCE_CLIENT_SECRET: salesforce.clientSecret,
      HOLDFAST_SALESFORCE_LOGIN_URL: salesforce.url,
    },
    stop: () => salesforce.stop(),
  };
});

async function shoot(page: Page, name: string): Promise<void> {
  expect({ name, overflow: await screenshotBothWidths(page, name) }).toEqual({ name, overflow: 0 });
}

async function rowOf(page: Page, taskUrl: string, name: string) {
  await page.goto(`${taskUrl}?q=${encodeURIComponent(name)}`);
  return page.locator('#task-entities tbody tr').filter({ has: page.getByLabel(`Select ${name}`, { exact: true }) });
}

/** Backs up the objects one by one and waits until each run shows `changes` ("18 added"). */
async function backUp(page: Page, taskUrl: string, runs: Record<string, RegExp>): Promise<void> {
  for (const name of Object.keys(runs)) {
    const row = await rowOf(page, taskUrl, name);
    await row.getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Backup now' }).click();
    await page.getByText('1 queued for backup now.').waitFor();
  }
  for (const [name, changes] of Object.entries(runs)) {
    const row = await rowOf(page, taskUrl, name);
    await row.locator('td[data-label="Changes"]', { hasText: changes }).waitFor({ timeout: 90_000 });
    await row.locator('.badge', { hasText: /^Success$/ }).waitFor({ timeout: 90_000 });
  }
}

describe('Salesforce compare in a browser', () => {
  it('compares two points in time of a task and opens an object’s differences', async () => {
    const context = await newBrowserContext(session.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, session.url);
    await page.goto(`${session.url}/tasks/new?service=salesforce`);
    await page.getByLabel('Backup task name').fill('Northwind Salesforce');
    await page.getByRole('button', { name: 'Continue to Salesforce' }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskUrl = page.url().replace(/\?.*$/, '');
    await page.getByText('Account', { exact: true }).waitFor();
    await backUp(page, taskUrl, { Contact: /18 added/, ApexClass: /added/ });
    // A point in time after the first backups and before the changes.
    const between = new Date().toISOString().slice(0, 23);

    const [updated, deleted] = salesforce.org.liveIds('Contact') as [string, string];
    salesforce.org.update('Contact', updated, { Email: 'moved@example.com' });
    salesforce.org.delete('Contact', deleted);
    salesforce
      .metadata()
      .put(
        'ApexClass',
        'AccountService',
        'public with sharing class AccountService {\n  public static void touch() {\n    update new Account();\n  }\n}\n',
      );
    await backUp(page, taskUrl, { Contact: /1 changed · 1 removed/, ApexClass: /[1-9] changed/ });

    await page.goto(taskUrl);
    await page.getByRole('link', { name: 'Compare', exact: true }).click();
    await page.getByLabel(/^Left: .* as of/).fill(between);
    await page.getByLabel('Right: as of (UTC)').fill(new Date().toISOString().slice(0, 23));
    await shoot(page, 'compare-form');
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    await page.waitForURL(/\/jobs/);
    // The job card refreshes itself until the compare has ended.
    const view = page.getByRole('link', { name: 'View differences' });
    await view.waitFor({ timeout: 90_000 });
    await shoot(page, 'compare-job');
    await view.click();
    await page.getByRole('heading', { name: 'Compare result', level: 1 }).waitFor();
    const differing = page.locator('.compare-table tbody tr');
    expect(await differing.locator('th').allTextContents()).toEqual(['ApexClass', 'Contact']);
    const contact = differing.filter({ hasText: 'Contact' });
    expect(await contact.locator('td').allTextContents()).toEqual(['18', '1', '1', '0', '17']);
    await shoot(page, 'compare-result');

    await contact.getByRole('link', { name: 'Contact' }).click();
    await page.getByRole('heading', { name: 'Contact', level: 1 }).waitFor();
    const change = page.locator('.compare-change').filter({ hasText: updated });
    expect(await change.locator('tbody th').allTextContents()).toEqual(['Email']);
    expect(await change.locator('td[data-label="Right"]').textContent()).toBe('moved@example.com');
    await page.getByText(deleted).waitFor();
    await shoot(page, 'compare-object');

    await page.goBack();
    await page.getByRole('link', { name: 'ApexClass' }).click();
    await page.getByRole('link', { name: 'Show differences' }).first().click();
    await page.locator('.diff-side td.diff-add', { hasText: 'update new Account();' }).waitFor();
    await shoot(page, 'compare-diff-side');
    await page.getByRole('link', { name: 'Over-under' }).click();
    await page.locator('.diff-unified .diff-del', { hasText: '-  public static void touch() {}' }).waitFor();
    await shoot(page, 'compare-diff-unified');

    // The live org on the right: read by the job now, the same differences as the second backup.
    await page.goto(`${taskUrl}/compare`);
    await page.getByLabel(/^Left: .* as of/).fill(between);
    await page.getByLabel('Its live account, as it is now').check();
    await shoot(page, 'compare-form-live');
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    await page.waitForURL(/\/jobs/);
    await expect.poll(() => page.getByRole('link', { name: 'View differences' }).count(), { timeout: 90_000 }).toBe(2);
    await page.getByRole('link', { name: 'View differences' }).first().click();
    await page.getByRole('heading', { name: 'Compare result', level: 1 }).waitFor();
    await page.locator('.page-subtitle', { hasText: 'Right: Northwind Salesforce live, read at' }).waitFor();
    const live = page.locator('.compare-table tbody tr');
    expect(await live.locator('th').allTextContents()).toEqual(['ApexClass', 'Contact']);
    expect(await live.filter({ hasText: 'Contact' }).locator('td').allTextContents()).toEqual([
      '18',
      '1',
      '1',
      '0',
      '17',
    ]);
    await shoot(page, 'compare-result-live');
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
