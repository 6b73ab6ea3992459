// Dropbox end to end in a real browser against the real appliance process and the Dropbox API
// stand-in seeded with the demo team (what `npm run demo` runs): connect through the stand-in's
// sign-in, activate all, Backup now, change a file at Dropbox, back up again, restore the earlier
// version of a folder non-destructively and then in place, and download that folder as a ZIP
// whose names and bytes match. Screenshots at 1280 and 390 px.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { seedDemoTeam } from '../../demo/team.ts';
import { FakeDropbox } from '../fakes/dropbox/index.ts';
import { newBrowserContext } from '../helpers/browser.ts';
import { connectorSession } from '../helpers/connector-e2e.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { readZip } from '../helpers/recovery.ts';

let dropbox: FakeDropbox;
const session = connectorSession(async () => {
  dropbox = await new FakeDropbox({ teamName: 'Northwind Traders (demo)' }).start();
  seedDemoTeam(dropbox);
  return {
    env: {
      HOLDFAST_DROPBOX_APP_KEY: dropbox.appKey,
      HOLDFAST_DROPBOX_APP_SECRET: dropbox.appSecret,
      HOLDFAST_DROPBOX_API_BASE: dropbox.url,
    },
    stop: () => dropbox.stop(),
  };
});

async function shoot(page: Page, name: string): Promise<void> {
  expect({ name, overflow: await screenshotBothWidths(page, name) }).toEqual({ name, overflow: 0 });
}

/** Recovery › the task › Ada › the earlier of her two snapshots › the Contracts folder, selected. */
async function selectEarlierContracts(page: Page): Promise<void> {
  await page.goto(`${session.url}/recovery`);
  await page.getByRole('link', { name: 'Northwind Dropbox' }).click();
  await page.getByRole('link', { name: 'Recover from ada.admin@northwind.example' }).click();
  expect(await page.getByRole('status').textContent()).toContain('2 snapshots.');
  await page.getByRole('link', { name: 'Browse' }).nth(1).click();
  await page.getByLabel('Select folder Contracts').check();
}

/** Backs up every selected row and waits until each run has ended; returns the rows' statuses. */
async function backUpEverything(page: Page, taskUrl: string, runs: number): Promise<string[]> {
  await page.goto(taskUrl);
  await page.getByLabel('Select all on this page').check();
  await page.getByRole('button', { name: 'Backup now' }).click();
  await page.getByText(`${runs} queued for backup now.`).waitFor();
  // Rows show "queued" or In process until their run ends (they refresh themselves).
  const running = page.locator('#task-entities tr').filter({ hasText: /queued|In process/ });
  await expect.poll(() => running.count(), { interval: 500 }).toBe(0);
  const ended = page.locator('#task-entities .badge').filter({ hasText: /^(Success|Partial|Failed)$/ });
  expect(await ended.count()).toBe(runs);
  return (await ended.allTextContents()).sort();
}

