// The pages of restore drills and disaster recovery in Chromium at 1280 and 390 px: the task
// page's restore drill panel after a drill ran in the appliance (queued from its button), the
// portal's account row, Settings › Recovery with its recovery sheet, and a fresh appliance's
// setup page offering "Recover an existing appliance" — no sideways overflow, no console error.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoreDrill } from '../../core/drills/entities.ts';
import { type ApplianceWithTask, startApplianceWithTask } from '../helpers/appliance-task.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

const dir = tempDir();
const freshDir = tempDir();
let setup: ApplianceWithTask;
let fresh: RunningProcess;
let browser: Browser;

beforeAll(async () => {
  setup = await startApplianceWithTask(dir.path, 'Team drive backup', { account: 'drill-proofs', items: 6 });
  await setup.backupAndWait();
  fresh = await startApplianceProcess(baseEnv(freshDir.path));
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await setup?.close();
  fresh?.child.kill('SIGTERM');
  dir.remove();
  freshDir.remove();
});

async function open(): Promise<Page> {
  const context = await newBrowserContext(browser, { viewport: DESKTOP });
  return context.newPage();
}

describe('restore drill and recovery pages', () => {
  it('the task page runs a drill from its button and shows the result and its cost', async () => {
    const page = await open();
    const errors = consoleErrorsOf(page);
    await signInPage(page, setup.appliance.url);
    await page.goto(`${setup.appliance.url}/tasks/${setup.task.id}`);
    await expect.poll(() => page.locator('.drill-panel').innerText()).toContain('No restore drill yet.');
    await page.getByRole('button', { name: 'Run a restore drill' }).click();
    await page.waitForURL(`${setup.appliance.url}/tasks/${setup.task.id}`);
    await setup.waitFor('the drill', async () => {
      const row = await setup.kernel.orm.em.fork().findOne(RestoreDrill, { task: setup.task.id });
      return row ?? undefined;
    });
    await page.reload();
    const panel = await page.locator('.drill-panel').innerText();
    expect(panel).toMatch(/Passed\s+Last verified restorable: .+, 6 items, \d+ bytes, took /);
    expect(panel).toContain('Cost: no service API calls;');
    expect(await screenshotBothWidths(page, 'task-restore-drill')).toBeLessThanOrEqual(0);
    expect(errors).toEqual([]);
  });

  it('Settings › Recovery shows the printable recovery sheet after the password', async () => {
    const page = await open();
    const errors = consoleErrorsOf(page);
    await signInPage(page, setup.appliance.url);
    await page.goto(`${setup.appliance.url}/settings/recovery`);
    expect(await screenshotBothWidths(page, 'settings-recovery')).toBeLessThanOrEqual(0);
    await page.getByLabel('Your password').first().fill(ADMIN.password);
    await page.getByRole('button', { name: 'Show the recovery sheet' }).click();
    await expect.poll(() => page.locator('.recovery-sheet').innerText()).toContain('Master key export');
    expect(await screenshotBothWidths(page, 'settings-recovery-sheet')).toBeLessThanOrEqual(0);
    expect(errors).toEqual([]);
  });

  it('a fresh appliance offers "Recover an existing appliance" on its setup page', async () => {
    const page = await open();
    const errors = consoleErrorsOf(page, /422/);
    await page.goto(`${fresh.url}/setup`);
    expect(await screenshotBothWidths(page, 'setup-with-recover-link')).toBeLessThanOrEqual(0);
    await page.getByRole('link', { name: 'Recover an existing appliance' }).click();
    await page.waitForURL(`${fresh.url}/setup/recover`);
    expect(await screenshotBothWidths(page, 'setup-recover')).toBeLessThanOrEqual(0);
    await page.getByRole('button', { name: 'Recover the appliance' }).click();
    await expect.poll(() => page.locator('.field-error').first().innerText()).toContain('as JSON');
    expect(await screenshotBothWidths(page, 'setup-recover-errors')).toBeLessThanOrEqual(0);
    expect(errors).toEqual([]);
  });
});
