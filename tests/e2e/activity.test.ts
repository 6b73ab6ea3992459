// Activity › System Activity in a real browser against the real appliance process: backup runs of
// the test service (succeeded, partial, failed) recorded beforehand, then the filters through
// htmx, the info dialog (opened without any page script, its job log loaded when shown), the
// one-job view, the CSV download and the tab to the Security Audit. Screenshots at 1280 and 390 px.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../core/activity/entities.ts';
import { createApp } from '../../core/app.ts';
import { openKernel, workContext } from '../../core/appliance.ts';
import { Organization } from '../../core/identity/entities.ts';
import { InlineExecutor } from '../../core/jobs/executors.ts';
import { JobRunner } from '../../core/jobs/runner.ts';
import { createLogger } from '../../core/logging.ts';
import { servicePlugin } from '../../core/plugins/registry.ts';
import { discoverEntities } from '../../core/tasks/discovery.ts';
import { TaskEntity } from '../../core/tasks/entities.ts';
import { backupNow } from '../../core/tasks/entity-actions.ts';
import { createTask } from '../../core/tasks/tasks-service.ts';
import { TEST_SERVICE_KIND, type TestServiceInput, VALID_TOKEN } from '../fakes/test-service.ts';
import { launchChromium, newBrowserContext, STEP_TIMEOUT_MS } from '../helpers/browser.ts';
import { tempDir, testConfig } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, PHONE, screenshot, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { completeSetupVia } from '../helpers/kernel.ts';
import { baseEnv, type RunningProcess, repoRoot, startApplianceProcess } from '../helpers/process.ts';

// The service filter lists installed plugins; no scheduler, so nothing runs behind the test's back.
const ENV = {
  HOLDFAST_PLUGINS: join(repoRoot, 'tests/fakes/test-service.ts'),
  HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '0',
};
const LONG_TASK = 'Nightly backup of the Northwind Traders International Holdings Dropbox Business team';

let browser: Browser;
let appliance: RunningProcess;
const dir = tempDir();
let partialJobId = '';

/** Records runs as the appliance would: tasks of the test service, backups run inline. */
async function recordRuns(): Promise<void> {
  const config = testConfig(dir.path, ENV);
  const kernel = await openKernel(config, createLogger('silent'));
  try {
    await completeSetupVia(createApp(kernel.deps));
    const em = kernel.orm.em.fork();
    const org = await em.findOneOrFail(Organization, { kind: 'root' });
    const plugin = servicePlugin(TEST_SERVICE_KIND);
    if (!plugin) throw new Error('HOLDFAST_PLUGINS did not register the test service');
    const ctx = workContext(kernel);
    const runner = new JobRunner(ctx, new InlineExecutor(ctx));
    const deps = {
      credentials: kernel.credentials,
      services: servicePlugin,
      now: () => new Date(),
      log: kernel.deps.log,
    };
    const run = async (name: string, connection: Partial<TestServiceInput>) => {
      const task = await createTask(
        em,
        deps,
        org,
        { service: TEST_SERVICE_KIND, name, connection: { token: VALID_TOKEN, account: 'acct', ...connection } },
        { label: 'admin@acme.example' },
      );
      await discoverEntities(em, task, plugin, kernel.credentials, {
        signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
        log: kernel.deps.log,
        now: new Date(),
      });
      const entities = await em.find(TaskEntity, { task }, { orderBy: { externalId: 'asc' } });
      const { jobIds } = await backupNow(
        em,
        task,
        entities.map((e) => e.id),
        { kind: 'user', label: 'admin@acme.example' },
        new Date(),
        1,
      );
      await runner.runUntilIdle();
      return jobIds;
    };
    await run(LONG_TASK, {
      account: 'northwind-traders-international-holdings',
      entities: 2,
      items: 12,
      itemBytes: 4000,
    });
    await run('Mail archive', { entities: 2, items: 6, failItems: 2, failEntities: ['user-002'] });
    const partial = await kernel.orm.em.fork().findOneOrFail(ActivityEvent, { status: 'partially_succeeded' });
    partialJobId = partial.jobId as string;
    await runner.stop(1000);
  } finally {
    await kernel.close();
  }
}