describe('Dropbox in a browser', () => {
  it('connects, backs up twice, restores the earlier folder (non-destructively, then in place) and downloads it', async () => {
    const context = await newBrowserContext(session.browser, { viewport: DESKTOP, acceptDownloads: true });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, session.url);

    await page.goto(`${session.url}/tasks/new?service=dropbox`);
    await shoot(page, 'dropbox-new-task');
    await page.getByLabel('Backup task name').fill('Northwind Dropbox');
    await page.getByRole('button', { name: 'Continue to Dropbox' }).click();
    // The stand-in's sign-in approves at once and sends the browser back: the task is added.
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskUrl = page.url();
    // Discovery: 3 active members (one suspended member is listed too) and 2 team folders.
    await page.getByText('ada.admin@northwind.example').waitFor();
    await page.getByText('Marketing', { exact: true }).waitFor();
    await shoot(page, 'dropbox-task-discovered');

    // Activate all that are not yet active, then back them all up.
    await page.getByLabel('Select all on this page').check();
    await page.getByRole('button', { name: 'Activate' }).click();
    await page
      .getByText(/activated/)
      .first()
      .waitFor();
    const active = await page.locator('#task-entities .badge').filter({ hasText: 'Scheduled' }).count();
    expect(active).toBeGreaterThanOrEqual(5);
    // The suspended member's files cannot be read at Dropbox: not activated, not failed, shown
    // Unavailable with Dropbox's reason.
    const suspended = page.locator('#task-entities tr').filter({ hasText: 'Unavailable' });
    expect(await suspended.count()).toBe(1);
    await suspended.getByText('Suspended at Dropbox: their files cannot be read until reactivated.').waitFor();
    const statuses = await backUpEverything(page, taskUrl, active);
    await shoot(page, 'dropbox-task-backed-up');
    // The first backup is all green for what can be backed up.
    expect(statuses).toEqual(Array(active).fill('Success'));
    expect(await suspended.getByText('Unavailable', { exact: true }).count()).toBe(1);

    // At Dropbox, Ada's contract changes; the next backup keeps both versions.
    const ada = dropbox.team.members.find((m) => m.email === 'ada.admin@northwind.example');
    const original = ada?.namespace.get('/contracts/supplier agreement 2026.txt') as { content: Buffer } | undefined;
    expect(original?.content.length).toBeGreaterThan(100);
    const originalBytes = Buffer.from(original?.content as Buffer);
    ada?.namespace.writeFile('/Contracts/Supplier agreement 2026.txt', Buffer.from('signed, changed version\n'), {
      mode: 'overwrite',
    });
    await backUpEverything(page, taskUrl, active);

    // Recovery › the task › Ada › the earlier snapshot › Contracts › Restore, non-destructively.
    await selectEarlierContracts(page);
    await page.getByRole('button', { name: 'Restore' }).click();
    await shoot(page, 'dropbox-restore-form');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.waitForURL('**/jobs');
    const restoreRow = page.locator('[data-job-id]').first();
    await restoreRow.locator('.job-status .badge', { hasText: 'Succeeded' }).waitFor();
    const restoredFolder = [...(ada?.namespace.list('', true) ?? [])]
      .map((n) => (n as { pathDisplay: string }).pathDisplay)
      .find((p) => /^\/Restored [^/]+$/.test(p));
    expect(restoredFolder).toMatch(/^\/Restored \d{4}-\d{2}-\d{2} \d{2}\.\d{2} UTC$/);
    const restored = ada?.namespace.get(`${restoredFolder}/contracts/supplier agreement 2026.txt`.toLowerCase()) as
      | { content: Buffer }
      | undefined;
    expect(restored?.content.equals(originalBytes)).toBe(true);

    // The same folder in place: the changed contract stays and the earlier one comes back as a
    // suffixed copy beside it; the unchanged file is skipped.
    await selectEarlierContracts(page);
    await page.getByRole('button', { name: 'Restore' }).click();
    await page.getByLabel(/^In place/).check();
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.waitForURL('**/jobs');
    const inPlaceRow = page.locator('[data-job-id]').first();
    await inPlaceRow.locator('.job-status .badge', { hasText: 'Succeeded' }).waitFor();
    const contracts = new Map(
      (ada?.namespace.list('/contracts', true) ?? []).map((n) => [
        (n as { pathDisplay: string }).pathDisplay,
        n.tag === 'file' ? n.content.toString('utf8') : '/',
      ]),
    );
    expect([...contracts.keys()].sort()).toEqual([
      '/Contracts/Supplier agreement 2026 (1).txt',
      '/Contracts/Supplier agreement 2026.txt',
      '/Contracts/Überweisung März.txt',
    ]);
    expect(contracts.get('/Contracts/Supplier agreement 2026.txt')).toBe('signed, changed version\n');
    expect(contracts.get('/Contracts/Supplier agreement 2026 (1).txt')).toBe(originalBytes.toString('utf8'));
    // The job's log gives the counts.
    await page.reload();
    await inPlaceRow.getByText('View log').click();
    await inPlaceRow.getByText(/1 restored, 2 skipped, 0 failed of 3 items/).waitFor();
    await shoot(page, 'dropbox-jobs-in-place');

    // Download the same folder of the earlier snapshot as a ZIP.
    await selectEarlierContracts(page);
    await page.getByRole('button', { name: 'Download' }).click();
    await page.getByRole('button', { name: 'Export' }).click();
    await page.waitForURL('**/jobs');
    const exportRow = page.locator('[data-job-id]').first();
    await exportRow.locator('.job-status .badge', { hasText: 'Succeeded' }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      exportRow.getByRole('link', { name: 'Download results' }).click(),
    ]);
    const saved = join(session.dataDir, 'contracts.zip');
    await download.saveAs(saved);
    const zip = await readZip(saved);
    const names = [...zip.keys()].filter((n) => !n.endsWith('/')).sort();
    expect(names).toEqual(['Contracts/Supplier agreement 2026.txt', 'Contracts/Überweisung März.txt']);
    expect(zip.get('Contracts/Supplier agreement 2026.txt')?.equals(originalBytes)).toBe(true);
    await shoot(page, 'dropbox-jobs');

    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
