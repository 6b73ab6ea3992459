// MSP billing in a real browser against the real appliance process (issue 24): every billing
// page at 1280 and 390 px — Billing empty and filled, the plan form (with its errors), an
// invoice (draft and issued), an account's Billing page (a trial with a long name, a paying
// account with its History, one without a plan), the accounts list with its Trial and Billing
// Status tiles, the Amount column and the trial filter — with no sideways scrolling on a phone
// and no console errors; the Expired tile's count equals the rows its filter lists.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Kernel, openKernel } from '../../core/appliance.ts';
import { BillingAccount, Invoice } from '../../core/billing/entities.ts';
import { issueInvoice } from '../../core/billing/invoice-status.ts';
import { draftInvoicesOf } from '../../core/billing/invoices.ts';
import { createPlan } from '../../core/billing/plans.ts';
import { expireTrials, startTrial } from '../../core/billing/trials.ts';
import { type IOrganization, User } from '../../core/identity/entities.ts';
import { createLogger } from '../../core/logging.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir, testConfig } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, setupAdministrator, signInPage } from '../helpers/e2e.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';
import { makeOrganization, makeUser, TEST_PASSWORD } from '../helpers/tenants.ts';

const LONG = 'Fabrikam Research and Development Laboratories (Northern Europe and Baltics) Trial';
let browser: Browser;
let appliance: RunningProcess;
let kernel: Kernel;
let root: IOrganization;
let paying: IOrganization;
let trial: IOrganization;
let noPlan: IOrganization;
const dir = tempDir();
const DAY = 86_400_000;

