// The README's "Try it with a demo Dropbox team", step by step in a real browser against
// `npm run demo` (demo/run.ts): create the administrator (signed in at once), add a customer
// account and open it, add the Dropbox task there (members and team folders come in activated:
// nothing to select and Activate), Backup now, then find the backups under Recovery.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths } from '../helpers/e2e.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

const dir = tempDir();
let browser: Browser;
let demo: RunningProcess;

beforeAll(async () => {
  demo = await startApplianceProcess(baseEnv(dir.path, { HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1' }), [
    process.execPath,
    'demo/run.ts',
  ]);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  demo?.child.kill('SIGTERM');
  await demo?.exited;
  dir.remove();
});

async function shoot(page: Page, name: string): Promise<void> {
  expect({ name, overflow: await screenshotBothWidths(page, name) }).toEqual({ name, overflow: 0 });
}

describe("the README's demo walk-through", () => {
  it('goes from setup to a backed-up customer Dropbox task as the README says', async () => {
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);

    // "Open http://localhost:8080, create the administrator (you are signed in)".
    await page.goto(`${demo.url}/`);
    await page.getByLabel('Organization name').fill('Example MSP');
    await page.getByLabel('Administrator email').fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Confirm password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.waitForURL(`${demo.url}/`);

    // "Accounts › + Add account: a Customer named Northwind Traders, then Open account".
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('link', { name: '+ Add account' }).first().click();
    await page.getByLabel(/^Customer/).check();
    await page.getByLabel('Account name').fill('Northwind Traders');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByRole('button', { name: 'Open account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Homepage' }).waitFor();
    expect(await page.locator('body').textContent()).toContain('Northwind Traders');

    // "+ Add backup task › Dropbox, name it, Continue to Dropbox (the stand-in approves at once)".
    await page.getByRole('link', { name: '+ Add backup task' }).first().click();
    await page.getByRole('navigation', { name: 'Service' }).getByRole('link', { name: 'Dropbox' }).click();
    await page.getByLabel('Backup task name').fill('Northwind Dropbox');
    await page.getByRole('button', { name: 'Continue to Dropbox' }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskUrl = page.url().replace(/\?.*$/, '');
    await page.getByText('ada.admin@northwind.example').waitFor();

    // New members and team folders are activated automatically: none waits to be activated.
    const rows = page.locator('#task-entities tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('#task-entities .badge').filter({ hasText: 'Not active' }).count()).toBe(0);
    await shoot(page, 'demo-task-discovered');

    // "Select all, Backup now".
    await page.getByLabel('Select all on this page').check();
    await page.getByRole('button', { name: 'Backup now' }).click();
    const running = page.locator('#task-entities tr').filter({ hasText: /queued|In process/ });
    await expect.poll(() => running.count(), { interval: 500 }).toBe(0);
    await page.goto(taskUrl);
    expect(await page.locator('#task-entities .badge').filter({ hasText: 'Success' }).count()).toBeGreaterThan(0);
    await shoot(page, 'demo-task-backed-up');

    // "browse, restore and download under Recovery".
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Recovery' }).click();
    await page
      .getByRole('link', { name: /Dropbox/ })
      .first()
      .waitFor();
    await shoot(page, 'demo-recovery');
    expect(consoleErrors).toEqual([]);
  });
});
