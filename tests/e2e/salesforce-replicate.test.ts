// Salesforce Replicate in a real browser against the real appliance process and the stand-in: a
// task backed up, a second task connected as a Sandbox, the task page's Replicate form filled
// (parents with a filter, anonymization on) and its job followed on the Jobs page. Screenshots at
// 1280 and 390 px.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { FakeSalesforce, seedDemoOrg } from '../fakes/salesforce/index.ts';
import { newBrowserContext } from '../helpers/browser.ts';
import { connectorSession } from '../helpers/connector-e2e.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';

let salesforce: FakeSalesforce;
const session = connectorSession(async () => {
  salesforce = await new FakeSalesforce({ orgName: 'Northwind Traders (demo)' }).start();
  seedDemoOrg(salesforce.org, { accounts: 4, contactsPerAccount: 2 });
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

async function addTask(page: Page, name: string, environment: string): Promise<string> {
  await page.goto(`${session.url}/tasks/new?service=salesforce`);
  await page.getByLabel('Backup task name').fill(name);
  await page.getByLabel(/^Environment/).selectOption({ label: environment });
  await page.getByRole('button', { name: 'Continue to Salesforce' }).click();
  await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
  await page.getByText('Account', { exact: true }).waitFor();
  return page.url().replace(/\?.*$/, '');
}

describe('Salesforce replicate in a browser', () => {
  it('replicates parents with a filter, anonymized, into a Sandbox task', async () => {
    const context = await newBrowserContext(session.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, session.url);
    const taskUrl = await addTask(page, 'Northwind Salesforce', 'Production');
    for (const name of ['Account', 'Contact']) {
      await page.goto(`${taskUrl}?q=${name}`);
      const row = page
        .locator('#task-entities tbody tr')
        .filter({ has: page.getByLabel(`Select ${name}`, { exact: true }) });
      await row.getByRole('checkbox').check();
      await page.getByRole('button', { name: 'Backup now' }).click();
      await page.getByText('1 queued for backup now.').waitFor();
      await page.goto(`${taskUrl}?q=${name}`);
      await row.locator('.badge', { hasText: /^Success$/ }).waitFor({ timeout: 90_000 });
    }
    const sandbox = salesforce.addOrg('Northwind Sandbox');
    seedDemoOrg(sandbox, { accounts: 0 });
    salesforce.approveAs(sandbox);
    await addTask(page, 'Northwind Sandbox', 'Sandbox');

    await page.goto(taskUrl);
    await page.getByRole('link', { name: 'Replicate', exact: true }).click();
    await page.getByRole('heading', { name: 'Replicate', level: 1 }).waitFor();
    await page.getByLabel('Replicate into').selectOption({ label: 'Northwind Sandbox' });
    await page.getByLabel(/^Parent objects/).fill("Account WHERE Name LIKE 'Account 1%' LIMIT 5");
    await page.getByLabel(/^Anonymize data/).check();
    await shoot(page, 'replicate-form');
    await page.getByRole('button', { name: 'Replicate', exact: true }).click();
    await page.waitForURL(/\/jobs/);
    await page
      .locator('.badge', { hasText: /^Succeeded$/ })
      .first()
      .waitFor({ timeout: 90_000 });
    await page.getByText('Replicate to Northwind Sandbox').waitFor();
    // Every record is new in the Sandbox: 1 account (Account 1) with its 2 contacts at depth 1.
    const names = sandbox.liveIds('Account').map((id) => sandbox.object('Account')?.records.get(id)?.values.Name);
    expect(names).toHaveLength(1);
    expect(names[0]).not.toBe('Account 1');
    expect(sandbox.liveIds('Contact')).toHaveLength(2);
    await shoot(page, 'replicate-job');
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