beforeAll(async () => {
  appliance = await startApplianceProcess(baseEnv(dir.path));
  await setupAdministrator(appliance.url);
  kernel = await openKernel(testConfig(dir.path), createLogger('silent'));
  const em = kernel.orm.em.fork();
  root = (await em.findOneOrFail(User, { email: ADMIN.email }, { populate: ['organization'] })).organization;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await kernel?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

/** The accounts, plans, usage and invoices the filled pages show (after the empty ones were taken). */
async function fill(): Promise<void> {
  const em = () => kernel.orm.em.fork();
  const now = new Date();
  const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  paying = await makeOrganization(em(), root, 'customer', 'Northwind Traders international holdings, EMEA office');
  trial = await makeOrganization(em(), root, 'customer', LONG);
  noPlan = await makeOrganization(em(), root, 'customer', 'Contoso Pharmaceuticals');
  const expired = await makeOrganization(em(), root, 'customer', 'Tailspin Toys (trial ended)');
  for (const org of [paying, trial, noPlan, expired]) {
    await kernel.orm.em
      .fork()
      .getConnection()
      .execute('update organizations set created_at = ? where id = ?', [
        new Date(lastMonth.getTime() - 40 * DAY).toISOString(),
        org.id,
      ]);
  }
  await startTrial(em(), trial, now, new Date(now.getTime() + 2 * DAY));
  await startTrial(em(), expired, new Date(now.getTime() - 20 * DAY));
  await expireTrials(em(), now);
  // A month of usage samples for the paying account: 42 users and a few GiB.
  const conn = kernel.orm.em.fork().getConnection();
  for (let d = 0; d < 28; d++) {
    const day = new Date(lastMonth.getTime() + d * DAY).toISOString().slice(0, 10);
    await conn.execute(
      'insert into usage_samples (organization_id, day, protected, logical_bytes, stored_bytes) values (?, ?, ?, ?, ?)',
      [paying.id, day, 44, 9 * 1024 ** 3, (5 + d / 10) * 1024 ** 3],
    );
    await conn.execute('insert into usage_kind_samples (organization_id, day, kind, protected) values (?, ?, ?, ?)', [
      paying.id,
      day,
      'user',
      40 + (d > 14 ? 2 : 0),
    ]);
  }
  const plan = await createPlan(
    em(),
    root,
    {
      name: 'Standard protection with stored data and a long plan name',
      currency: 'EUR',
      period: 'monthly',
      minimumCents: 2500,
      meters: [
        {
          meter: 'protected:user',
          measure: 'max',
          tiers: [
            { upTo: 10, unitCents: 300 },
            { upTo: 50, unitCents: 250 },
            { upTo: null, unitCents: 200 },
          ],
        },
        { meter: 'stored_gib', measure: 'average', tiers: [{ upTo: null, unitCents: 12 }] },
      ],
    },
    now,
  );
  // An annual plan too: the plans list then says how annual terms are billed.
  await createPlan(
    em(),
    root,
    {
      name: 'Yearly users',
      currency: 'EUR',
      period: 'annual',
      meters: [{ meter: 'protected:user', measure: 'max', tiers: [{ upTo: null, unitCents: 3000 }] }],
    },
    now,
  );
  const e = em();
  e.create(BillingAccount, { organization: root.id, defaultPlan: plan.id, updatedAt: now });
  await e.flush();
  const b = em();
  b.create(BillingAccount, {
    organization: paying.id,
    taxRateBasisPoints: 2000,
    billingEmail: 'accounts-payable@northwind-traders.example',
    updatedAt: now,
  });
  await b.flush();
  const month = lastMonth.toISOString().slice(0, 7);
  await draftInvoicesOf(em(), root, month, now);
  const f = em();
  const invoice = await f.findOneOrFail(Invoice, { account: paying.id, period: month });
  await issueInvoice(f, invoice, now, { label: ADMIN.email });
  // Contoso's History starts empty (its draft removed): the page's empty state.
  await em().nativeDelete(Invoice, { account: noPlan.id });
}

describe('billing pages in a browser', () => {
  it('lays out every billing page at desktop and phone widths, empty and filled', async () => {
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page, /status of 422/);
    await signInPage(page, appliance.url);
    const go = async (path: string, name: string) => {
      await page.goto(`${appliance.url}${path}`);
      expect({ name, overflow: await screenshotBothWidths(page, name) }).toEqual({ name, overflow: 0 });
    };

    await page.getByRole('link', { name: 'Billing' }).first().click();
    await page.waitForURL('**/billing');
    await go('/billing', 'billing-empty');
    // The appliance's owner is invoiced by nobody: its History and Unpaid bills are empty.
    await go('/billing/history', 'billing-history-empty');
    await go('/billing/unpaid', 'billing-unpaid-empty');
    await go('/billing/payment-details', 'billing-payment-details-empty');
    await go('/portal', 'billing-accounts-empty');
    await go('/billing/plans/new', 'billing-plan-new');
    await page.getByLabel('Plan name').fill('');
    await page.getByLabel('Currency').fill('E1');
    await page.locator('#meter0').selectOption('protected');
    await page.getByLabel('Unit price or bands').first().fill('10 @ three');
    await page.getByRole('button', { name: 'Add plan' }).click();
    await page.locator('#bands0-error').waitFor();
    // Every field's message at once: the typed bands' and the plan's own rules'.
    expect(await page.locator('#name-error').textContent()).toBe('Enter a name.');
    expect(await page.locator('#currency-error').textContent()).toBe(
      'A three-letter currency code, such as EUR or USD.',
    );
    expect({ overflow: await screenshotBothWidths(page, 'billing-plan-invalid') }).toEqual({ overflow: 0 });

    await fill();
    await go('/billing', 'billing-filled');
    expect(await page.getByText('Annual plans are prepaid for 12 months', { exact: false }).count()).toBe(1);
    await page.getByRole('link', { name: 'Standard protection with stored data and a long plan name' }).click();
    await page.waitForURL('**/billing/plans/*');
    expect({ overflow: await screenshotBothWidths(page, 'billing-plan-edit') }).toEqual({ overflow: 0 });
    const invoiceId = (await kernel.orm.em.fork().findOneOrFail(Invoice, { account: paying.id })).id;
    await go(`/billing/invoices/${invoiceId}`, 'billing-invoice-issued');
    await go(`/portal/accounts/${paying.id}/billing`, 'billing-account-history');
    await go(`/portal/accounts/${trial.id}/billing`, 'billing-account-trial');
    await go(`/portal/accounts/${noPlan.id}/billing`, 'billing-account-empty');
    await go('/portal', 'billing-accounts-tiles');
    const expiredTile = await page.locator('.trial-tile-expired .tile-figure').textContent();
    await go('/portal?all=1&trial=expired', 'billing-accounts-trial-filter');
    expect(await page.locator('input[name="account"]').count()).toBe(Number(expiredTile));
    expect(await page.locator('[data-trial="expired"]').count()).toBe(Number(expiredTile));
    await go('/portal/new', 'billing-new-account-trial');
    expect(consoleErrors).toEqual([]);
    await context.close();
  });

  it("shows a customer account's administrator its own invoices, unpaid bills and payment details", async () => {
    await makeUser(kernel.orm.em.fork(), paying, 'it@northwind-traders.example');
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page, /status of 422/);
    await signInPage(page, appliance.url, 'it@northwind-traders.example', TEST_PASSWORD);
    const go = async (path: string, name: string) => {
      await page.goto(`${appliance.url}${path}`);
      expect({ name, overflow: await screenshotBothWidths(page, name) }).toEqual({ name, overflow: 0 });
    };
    await page.getByRole('link', { name: 'Billing' }).first().click();
    await page.waitForURL('**/billing/history');
    await go('/billing/history', 'billing-customer-history');
    const invoice = await kernel.orm.em.fork().findOneOrFail(Invoice, { account: paying.id });
    expect(await page.locator('.received-invoices a[href^="/billing/invoices/"]').first().textContent()).toBe(
      invoice.number,
    );
    await go('/billing/unpaid', 'billing-customer-unpaid');
    expect(await page.locator('.unpaid-tile-total .tile-figure').textContent()).toBe(
      `EUR ${(invoice.totalCents / 100).toFixed(2)}`,
    );
    await go('/billing/payment-details', 'billing-customer-payment-details');
    await page.getByLabel('Company tax id').fill('GB<script>');
    await page.getByRole('button', { name: 'Update billing details' }).click();
    await page.locator('#taxId-error').waitFor();
    expect({ overflow: await screenshotBothWidths(page, 'billing-customer-payment-details-invalid') }).toEqual({
      overflow: 0,
    });
    await page.getByLabel('Billing contact').fill('Accounts payable, Northwind Traders EMEA regional office');
    await page
      .getByLabel('Billing address')
      .fill('Unit 4, Harbour Business Park\nLong Industrial Estate Road\nRotterdam');
    await page.getByLabel('Company tax id').fill('NL 8123 4567 B01');
    await page.getByRole('button', { name: 'Update billing details' }).click();
    await page.getByText('The payment details have been saved.').waitFor();
    await go(`/billing/invoices/${invoice.id}`, 'billing-customer-invoice');
    // Issued before the details changed, the invoice keeps its "Bill to" as issued.
    expect(await page.getByText('Tax id: NL 8123 4567 B01').count()).toBe(0);
    expect(await page.locator('.invoice-parties').textContent()).toContain(
      'accounts-payable@northwind-traders.example',
    );
    expect(await page.locator('form[action$="/paid"]').count()).toBe(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
