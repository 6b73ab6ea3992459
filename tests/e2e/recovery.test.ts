// Recovery in a real browser against the real appliance process (the test service, jobs in
// worker threads): Recovery › task › user › snapshots, browsing a snapshot's folder, choosing two
// files and downloading them as a ZIP from the Jobs page (names and bytes checked), then finding
// an item by search and restoring it in place. Every page is captured at 1280 and 390 px.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplianceWithTask, startApplianceWithTask } from '../helpers/appliance-task.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { readZip } from '../helpers/recovery.ts';

const TASK_NAME = 'Finance department shared drives, Zürich and Lisbon offices (long name on purpose)';
const dir = tempDir();
let browser: Browser;
let setup: ApplianceWithTask;

beforeAll(async () => {
  setup = await startApplianceWithTask(dir.path, TASK_NAME, { account: 'finance', items: 6, itemBytes: 3000 });
  // Two snapshots: the second changes item 0.
  await setup.backupAndWait();
  await setup.backupAndWait();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await setup?.close();
  dir.remove();
});

async function shoot(page: Page, name: string): Promise<void> {
  expect({ name, overflow: await screenshotBothWidths(page, name) }).toEqual({ name, overflow: 0 });
}

describe('Recovery in a browser', () => {
  it('browses a snapshot, downloads chosen files as a ZIP and restores a found item', async () => {
    const { appliance, entity } = setup;
    const context = await newBrowserContext(browser, { viewport: DESKTOP, acceptDownloads: true });
    const page = await context.newPage();
    // A refused form (422) is an expected answer; anything else is not.
    const consoleErrors = consoleErrorsOf(page, /status of 422/);
    await signInPage(page, appliance.url);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Recovery' }).click();
    await page.waitForURL('**/recovery');
    await shoot(page, 'recovery-tasks');
    await page.getByRole('link', { name: TASK_NAME }).click();
    expect(await page.getByRole('status').textContent()).toContain('1 item');
    await shoot(page, 'recovery-entities');
    await page.getByRole('link', { name: `Recover from ${entity.name}` }).click();
    expect(await page.getByRole('status').textContent()).toContain('2 snapshots.');
    await shoot(page, 'recovery-snapshots');

    // An impossible date is refused at its field.
    await page.getByLabel('From', { exact: true }).fill('2026-03-01');
    await page.getByLabel('To', { exact: true }).fill('2026-02-01');
    await page.getByRole('button', { name: 'Continue' }).click();
    expect(await page.locator('#to-error').textContent()).toBe('The end date is before the start date.');

    // Browse the newest snapshot: the entity's folder, then two of its files.
    await page.goto(`${appliance.url}/recovery/tasks/${setup.task.id}/entities/${entity.id}`);
    await page.getByRole('link', { name: 'Browse' }).first().click();
    const snapshotId = /\/snapshots\/([0-9a-f]+)/.exec(page.url())?.[1] as string;
    await page.getByRole('link', { name: `${entity.externalId}/` }).click();
    expect(await page.getByRole('status').textContent()).toContain('6 entries in this folder.');
    await shoot(page, 'recovery-snapshot-folder');
    await page.getByLabel('Select item-1.txt').check();
    await page.getByLabel('Select item-2.txt').check();
    await page.getByRole('button', { name: 'Download' }).click();
    expect(await page.getByRole('heading', { name: 'Download', level: 1 }).count()).toBe(1);
    expect(await page.locator('.page-subtitle').textContent()).toContain('You are about to export 2 files');
    await shoot(page, 'recovery-export-form');
    await page.getByLabel('Job label (optional)').fill('Two files for the auditors');
    await page.getByRole('button', { name: 'Export' }).click();
    await page.waitForURL('**/jobs');
    expect(await page.getByRole('status').first().textContent()).toContain('The export has started.');
    const row = page.locator('[data-job-id]').filter({ hasText: 'Two files for the auditors' });
    await row.locator('.job-status .badge', { hasText: 'Succeeded' }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('link', { name: 'Download results' }).click(),
    ]);
    const saved = join(dir.path, 'two-files.zip');
    await download.saveAs(saved);
    const zip = await readZip(saved);
    expect([...zip.keys()].filter((name) => !name.endsWith('/')).sort()).toEqual([
      `${entity.externalId}/item-1.txt`,
      `${entity.externalId}/item-2.txt`,
    ]);
    const item1 = zip.get(`${entity.externalId}/item-1.txt`) as Buffer;
    expect(item1.length).toBe(3000);
    // Item 1 never changed: it holds its first version's text.
    expect(item1.toString().startsWith(`${entity.externalId}/1@v1;`)).toBe(true);

    // Item search → restore in place.
    await page.goto(`${appliance.url}/recovery/tasks/${setup.task.id}/entities/${entity.id}?mode=search`);
    await page.getByLabel('Word or phrase').fill('item 5');
    await page.getByRole('button', { name: 'Continue' }).click();
    expect(await page.getByRole('status').textContent()).toContain('1 item found.');
    await shoot(page, 'recovery-search');
    await page.getByLabel('Select item 5').check();
    await page.getByRole('button', { name: 'Restore selected' }).click();
    await page.getByLabel(/In place/).check();
    await shoot(page, 'recovery-restore-form');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.waitForURL('**/jobs');
    const restoreRow = page.locator('[data-job-id]').filter({ hasText: 'Restore of' });
    await restoreRow.locator('.job-status .badge', { hasText: 'Succeeded' }).waitFor();
    await shoot(page, 'recovery-jobs');
    expect(await restoreRow.locator('[data-fact="items"]').textContent()).toBe('1');

    // A folder the snapshot does not hold is refused at the form, by name, before any job starts.
    const base = `${appliance.url}/recovery/tasks/${setup.task.id}/entities/${entity.id}`;
    await page.goto(`${base}/export?snapshot=${snapshotId}&folder=${encodeURIComponent('Not in this backup')}`);
    await page.getByRole('button', { name: 'Export' }).click();
    expect(await page.locator('.field-error').textContent()).toBe(
      'Nothing in this snapshot matches the folder "Not in this backup".',
    );
    await shoot(page, 'recovery-export-nothing-matches');

    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
