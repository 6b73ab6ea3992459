// Issue 20's walk in a real browser against the real appliance process: from the root's
// Accounts page, read the Failed tile (3), click it, open a failing account from the filtered
// list and find the failing task on its homepage. The tree is seeded into the data folder before
// the appliance starts (tests/fixtures/portal-tree.ts, then three failing, some successful, one
// partially failed and some never-run customers). Screenshots at 1280 and 390 px.
import type { EntityManager } from '@mikro-orm/core';
import { describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../core/identity/entities.ts';
import { BackupTask, type EntityStatus, TaskEntity } from '../../core/tasks/entities.ts';
import { seedPortalTree } from '../fixtures/portal-tree.ts';
import { newBrowserContext } from '../helpers/browser.ts';
import { consoleErrorsOf, DESKTOP, horizontalOverflow, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { useSeededAppliance } from '../helpers/seeded-appliance.ts';

/** Customer n's one task and its entity's last run. */
const OUTCOMES: EntityStatus[] = ['failed', 'failed', 'failed', 'success', 'success', 'success', 'success', 'partial'];

async function seed(em: EntityManager, root: IOrganization): Promise<void> {
  const tree = await seedPortalTree(em, root, { distributors: 1, partners: 2, customers: 10, tasks: 0 });
  const now = new Date();
  for (const [n, status] of OUTCOMES.entries()) {
    const customer = await em.findOneOrFail(Organization, { id: tree.customers[n] as string });
    const task = em.create(BackupTask, {
      organization: customer,
      service: 'dropbox',
      name: `${customer.name} Dropbox`,
      connection: 'sealed-placeholder',
    });
    em.create(TaskEntity, {
      task,
      externalId: `member-${n}`,
      name: `user${n}@customer.example`,
      kind: 'member',
      status,
      lastRunAt: new Date(now.getTime() - 3_600_000),
      lastItems: 100,
      lastBytes: 409_600,
      storedBytes: 150_000,
      lastError: status === 'failed' ? 'The service refused the request.' : null,
      pluginState: null,
    });
  }
  await em.flush();
}

const seeded = useSeededAppliance(seed);

describe('backup health from the root', () => {
  it('goes from the Failed tile to a failing account’s homepage and its failing task', async () => {
    const context = await newBrowserContext(seeded.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, seeded.appliance.url);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    await page.waitForURL('**/portal');
    const failedTile = page.locator('.backup-tile-failed');
    expect((await failedTile.locator('.tile-figure').textContent())?.trim()).toBe('3');
    expect((await page.locator('.backup-tile-success .tile-figure').textContent())?.trim()).toBe('4');
    expect((await page.locator('.backup-tile-partial .tile-figure').textContent())?.trim()).toBe('1');
    expect((await page.locator('.backup-tile-none .tile-figure').textContent())?.trim()).toBe('2');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await screenshotBothWidths(page, 'portal-health-tiles')).toBeLessThanOrEqual(0);

    await failedTile.click();
    await page.waitForURL('**/portal?all=1&kind=customer&backup=failed');
    const rows = page.locator('#accounts-results tbody tr');
    expect(await rows.count()).toBe(3);
    expect(await page.locator('#accounts-results .backup-status').allTextContents()).toEqual([
      'Failed',
      'Failed',
      'Failed',
    ]);
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await screenshotBothWidths(page, 'portal-health-failed')).toBeLessThanOrEqual(0);

    // The backup status opens the account on its homepage.
    const first = rows.first();
    const name = (await first.locator('td[data-label="Account name"] .link-button').textContent())?.trim() as string;
    await first.locator('.backup-status').click();
    await page.waitForURL(`${seeded.appliance.url}/`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    const main = page.locator('main');
    expect(await main.textContent()).toContain(`${name} Dropbox`);
    expect(await main.textContent()).toMatch(/1 failed/);
    expect(await screenshotBothWidths(page, 'portal-health-homepage')).toBeLessThanOrEqual(0);

    expect(consoleErrors).toEqual([]);
    await context.close();
  });

  it('picks an account for System Activity by typing part of its name', async () => {
    const context = await newBrowserContext(seeded.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, seeded.appliance.url);
    await page.goto(`${seeded.appliance.url}/activity`);
    await page.getByLabel('Account', { exact: true }).fill('customer 7');
    const options = page.locator('#account-options [role="option"]');
    // "All accounts" and the one match, once the typed text's answer has replaced the focus's.
    await expect.poll(() => options.allTextContents()).toEqual(['All accounts', 'Customer 7 Customer account']);
    const option = options.filter({ hasText: 'Customer 7' });
    await screenshotBothWidths(page, 'portal-health-account-picker');
    await option.click();
    await page.waitForURL(/\/activity\?account=[0-9a-f-]{36}$/);
    expect(await page.getByLabel('Account', { exact: true }).inputValue()).toBe('Customer 7');
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
