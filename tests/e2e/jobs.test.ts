// The Jobs page in a real browser against the real appliance process (jobs in worker threads, the
// test service loaded through HOLDFAST_PLUGINS): an export waits behind a backup of the same
// entity, its row turns Succeeded by polling alone (no reload), its results download; a slow
// restore shows In progress and is cancelled from its row after confirmation. Screenshots at
// 1280 and 390 px, including the empty page.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { principalForUser } from '../../core/access/principal.ts';
import type { Kernel } from '../../core/appliance.ts';
import type { IUser } from '../../core/identity/entities.ts';
import { type StartContext, startExport, startRestore } from '../../core/recovery/start.ts';
import { type IBackupTask, type ITaskEntity, TaskEntity } from '../../core/tasks/entities.ts';
import { type ApplianceWithTask, startApplianceWithTask } from '../helpers/appliance-task.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import type { RunningProcess } from '../helpers/process.ts';

const dir = tempDir();
let browser: Browser;
let setup: ApplianceWithTask;
let appliance: RunningProcess;
let kernel: Kernel;
let admin: IUser;
let task: IBackupTask;
let entity: ITaskEntity;
const backup = () => setup.backup();
const jobState = (id: string) => setup.jobState(id);
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>) => setup.waitFor(what, probe);

function startContext(): StartContext {
  return {
    em: kernel.orm.em.fork(),
    principal: principalForUser(admin),
    organization: admin.organization,
    actor: { label: admin.email },
    credentials: kernel.credentials,
    now: new Date(),
    maxAttempts: 3,
  };
}

async function shoot(page: Page, name: string): Promise<void> {
  expect(await screenshotBothWidths(page, name)).toBe(0);
}

beforeAll(async () => {
  // Each backup item takes 250 ms, each restored item 700 ms: slow enough to watch.
  setup = await startApplianceWithTask(
    dir.path,
    'Marketing Dropbox with a rather long backup task name for the narrow screen',
    { account: 'marketing', items: 12, itemBytes: 20_000, itemDelayMs: 250, restoreDelayMs: 700 },
  );
  ({ appliance, kernel, admin, task, entity } = setup);
  await setup.backupAndWait();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await setup?.close();
  dir.remove();
});

describe('the Jobs page in a browser', () => {
  it('follows an export to Succeeded by polling, downloads it, and cancels a running restore', async () => {
    const context = await newBrowserContext(browser, { viewport: DESKTOP, acceptDownloads: true });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, appliance.url);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
    await page.waitForURL('**/jobs');
    expect(await page.getByRole('heading', { name: 'No restores or exports in the last 7 days' }).isVisible()).toBe(
      true,
    );
    await shoot(page, 'jobs-empty');

    // A second backup runs for about 3 s; the export of the same entity waits for it (one job per entity).
    const running = await backup();
    await waitFor('the second backup to start', async () =>
      (await jobState(running)) === 'in_progress' ? true : undefined,
    );
    const snapshotId = (await kernel.orm.em.fork().findOneOrFail(TaskEntity, { id: entity.id }))
      .lastSnapshotId as string;
    const exported = await startExport(startContext(), {
      taskId: task.id,
      entityId: entity.id,
      snapshotId,
      label: 'Quarterly handover for the auditors (all files)',
    });
    await page.goto(`${appliance.url}/jobs`);
    const row = page.locator(`[data-job-id="${exported.id}"]`);
    expect(await row.locator('.job-status .badge').textContent()).toBe('Pending');
    expect(await row.getByRole('button', { name: 'Download results' }).isDisabled()).toBe(true);
    await shoot(page, 'jobs-pending');
    // The page is never reloaded: a marker set now survives only if polling did the work.
    await page.evaluate('window.__notReloaded = true');
    await row.locator('.job-status .badge', { hasText: 'Succeeded' }).waitFor();
    expect(await page.evaluate('window.__notReloaded')).toBe(true);
    // The counters follow out of band.
    expect(await page.locator('.job-counter-success .job-counter-count').textContent()).toBe('1');
    expect(await row.locator('[data-fact="items"]').textContent()).toBe('12');
    await row.getByText('View log').click();
    expect(await row.locator('.job-log-entries').textContent()).toContain('12 items exported');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('link', { name: 'Download results' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(
      /^Quarterly-handover-for-the-auditors-all-files-\d{4}-\d{2}-\d{2}\.zip$/,
    );
    const saved = join(dir.path, 'downloaded.zip');
    await download.saveAs(saved);
    expect(readFileSync(saved).subarray(0, 2).toString('latin1')).toBe('PK');
    await shoot(page, 'jobs-succeeded');

    // A restore of 12 items at 700 ms each: cancel it from its row while it runs.
    const restore = await startRestore(startContext(), {
      taskId: task.id,
      entityId: entity.id,
      snapshotId,
      mode: 'non_destructive',
      label: 'Put the handover folder back',
    });
    await waitFor('the restore to start', async () =>
      (await jobState(restore.id)) === 'in_progress' ? true : undefined,
    );
    await page.goto(`${appliance.url}/jobs?activity=restore`);
    const restoreRow = page.locator(`[data-job-id="${restore.id}"]`);
    await restoreRow.locator('.job-status .badge', { hasText: 'In progress' }).waitFor();
    await shoot(page, 'jobs-restore-running');
    page.once('dialog', (dialog) => {
      expect(dialog.message()).toBe('Cancel “Put the handover folder back”? Items already restored stay restored.');
      void dialog.accept();
    });
    await restoreRow.getByRole('button', { name: 'Cancel' }).click();
    await restoreRow.locator('.job-status .badge', { hasText: 'Canceled' }).waitFor();
    expect(await jobState(restore.id)).toBe('canceled');

    // The counters filter: Succeeded shows the export only.
    await page.goto(`${appliance.url}/jobs`);
    await page
      .getByRole('link', { name: /Succeeded/ })
      .first()
      .click();
    await page.waitForURL('**/jobs?status=succeeded');
    expect(await page.locator('[data-job-id]').count()).toBe(1);
    await shoot(page, 'jobs-filtered');
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
