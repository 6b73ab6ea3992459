// Backup tasks in a real browser against the real appliance process, with the test service loaded
// through HOLDFAST_PLUGINS and jobs running in worker threads: the empty homepage, adding a task
// (a refused token first), discovery filling the task page, selecting all and activating them,
// Backup Now with rows refreshing themselves until every one shows Success, the chart showing
// today's bar and its drill-down, the settings page and the homepage list. Every page is captured
// at 1280 and 390 px (tests/.artifacts/screenshots/) and checked for sideways overflow.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { longDay } from '../../core/routes/task-chart.ts';
import { VALID_TOKEN } from '../fakes/test-service.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, screenshotBothWidths, setupAdministrator, signInPage } from '../helpers/e2e.ts';
import { baseEnv, type RunningProcess, repoRoot, startApplianceProcess } from '../helpers/process.ts';

// Long enough to test truncation: entity names are "user-001@<account>.example".
const ACCOUNT = 'northwind-traders-international-holdings-emea-regional-office';
const TASK_NAME = 'Northwind Traders international holdings — EMEA regional office team accounts';
const ENTITIES = 6;
const ITEMS = 4;
let browser: Browser;
let appliance: RunningProcess;
const dir = tempDir();

beforeAll(async () => {
  appliance = await startApplianceProcess(
    baseEnv(dir.path, {
      HOLDFAST_PLUGINS: join(repoRoot, 'tests/fakes/test-service.ts'),
      HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1',
    }),
  );
  await setupAdministrator(appliance.url);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

async function shoot(page: Page, name: string): Promise<void> {
  expect({ name, overflow: await screenshotBothWidths(page, name) }).toEqual({ name, overflow: 0 });
}

/** Success badges in the entity table. */
function successCount(page: Page): Promise<number> {
  return page.locator('#task-entities .badge-success').count();
}

describe('backup tasks in a browser', () => {
  it('adds a task, discovers, activates all, backs up now and charts the day', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    // The refused token (422) is expected; anything else (a CSP refusal, a script error) is not.
    const consoleErrors = consoleErrorsOf(page, /status of 422/);

    await signInPage(page, appliance.url);
    expect(await page.getByRole('heading', { name: 'No backup tasks yet' }).count()).toBe(1);
    await shoot(page, 'tasks-home-empty');

    await page.getByRole('link', { name: '+ Add backup task' }).first().click();
    await page.waitForURL('**/tasks/new');
    // Dropbox is built in and the test service is loaded: choose the test service.
    await page.getByRole('navigation', { name: 'Service' }).getByRole('link', { name: 'Test service' }).click();
    await page.waitForURL('**/tasks/new?service=test-service');
    expect(await page.getByRole('heading', { name: 'Connect Test service' }).count()).toBe(1);
    await shoot(page, 'tasks-new');

    await page.getByLabel('Account', { exact: true }).fill(ACCOUNT);
    await page.getByLabel('Token', { exact: true }).fill('not-the-token');
    // Optional settings' labels end in "(optional)".
    await page.locator('#conn_entities').fill(String(ENTITIES));
    await page.locator('#conn_items').fill(String(ITEMS));
    await page.getByLabel('Backup task name').fill(TASK_NAME);
    await page.getByLabel('Automatically back up what is found later').uncheck();
    await page.getByRole('button', { name: 'Connect and add' }).click();
    await page.waitForLoadState();
    expect(await page.getByRole('alert').filter({ hasText: 'refused the token (401)' }).count()).toBe(1);
    // The refused secret is not filled back in; the rest is.
    expect(await page.getByLabel('Token', { exact: true }).inputValue()).toBe('');
    expect(await page.getByLabel('Backup task name').inputValue()).toBe(TASK_NAME);
    await shoot(page, 'tasks-new-refused');

    await page.getByLabel('Token', { exact: true }).fill(VALID_TOKEN);
    await page.getByRole('button', { name: 'Connect and add' }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskUrl = page.url();
    // Discovery runs as a job; the notice polls and the page reloads with the entities.
    await page.getByText(`user-00${ENTITIES}@${ACCOUNT}.example`).waitFor();
    expect(await page.locator('#task-entities .badge').filter({ hasText: 'Not active' }).count()).toBe(ENTITIES);

    // Select all on the page and activate.
    await page.getByLabel('Select all on this page').check();
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByText(`${ENTITIES} activated`).waitFor();
    expect(await page.locator('#task-entities .badge').filter({ hasText: 'Scheduled' }).count()).toBe(ENTITIES);
    await shoot(page, 'tasks-page-activated');

    // Backup Now on all: rows refresh themselves (htmx) until each run is over.
    await page.getByLabel('Select all on this page').check();
    await page.getByRole('button', { name: 'Backup now' }).click();
    await page.getByText(`${ENTITIES} queued for backup now.`).waitFor();
    await expect.poll(() => successCount(page), { interval: 500 }).toBe(ENTITIES);
    expect(page.url()).toContain(taskUrl);

    // The chart (reloaded) shows today's bar; its link drills down to today's runs.
    await page.goto(`${taskUrl}?days=7`);
    const today = new Date().toISOString().slice(0, 10);
    const todayLink = page.locator(`a.chart-day[href*="day=${today}"]`);
    expect(await todayLink.getAttribute('aria-label')).toMatch(
      new RegExp(`: ${ENTITIES * ITEMS} items backed up; ${ENTITIES} runs$`),
    );
    expect(await page.locator('rect.chart-bar').count()).toBe(1);
    await shoot(page, 'tasks-page-backed-up');
    await todayLink.click();
    await page.waitForURL(`**day=${today}#day-runs`);
    expect(await page.getByRole('heading', { name: `Runs on ${longDay(today)} (UTC)` }).count()).toBe(1);
    expect(await page.locator('#day-runs tbody tr').count()).toBe(ENTITIES);
    await shoot(page, 'tasks-page-drilldown');

    await page.goto(`${taskUrl}?q=no-such-user`);
    expect(await page.getByRole('heading', { name: 'Nothing matches' }).count()).toBe(1);
    await shoot(page, 'tasks-page-no-match');

    await page.goto(`${taskUrl}/settings`);
    expect(await page.getByText('Local disk (built-in)').count()).toBe(1);
    expect(await page.getByText('Fixed by the first backup; it cannot change.').count()).toBe(1);
    await shoot(page, 'tasks-settings');

    await page.goto(appliance.url);
    const row = page.locator('.tasks-table tbody tr');
    expect(await row.count()).toBe(1);
    expect(await row.locator('.status-counts .badge-success').textContent()).toBe(`${ENTITIES} success`);
    await shoot(page, 'tasks-home');

    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
