// A Salesforce export in a real browser against the real appliance process and the stand-in's
// demo org: back up Account twice (one deleted in between), open Recovery › the task › Account ›
// the newest snapshot › Download, see the connector's own export options (generated from its
// `exportOptions`) next to the kernel's, tick "Export deleted records", export, and download the
// ZIP with Account.csv and the deleted Account's CSV from the Jobs page.
// Screenshots at 1280 and 390 px.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { FakeSalesforce, seedDemoMetadata, seedDemoOrg } from '../fakes/salesforce/index.ts';
import { newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { connectorSession } from '../helpers/connector-e2e.ts';
import { parseCsv } from '../helpers/csv.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { readZip } from '../helpers/recovery.ts';

let salesforce: FakeSalesforce;
const session = connectorSession(async () => {
  salesforce = await new FakeSalesforce({ orgName: 'Northwind Traders (demo)' }).start();
  seedDemoOrg(salesforce.org, { accounts: 6, contactsPerAccount: 2 });
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

describe('Salesforce export in a browser', () => {
  it('offers the connector’s export options in the Download dialog, exports Account, then several objects in one ZIP', async () => {
    const dir = tempDir();
    const context = await newBrowserContext(session.browser, { viewport: DESKTOP, acceptDownloads: true });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, session.url);

    await page.goto(`${session.url}/tasks/new?service=salesforce`);
    await page.getByLabel('Backup task name').fill('Northwind Salesforce');
    await page.getByRole('button', { name: 'Continue to Salesforce' }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskUrl = page.url().replace(/\?.*$/, '');
    const taskId = taskUrl.split('/').pop() as string;
    // Two backups with an Account deleted in between: the second snapshot no longer holds it.
    const gone = salesforce.org.liveIds('Account')[0] as string;
    for (const changes of ['6 added', '1 removed']) {
      await page.goto(`${taskUrl}?q=Account`);
      await page.getByLabel('Select Account', { exact: true }).check();
      await page.getByRole('button', { name: 'Backup now' }).click();
      await page.getByText('1 queued for backup now.').waitFor();
      await page.goto(`${taskUrl}?q=Account`);
      const row = page
        .locator('#task-entities tbody tr')
        .filter({ has: page.getByLabel('Select Account', { exact: true }) });
      // The row refreshes itself until its run is over.
      await row.locator('td[data-label="Changes"]', { hasText: changes }).waitFor({ timeout: 300_000 });
      await row.locator('.badge', { hasText: /^Success$/ }).waitFor({ timeout: 300_000 });
      if (changes === '6 added') salesforce.org.delete('Account', gone);
    }

    await page.goto(`${session.url}/recovery/tasks/${taskId}`);
    await page.getByRole('link', { name: 'Recover from Account', exact: true }).click();
    await page.getByRole('link', { name: 'Browse' }).first().click();
    const base = page.url().replace(/\/snapshots\/.*$/, '');
    const snapshotId = /\/snapshots\/([0-9a-f]+)/.exec(page.url())?.[1] as string;
    await page.goto(`${base}/export?snapshot=${snapshotId}`);
    expect(await page.getByRole('heading', { name: 'Download', level: 1 }).count()).toBe(1);
    const options = page.getByRole('group', { name: 'Salesforce options' });
    const deleted = options.getByRole('checkbox', { name: /Export deleted records/ });
    const packaged = options.getByRole('checkbox', { name: /Metadata as a deployable package/ });
    expect([await deleted.isChecked(), await packaged.isChecked()]).toEqual([false, true]);
    await deleted.check();
    await shoot(page, 'salesforce-export-form');

    await page.getByLabel('Job label (optional)').fill('Accounts for Data Loader');
    await page.getByRole('button', { name: 'Export' }).click();
    await page.waitForURL('**/jobs');
    const job = page.locator('[data-job-id]').filter({ hasText: 'Accounts for Data Loader' });
    await job.locator('.job-status .badge', { hasText: 'Succeeded' }).waitFor({ timeout: 120_000 });
    await shoot(page, 'salesforce-export-job');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      job.getByRole('link', { name: 'Download results' }).click(),
    ]);
    const saved = join(dir.path, 'accounts.zip');
    await download.saveAs(saved);
    const zip = await readZip(saved);
    // The ticked option reached the job: the deleted Account is in a CSV of its own.
    expect([...zip.keys()]).toEqual(['Account.csv', 'Account (deleted).csv']);
    const [header, ...rows] = parseCsv((zip.get('Account.csv') as Buffer).toString());
    expect(header?.slice(0, 3)).toEqual(['Id', 'IsDeleted', 'CreatedDate']);
    expect(rows.length).toBe(5);
    const [, ...deletedRows] = parseCsv((zip.get('Account (deleted).csv') as Buffer).toString());
    expect(deletedRows.map((r) => r[0])).toEqual([gone]);

    // Several objects from the task page: Contact and ApexClass backed up, then Account, Contact
    // and ApexClass chosen and exported in one job, one ZIP.
    for (const name of ['Contact', 'ApexClass']) {
      await page.goto(`${taskUrl}?q=${name}`);
      await page.getByLabel(`Select ${name}`, { exact: true }).check();
      await page.getByRole('button', { name: 'Backup now' }).click();
      await page.getByText('1 queued for backup now.').waitFor();
    }
    for (const name of ['Contact', 'ApexClass']) {
      await page.goto(`${taskUrl}?q=${name}`);
      const row = page
        .locator('#task-entities tbody tr')
        .filter({ has: page.getByLabel(`Select ${name}`, { exact: true }) });
      await row.locator('.badge', { hasText: /^Success$/ }).waitFor({ timeout: 300_000 });
    }
    await page.goto(taskUrl);
    for (const name of ['Account', 'Contact', 'ApexClass']) {
      await page.getByLabel(`Select ${name}`, { exact: true }).check();
    }
    await shoot(page, 'salesforce-export-many-selected');
    await page.getByRole('button', { name: 'Export…' }).click();
    await page.waitForURL(`**/recovery/tasks/${taskId}/export?**`);
    expect(await page.getByText('You are about to export 3 objects').count()).toBe(1);
    expect(await page.locator('.snapshot-facts strong').allTextContents()).toEqual(['Account', 'ApexClass', 'Contact']);
    await shoot(page, 'salesforce-export-many-form');
    await page.getByRole('button', { name: 'Export' }).click();
    await page.waitForURL('**/jobs');
    const many = page.locator('[data-job-id]').filter({ hasText: 'Export of 3 objects' });
    await many.locator('.job-status .badge', { hasText: 'Succeeded' }).waitFor({ timeout: 120_000 });
    const [manyDownload] = await Promise.all([
      page.waitForEvent('download'),
      many.getByRole('link', { name: 'Download results' }).click(),
    ]);
    const manySaved = join(dir.path, 'several.zip');
    await manyDownload.saveAs(manySaved);
    expect([...(await readZip(manySaved)).keys()]).toEqual(['Account.csv', 'ApexClass.package.zip', 'Contact.csv']);
    expect(consoleErrors).toEqual([]);
    await context.close();
    dir.remove();
  });
});