beforeAll(async () => {
  await recordRuns();
  appliance = await startApplianceProcess(baseEnv(dir.path, ENV));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

async function shoot(page: Page, name: string): Promise<void> {
  expect(await screenshotBothWidths(page, name), `sideways overflow on ${name}`).toBe(0);
}

const rows = (page: Page) => page.locator('#activity-results tbody tr');

describe('System Activity in a browser', () => {
  it('filters, opens the info dialog, shows one job and downloads the CSV', async () => {
    const context = await newBrowserContext(browser, { viewport: DESKTOP, acceptDownloads: true });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, appliance.url);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click();
    await page.waitForURL('**/activity');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('System activity');
    // Two tasks created, four entities activated, four runs.
    expect(await rows(page).count()).toBe(10);
    await shoot(page, 'activity');

    // Filters through htmx, without a reload.
    await page.evaluate('window.__sameDocument = true');
    await page.getByLabel('Activity', { exact: true }).selectOption('Backup');
    await page.waitForURL('**/activity?activity=Backup');
    expect(await rows(page).count()).toBe(4);
    await page.getByLabel('Status').selectOption('partially_succeeded');
    await page.waitForURL('**/activity?activity=Backup&status=partially_succeeded');
    expect(await rows(page).count()).toBe(1);
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Task name').fill('northwind');
    await page.waitForURL('**/activity?activity=Backup&task=northwind');
    expect(await rows(page).count()).toBe(2);
    await page.getByLabel('Item', { exact: true }).fill('user-002');
    await page.waitForURL('**/activity?activity=Backup&task=northwind&item=user-002');
    expect(await rows(page).count()).toBe(1);
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    await shoot(page, 'activity-filtered');

    // The info dialog: a native modal dialog; the figures at once, the job's log when shown.
    await rows(page).first().getByRole('button', { name: 'Details of this backup' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.locator('[data-fact="items"]').textContent()).toBe('12');
    expect(await dialog.locator('[data-fact="size"]').textContent()).toBe('48.0 KB');
    expect(await dialog.locator('[data-fact="summary"]').textContent()).toBe(
      'Backup of user-002@northwind-traders-international-holdings.example: completed (12 items; 12 added, 0 updated, 0 deleted).',
    );
    await dialog.locator('.job-log').waitFor();
    expect(await dialog.locator('.job-log li').first().textContent()).toContain('queued by admin@acme.example');
    await shoot(page, 'activity-dialog');
    await dialog.getByRole('button', { name: 'Close', exact: true }).last().click();
    await dialog.waitFor({ state: 'hidden' });

    // The CSV holds what the page shows.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^holdfast-system-activity-\d{4}-\d{2}-\d{2}\.csv$/);
    const lines = readFileSync((await download.path()) as string, 'utf8')
      .trim()
      .split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`,Backup,Test service,Users,Succeeded,${LONG_TASK},user-002@northwind`);

    // The Jobs page's "View Log": one job, with a chip and the way back.
    await page.goto(`${appliance.url}/activity?job=${partialJobId}`);
    expect(await rows(page).count()).toBe(1);
    expect(await page.locator('.chip').textContent()).toContain('Showing one job');
    await rows(page).first().getByRole('button', { name: 'Details of this backup' }).click();
    await page.getByRole('dialog').locator('.job-log').waitFor();
    expect(await page.getByRole('dialog').locator('[data-fact="summary"]').textContent()).toBe(
      'Backup of user-001@acct.example: completed with failed items (4 items; 4 added, 0 updated, 0 deleted). 2 items could not be read: items/00004, items/00005.',
    );
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    await shoot(page, 'activity-one-job');
    await page.getByRole('link', { name: 'Show all activity' }).click();
    await page.waitForURL('**/activity');
    expect(await rows(page).count()).toBe(10);

    // Empty result, then the dialog on a phone, then the Security Audit tab.
    await page.goto(`${appliance.url}/activity?item=nobody-has-this`);
    expect(await page.getByRole('heading', { name: 'No activity matches' }).isVisible()).toBe(true);
    await shoot(page, 'activity-empty');
    await page.goto(`${appliance.url}/activity?status=failed`);
    await page.setViewportSize(PHONE);
    await rows(page).first().getByRole('button', { name: 'Details of this backup' }).click();
    await page.getByRole('dialog').locator('.job-log').waitFor();
    await screenshot(page, 'activity-dialog-failed-phone');
    await page.keyboard.press('Escape');
    await page.setViewportSize(DESKTOP);
    await page
      .getByRole('navigation', { name: 'Activity sections' })
      .getByRole('link', { name: 'Security audit' })
      .click();
    await page.waitForURL('**/activity/security-audit');

    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
