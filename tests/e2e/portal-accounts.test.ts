// Issue 20's row actions in a real browser against the real appliance process: the pencil opens
// the account's edit form in place of its row and saving swaps the changed row back (htmx);
// ticked rows are paused in bulk; a customer that removed its partner's access keeps its row
// without a way in; the account page shows the monthly usage; the customer's administrator sees
// the privacy option in Settings › Account; the homepage finds a task and shows its last backup
// size. Screenshots of each at 1280 and 390 px.
import type { EntityManager } from '@mikro-orm/core';
import { describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../core/identity/entities.ts';
import { BackupTask, TaskEntity } from '../../core/tasks/entities.ts';
import { UsageSample } from '../../core/tenancy/usage-entities.ts';
import { newBrowserContext } from '../helpers/browser.ts';
import { consoleErrorsOf, DESKTOP, horizontalOverflow, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { useSeededAppliance } from '../helpers/seeded-appliance.ts';
import { makeOrganization, makeUser, TEST_PASSWORD } from '../helpers/tenants.ts';

const ids: Record<string, string> = {};

async function seed(em: EntityManager, root: IOrganization): Promise<void> {
  const partner = await makeOrganization(em, root, 'partner', 'Harbour IT');
  const names = ['Alpha Dental', 'Beta Books', 'Private Bakery', 'Delta Logistics'];
  for (const [n, name] of names.entries()) {
    const customer = await makeOrganization(em, partner, 'customer', name);
    customer.contactEmail = `it@${name.split(' ')[0]?.toLowerCase()}.example`;
    ids[name] = customer.id;
    for (const [k, service] of [
      [0, 'dropbox'],
      [1, 'salesforce'],
    ] as const) {
      const task = em.create(BackupTask, {
        organization: customer,
        service,
        name: `${name} ${service === 'dropbox' ? 'Dropbox' : 'Salesforce'}`,
        connection: 'sealed-placeholder',
      });
      em.create(TaskEntity, {
        task,
        externalId: `e-${n}-${k}`,
        name: `user${n}${k}@customer.example`,
        kind: service === 'dropbox' ? 'member' : 'data',
        status: n === 1 && k === 1 ? 'failed' : 'success',
        lastRunAt: new Date(Date.now() - 3_600_000),
        lastItems: 100,
        lastBytes: 1_500_000 * (n + 1) * (k + 1),
        storedBytes: 600_000 * (n + 1),
        pluginState: null,
      });
    }
    // Two months of daily samples.
    for (const day of ['2026-11-05', '2026-11-20', '2026-12-01', '2026-12-06']) {
      em.create(UsageSample, {
        organization: customer,
        day,
        protected: 2 + (day > '2026-12' ? 1 : 0),
        logicalBytes: 4_500_000 * (n + 1),
        storedBytes: 1_200_000 * (n + 1) + (day > '2026-12' ? 300_000 : 0),
      });
    }
  }
  const bakery = await em.findOneOrFail(Organization, { id: ids['Private Bakery'] as string });
  bakery.partnerAccessRemovedAt = new Date(Date.now() - 86_400_000);
  await em.flush();
  await makeUser(
    em,
    await em.findOneOrFail(Organization, { id: ids['Alpha Dental'] as string }),
    'owner@alpha.example',
  );
}

const seeded = useSeededAppliance(seed);

describe('the accounts list of an MSP', () => {
  it('edits a row in place, pauses ticked accounts, and keeps a private customer’s row without a way in', async () => {
    const context = await newBrowserContext(seeded.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, seeded.appliance.url);
    await page.goto(`${seeded.appliance.url}/portal?all=1&kind=customer`);
    const bakery = page.locator(`#account-row-${ids['Private Bakery']}`);
    expect(await bakery.locator('.access-removed').textContent()).toBe('Access removed by customer');
    expect(await bakery.locator('form[action$="/open"]').count()).toBe(0);
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await screenshotBothWidths(page, 'portal-accounts-list')).toBeLessThanOrEqual(0);

    // The pencil: the row becomes its form, and saving brings the changed row back.
    const alphaRow = `#account-row-${ids['Alpha Dental']}`;
    await page.locator(alphaRow).getByRole('link', { name: 'Edit Alpha Dental' }).click();
    const editing = page.locator(`${alphaRow}.row-editing`);
    await editing.waitFor();
    await editing.getByLabel('Phone').fill('+351 21 555 0100');
    await editing.getByLabel('Country').selectOption('PT');
    await editing.getByLabel('Contact email').fill('it@beta.example');
    expect(await screenshotBothWidths(page, 'portal-accounts-edit-row')).toBeLessThanOrEqual(0);
    await editing.getByRole('button', { name: 'Save' }).click();
    // Beta's contact email: refused under the field, the form stays.
    await editing.locator('.field-error').waitFor();
    expect(await editing.locator('.field-error').textContent()).toContain('Another customer account of this portal');
    expect(await screenshotBothWidths(page, 'portal-accounts-edit-error')).toBeLessThanOrEqual(0);
    await editing.getByLabel('Contact email').fill('ops@alpha.example');
    await editing.getByRole('button', { name: 'Save' }).click();
    await page.locator(`${alphaRow}:not(.row-editing)`).waitFor();
    expect(await page.locator(alphaRow).textContent()).toContain('ops@alpha.example');

    // Bulk: tick two rows, pause their backups.
    await page.locator(alphaRow).getByRole('checkbox').check();
    await page.locator(`#account-row-${ids['Beta Books']}`).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Pause backups' }).click();
    await page.locator('.alert-success').waitFor();
    expect(await page.locator('.alert-success').textContent()).toBe(
      'Paused the backups of 2 accounts (4 backup tasks changed).',
    );
    // The mail form of the usage report.
    await page.getByText('Mail usage report (ZIP)…').click();
    await page.getByLabel(/Mail to/).waitFor();
    expect(await screenshotBothWidths(page, 'portal-accounts-bulk')).toBeLessThanOrEqual(0);
    expect(consoleErrors.filter((e) => !/status of 422/.test(e))).toEqual([]);
    await context.close();
  });

  it('shows the account’s ID, address and monthly usage on its page', async () => {
    const context = await newBrowserContext(seeded.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    await signInPage(page, seeded.appliance.url);
    await page.goto(`${seeded.appliance.url}/portal/accounts/${ids['Alpha Dental']}`);
    expect(await page.locator('dd .account-code').textContent()).toMatch(/^C[2-9A-HJ-NP-Z]{7}$/);
    expect(await page.locator('.usage-months tbody tr').count()).toBe(2);
    expect(await screenshotBothWidths(page, 'portal-account-usage')).toBeLessThanOrEqual(0);
    await context.close();
  });
});

describe('a customer’s own administrator', () => {
  it('sees the privacy option in Settings › Account, and finds a task on the homepage with its size', async () => {
    const context = await newBrowserContext(seeded.browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, seeded.appliance.url, 'owner@alpha.example', TEST_PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'Homepage' }).waitFor();
    expect(await page.locator('.last-backup-size').allTextContents()).toEqual(['1.5 MB', '3.0 MB']);
    await page.getByLabel('Search for a task').fill('sales');
    await page.waitForURL(`${seeded.appliance.url}/?q=sales`);
    expect(await page.locator('.task-link').allTextContents()).toEqual(['Alpha Dental Salesforce']);
    expect(await screenshotBothWidths(page, 'portal-homepage-search')).toBeLessThanOrEqual(0);

    await page.goto(`${seeded.appliance.url}/settings/account`);
    await page.getByRole('heading', { name: 'Partner access' }).waitFor();
    expect(await page.getByRole('button', { name: 'Remove partner access' }).count()).toBe(1);
    expect(await screenshotBothWidths(page, 'portal-settings-partner-access')).toBeLessThanOrEqual(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
