// Salesforce end to end in a real browser against the real appliance process and the Salesforce
// stand-in seeded with the demo org (what `npm run demo` runs): choose Sandbox on the add-task
// page, connect through the stand-in's OAuth sign-in, see discovery list the org's objects and
// metadata types, Backup now until success, and see the objects with their record counts; then
// delete a Contact in the stand-in, back up again, and find the deleted Contact through Recovery
// by item search (Include deleted items) and by browsing the earlier snapshot down to its fields.
// Screenshots at 1280 and 390 px.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  defineHierarchyObjects,
  deleteAccountHierarchy,
  FakeSalesforce,
  seedAccountHierarchy,
  seedDemoMetadata,
  seedDemoOrg,
} from '../fakes/salesforce/index.ts';
import { newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { connectorSession } from '../helpers/connector-e2e.ts';
import { parseCsv } from '../helpers/csv.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { readZip } from '../helpers/recovery.ts';

let salesforce: FakeSalesforce;
/** The task page the first test made and backed up (the second one goes on from there). */
let taskPage: string | undefined;
const session = connectorSession(async () => {
  salesforce = await new FakeSalesforce({ orgName: 'Northwind Traders (demo)' }).start();
  seedDemoOrg(salesforce.org, { accounts: 12, contactsPerAccount: 4 });
  seedDemoMetadata(salesforce.metadata());
  // Line items, an invoice (custom master-detail), tasks and Account.ParentId, without records yet.
  defineHierarchyObjects(salesforce.org);
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

/** The task page's row of one object or metadata type, found through the name filter. */
async function rowOf(page: Page, taskUrl: string, name: string) {
  await page.goto(`${taskUrl}?q=${encodeURIComponent(name)}`);
  return page.locator('#task-entities tbody tr').filter({ has: page.getByLabel(`Select ${name}`, { exact: true }) });
}

let taskUrl = '';

describe('Salesforce in a browser', () => {
  it('connects a Sandbox org through the sign-in, discovers its objects, backs them up and shows their counts', async () => {
    const context = await newBrowserContext(session.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, session.url);

    await page.goto(`${session.url}/tasks/new?service=salesforce`);
    await page.getByLabel('Backup task name').fill('Northwind Salesforce');
    await page.getByLabel('Environment').selectOption({ label: 'Sandbox' });
    await shoot(page, 'salesforce-new-task');
    const authorized = salesforce.requests.get('oauth/authorize') ?? 0;
    await page.getByRole('button', { name: 'Continue to Salesforce' }).click();
    // The stand-in's sign-in approves at once and sends the browser back: the task is added.
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    expect(salesforce.requests.get('oauth/authorize')).toBe(authorized + 1);
    taskUrl = page.url().replace(/\?.*$/, '');

    // Discovery lists the org's objects (data) and metadata types; new ones are active.
    await page.getByText('Account', { exact: true }).waitFor();
    await page.getByText(/^\d+ entries$/).waitFor();
    await shoot(page, 'salesforce-task-discovered');

    const names = ['Account', 'Contact', 'Project__c', 'ApexClass'];
    for (const name of names) {
      const row = await rowOf(page, taskUrl, name);
      await row.getByRole('checkbox').check();
      await page.getByRole('button', { name: 'Backup now' }).click();
      await page.getByText('1 queued for backup now.').waitFor();
    }
    const counts: Record<string, string> = {};
    for (const name of names) {
      const row = await rowOf(page, taskUrl, name);
      // The row refreshes itself until its run is over.
      await row.locator('.badge', { hasText: /^Success$/ }).waitFor({ timeout: 300_000 });
      counts[name] = ((await row.locator('td[data-label="Items"]').textContent()) ?? '').trim();
      expect(await row.locator('td[data-label="Changes"]').textContent()).toContain(`${counts[name]} added`);
    }
    expect(counts).toMatchObject({ Account: '12', Contact: '48', Project__c: '12' });
    expect(Number(counts.ApexClass)).toBeGreaterThan(0);

    await page.goto(`${taskUrl}?status=success`);
    expect(await page.locator('#task-entities tbody tr').count()).toBe(names.length);
    await shoot(page, 'salesforce-task-backed-up');
    expect(consoleErrors).toEqual([]);
    taskPage = taskUrl;
    await context.close();
  });

  it('finds a Contact deleted at the source by item search and in the earlier snapshot, down to its fields', async () => {
    expect(taskPage, 'the first test backed up the task').toBeDefined();
    const taskUrl = taskPage as string;
    const context = await newBrowserContext(session.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, session.url);

    const [gone] = salesforce.org.liveIds('Contact') as [string];
    const values = salesforce.org.object('Contact')?.records.get(gone)?.values ?? {};
    const name = String(values.Name);
    salesforce.org.delete('Contact', gone);
    let row = await rowOf(page, taskUrl, 'Contact');
    await row.getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Backup now' }).click();
    await page.getByText('1 queued for backup now.').waitFor();
    row = await rowOf(page, taskUrl, 'Contact');
    await row.locator('td[data-label="Changes"]', { hasText: '1 removed' }).waitFor({ timeout: 300_000 });
    await row.locator('.badge', { hasText: /^Success$/ }).waitFor();
    expect(((await row.locator('td[data-label="Items"]').textContent()) ?? '').trim()).toBe('47');

    // The usage report: every object and metadata type with its status and records.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Usage report' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^Northwind-Salesforce-usage-\d{4}-\d{2}-\d{2}\.csv$/);
    const report = readFileSync((await download.path()) as string, 'utf8').split('\r\n');
    expect(report).toEqual(expect.arrayContaining([expect.stringMatching(/^Data,Contact,Contact,Success,47,/)]));

    // Recovery › the task › Contact › Via item search: by its record id, deleted items included.
    await page.goto(`${session.url}/recovery`);
    await page.getByRole('link', { name: 'Northwind Salesforce' }).click();
    // Data (objects) or Metadata (types), then the object.
    await page.getByLabel('Type').selectOption({ label: 'Data' });
    await page.waitForURL(/kind=data/);
    await page.getByLabel('Search').fill('Contact');
    await page.waitForURL(/q=Contact/);
    await page.getByRole('link', { name: 'Recover from Contact', exact: true }).click();
    const entityUrl = page.url();
    await page.getByRole('link', { name: 'Via item search' }).click();
    await page.locator('summary', { hasText: 'Advanced search' }).click();
    await page.getByLabel('Record ID(s)').fill(gone);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('Nothing found').waitFor();
    // Advanced search stays open with the ids typed.
    await page.getByLabel('Include deleted items').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('1 item found').waitFor();
    const hit = page.locator('#recovery-search tbody tr');
    expect(await hit.locator('td[data-label="Record ID"]').textContent()).toBe(gone);
    expect(await hit.locator('td[data-label="State"]').textContent()).toBe('Deleted at source');
    await shoot(page, 'salesforce-search-deleted');
    await hit.getByRole('link', { name }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    const field = (label: string) =>
      page.locator('.item-fields tr').filter({ has: page.getByRole('rowheader', { name: label, exact: true }) });
    expect(await field('LastName').locator('td').textContent()).toBe(String(values.LastName));
    expect(await field('Id').locator('td').textContent()).toBe(gone);
    await shoot(page, 'salesforce-record-fields');

    // Via snapshot: the earlier snapshot still lists the Contact; its fields are the same.
    await page.goto(entityUrl);
    const snapshots = page.locator('#recovery-snapshots tbody tr');
    expect(await snapshots.count()).toBe(2);
    await snapshots.nth(1).getByRole('link', { name: 'Browse' }).click();
    await page.getByText('48 items in this snapshot').waitFor();
    expect(await page.locator('thead th').allTextContents()).toEqual(
      expect.arrayContaining(['Name', 'Record ID', 'Created by (user id)', 'Updated by (user id)']),
    );
    await shoot(page, 'salesforce-snapshot-records');
    await page.locator('tbody tr').filter({ hasText: gone }).getByRole('link', { name }).click();
    expect(await field('LastName').locator('td').textContent()).toBe(String(values.LastName));
    expect(await field('Email').locator('td').textContent()).toBe(String(values.Email ?? '—'));
    expect(consoleErrors).toEqual([]);
    await context.close();
  });

  it('restores a deleted account with its hierarchy from item search, every record back and linked', async () => {
    expect(taskUrl).not.toBe('');
    const context = await newBrowserContext(session.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, session.url);
    const sf = salesforce.org;
    const h = seedAccountHierarchy(sf, 'Fabrikam');
    // A file published to the account (Salesforce links it there) and shared with one contact.
    const file = sf.addFile('Fabrikam contract', 'signed contract', 'pdf');
    sf.update('ContentVersion', file.versionId, { FirstPublishLocationId: h.account });
    sf.insert('ContentDocumentLink', { ContentDocumentId: file.documentId, LinkedEntityId: h.account, ShareType: 'I' });
    sf.insert('ContentDocumentLink', {
      ContentDocumentId: file.documentId,
      LinkedEntityId: h.contacts[0] as string,
      ShareType: 'V',
    });
    const objects = [
      'Account',
      'Contact',
      'Opportunity',
      'OpportunityLineItem',
      'Case',
      'Invoice__c',
      'Task',
      'ContentVersion',
      'ContentDocumentLink',
    ];
    for (const name of objects) {
      const row = await rowOf(page, taskUrl, name);
      await row.getByRole('checkbox').check();
      await page.getByRole('button', { name: 'Backup now' }).click();
      await page.getByText('1 queued for backup now.').waitFor();
    }
    for (const name of objects) {
      const row = await rowOf(page, taskUrl, name);
      await row.locator('.badge', { hasText: /^Success$/ }).waitFor({ timeout: 300_000 });
    }
    deleteAccountHierarchy(sf, h);
    sf.delete('ContentVersion', file.versionId);
    sf.delete('ContentDocument', file.documentId);

    // Recovery › the task › Account › Via item search: the two accounts, chosen.
    const taskId = taskUrl.split('/').pop() as string;
    await page.goto(`${session.url}/recovery/tasks/${taskId}`);
    await page.getByRole('link', { name: 'Recover from Account', exact: true }).click();
    await page.getByRole('link', { name: 'Via item search' }).click();
    await page.getByLabel('Word or phrase').fill('Fabrikam');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Select Fabrikam', { exact: true }).check();
    await page.getByLabel('Select Fabrikam Holdings', { exact: true }).check();
    await page.getByRole('button', { name: 'Restore selected' }).click();

    // The plugin's options, and what will happen before it starts.
    await page.getByLabel(/^Restore mode for existing records/).selectOption({ label: 'Bypass' });
    await page.getByLabel(/^Hierarchy depth/).fill('2');
    await page.getByRole('button', { name: 'Show what will happen' }).click();
    const plan = page.locator('#restore-plan table');
    await plan.waitFor();
    expect(
      await plan.locator('tbody tr').filter({ hasText: 'OpportunityLineItem' }).locator('td').first().textContent(),
    ).toBe('3');
    expect(await page.locator('#restore-plan').textContent()).toContain('Mode: Bypass; hierarchy depth 2.');
    await shoot(page, 'salesforce-restore-form');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.waitForURL('**/jobs');
    const job = page.locator('[data-job-id]').filter({ hasText: 'Restore of Account' }).first();
    await job.locator('.job-status .badge', { hasText: 'Succeeded' }).waitFor({ timeout: 120_000 });
    // The 13 records, the file and its share with the contact; its link to the account is the one
    // Salesforce makes from FirstPublishLocationId (skipped).
    expect(await job.locator('[data-fact="created"]').textContent()).toBe('15');
    expect(await job.locator('[data-fact="skipped"]').textContent()).toBe('1');
    expect(await job.locator('[data-fact="failed"]').textContent()).toBe('0');
    await shoot(page, 'salesforce-restore-job');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      job.getByRole('link', { name: 'Download results' }).click(),
    ]);
    const saved = join(tempDir().path, 'restore-report.zip');
    await download.saveAs(saved);
    const [[reportName, reportCsv]] = [...(await readZip(saved))] as [[string, Buffer]];
    expect(reportName).toMatch(/^restore-report-\d{8}-\d{6}\.csv$/);
    const [header, ...lines] = parseCsv(reportCsv.toString());
    const report = lines.map((cells) => Object.fromEntries((header ?? []).map((name, i) => [name, cells[i] ?? ''])));

    // At the stand-in: every record back with a new id, linked to the new ids.
    const live = (object: string) =>
      [...(sf.object(object)?.records.values() ?? [])].filter((r) => !r.deletedAt).map((r) => r.values);
    const account = live('Account').find((v) => v.Name === 'Fabrikam');
    const parent = live('Account').find((v) => v.Name === 'Fabrikam Holdings');
    expect(account?.ParentId).toBe(parent?.Id);
    const opportunities = live('Opportunity').filter((v) => v.AccountId === account?.Id);
    expect(live('Contact').filter((v) => v.AccountId === account?.Id)).toHaveLength(2);
    expect(opportunities).toHaveLength(3);
    expect(live('OpportunityLineItem').filter((v) => opportunities.some((o) => o.Id === v.OpportunityId))).toHaveLength(
      3,
    );
    expect(live('Case').filter((v) => v.AccountId === account?.Id)).toHaveLength(1);
    expect(live('Invoice__c').filter((v) => v.Account__c === account?.Id)).toHaveLength(1);
    expect(opportunities.map((o) => o.Id)).toContain(
      live('Task').find((v) => String(v.Subject).includes('Fabrikam'))?.WhatId,
    );
    // The file, linked to the new account and to the new contact it was shared with.
    const version = live('ContentVersion').find((v) => v.FirstPublishLocationId === account?.Id);
    const newContact = live('Contact').find((v) => v.AccountId === account?.Id && v.FirstName === 'Person 1');
    expect(
      live('ContentDocumentLink')
        .filter((v) => v.ContentDocumentId === version?.ContentDocumentId)
        .map((v) => v.LinkedEntityId)
        .sort(),
    ).toEqual([account?.Id, newContact?.Id].sort());

    // The job report lists each record's new id: every created row names the live record.
    const created = report.filter((r) => r.Result === 'created');
    expect(created).toHaveLength(15);
    const byObject = (object: string) => new Set(live(object).map((v) => v.Id));
    for (const r of created) expect(byObject(r.Object as string).has(r['Restored Id'])).toBe(true);
    expect(report.find((r) => r['Source Id'] === h.account)?.['Restored Id']).toBe(account?.Id);
    expect(report.find((r) => r['Source Id'] === h.parent)?.['Restored Id']).toBe(parent?.Id);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
