// Settings › Integrations › Autotask in a real browser against the real appliance process, with
// the Autotask stand-in on loopback (allowed by HOLDFAST_WEBHOOKS_ALLOW_PRIVATE): bad input
// answered on its fields, Autotask added (Active), "Send test event" proving the credentials,
// then a customer account mapped to an Autotask company picked by searching Autotask's own list;
// the ConnectWise form and a Backup Radar integration added; then two ticked accounts mapped in
// bulk from the Accounts list ("Map to PSA company…"), and one changed from inside the account
// (its Settings › Integrations lists the integration from above); screenshots at desktop and
// phone widths, with no sideways scrolling.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AutotaskStandIn, startAutotask } from '../fakes/psa/autotask.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, screenshotBothWidths, setupAdministrator, signInPage } from '../helpers/e2e.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

let browser: Browser;
let appliance: RunningProcess;
let autotask: AutotaskStandIn;
const dir = tempDir();

beforeAll(async () => {
  autotask = await startAutotask();
  appliance = await startApplianceProcess(baseEnv(dir.path, { HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true' }));
  await setupAdministrator(appliance.url);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  await autotask?.close();
  dir.remove();
});

async function addAccount(page: Page, name: string): Promise<void> {
  const res = await page.request.post(`${appliance.url}/portal/new`, {
    form: { kind: 'customer', name, contactEmail: `it@${name.toLowerCase()}.example` },
    headers: { origin: appliance.url },
    maxRedirects: 0,
  });
  expect(res.status()).toBe(303);
}

describe('Settings › Integrations › Autotask in a browser', () => {
  it('adds Autotask, tests it, and maps an account to a company found in Autotask', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page, /status of 422/);
    await signInPage(page, appliance.url);
    await addAccount(page, 'Northwind');
    await addAccount(page, 'Contoso');

    await page.goto(`${appliance.url}/settings/integrations`);
    await page.getByRole('link', { name: 'Add Autotask' }).click();
    expect(await page.getByLabel('Close the ticket when the task backs up successfully again').isChecked()).toBe(true);
    await page.getByLabel('API user (user name)').fill(autotask.username);
    await page.getByLabel('Queue id of new tickets').fill('queue seven');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('#queueId-error').textContent()).toBe('Enter the queue id as a number.');
    expect(await page.locator('#integrationCode-error').textContent()).toBe(
      'Enter the API tracking identifier (integration code).',
    );
    expect(await page.locator('#secret-error').textContent()).toBe('Enter the API user’s secret.');
    expect(await screenshotBothWidths(page, 'integrations-autotask-invalid')).toBeLessThanOrEqual(0);

    await page.getByLabel('API tracking identifier (integration code)').fill(autotask.integrationCode);
    await page.getByLabel('Queue id of new tickets').fill('29682833');
    await page.getByLabel('API user’s secret').fill(autotask.secret);
    await page.getByLabel('Zone lookup address (optional)').fill(autotask.url);
    await page.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Autotask integration added: ${autotask.username} (queue 29682833).` })
      .waitFor();
    const tile = page.getByTestId('integration-tile');
    expect(await tile.textContent()).toContain('Active');
    expect(await page.locator('main').textContent()).not.toContain(autotask.secret);
    await tile.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').filter({ hasText: 'Test event delivered.' }).waitFor();
    expect(autotask.tickets).toEqual([]);

    await tile.getByRole('link', { name: /^Edit the Autotask integration/ }).click();
    const mapping = page.getByTestId('company-mapping');
    await mapping.waitFor();
    expect(await page.locator('#companies').textContent()).toContain('Accounts without a company open no ticket');
    expect(await mapping.locator('tbody tr').allTextContents()).toEqual([
      expect.stringMatching(/Contoso\s+None: no tickets/),
      expect.stringMatching(/Northwind\s+None: no tickets/),
    ]);
    expect(await screenshotBothWidths(page, 'integrations-autotask-companies')).toBeLessThanOrEqual(0);

    await page.getByRole('link', { name: 'Choose the Autotask company of Northwind' }).click();
    await page.getByLabel('Company name').fill('north');
    await page.getByRole('button', { name: 'Search' }).click();
    const found = page.getByTestId('psa-companies');
    // Autotask's inactive "Northwind Labs" is not offered.
    await expect
      .poll(() => found.locator('tbody tr').allTextContents())
      .toEqual([expect.stringMatching(/Northwind Traders\s*174/)]);
    expect(await screenshotBothWidths(page, 'integrations-autotask-picker')).toBeLessThanOrEqual(0);
    await page.getByRole('button', { name: 'Use Northwind Traders for Northwind' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Northwind: tickets go to Northwind Traders in Autotask.' })
      .waitFor();
    expect(await mapping.locator('tbody tr').allTextContents()).toEqual([
      expect.stringMatching(/Contoso\s+None: no tickets/),
      expect.stringMatching(/Northwind\s+Northwind Traders · id 174/),
    ]);
    expect(await screenshotBothWidths(page, 'integrations-autotask-mapped')).toBeLessThanOrEqual(0);

    // The other two new forms: ConnectWise's fields, Backup Radar's one address.
    await page.goto(`${appliance.url}/settings/integrations`);
    await page.getByRole('link', { name: 'Add ConnectWise' }).click();
    await page.getByLabel('Private key').waitFor();
    expect(await screenshotBothWidths(page, 'integrations-connectwise-new')).toBeLessThanOrEqual(0);
    // What ConnectWise's API does not do for invoices is said beside its settings.
    expect(await page.getByText('with the appliance’s invoice number as its Reference', { exact: false }).count()).toBe(
      1,
    );
    await page.goto(`${appliance.url}/settings/integrations`);
    await page.getByRole('link', { name: 'Add Backup Radar' }).click();
    await page.getByLabel('Backup Radar’s inbound address').fill('msp-one@inbound.backupradar.example');
    await page.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Backup Radar integration added: msp-one@inbound.backupradar.example.' })
      .waitFor();
    expect(await page.getByTestId('integration-tile').count()).toBe(2);
    expect(await screenshotBothWidths(page, 'integrations-psa-tiles')).toBeLessThanOrEqual(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });

  it('maps ticked accounts in bulk from the Accounts list, and one from inside the account', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, appliance.url);
    await page.goto(`${appliance.url}/portal`);
    await page.getByRole('checkbox', { name: 'Tick Northwind' }).check();
    await page.getByRole('checkbox', { name: 'Tick Contoso' }).check();
    await page
      .getByLabel('PSA integration')
      .selectOption({ label: `Autotask · ${autotask.username} (queue 29682833)` });
    await page.getByRole('button', { name: 'Map to PSA company…' }).click();
    await page.getByRole('heading', { name: '2 ticked accounts' }).waitFor();
    expect(await page.getByTestId('bulk-psa-accounts').textContent()).toBe('Contoso, Northwind.');
    await page.getByLabel('Company name').fill('contoso');
    await page.getByRole('button', { name: 'Search' }).click();
    const found = page.getByTestId('psa-companies');
    await expect
      .poll(() => found.locator('tbody tr').allTextContents())
      .toEqual([expect.stringMatching(/Contoso Ltd\s*176/)]);
    expect(await screenshotBothWidths(page, 'portal-bulk-psa-picker')).toBeLessThanOrEqual(0);
    await page.getByRole('button', { name: 'Use Contoso Ltd for 2 ticked accounts' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Mapped 2 accounts to Contoso Ltd (id 176) in Autotask.' })
      .waitFor();
    expect(await screenshotBothWidths(page, 'portal-bulk-psa-mapped')).toBeLessThanOrEqual(0);

    // Inside Northwind: the root's Autotask, from above, with the company just mapped; changed here.
    await page.getByRole('button', { name: 'Northwind', exact: true }).click();
    await page.waitForURL(`${appliance.url}/`);
    await page.goto(`${appliance.url}/settings/integrations`);
    const above = page.getByTestId('inherited-psa');
    expect(await above.locator('tbody tr').allTextContents()).toEqual([
      expect.stringMatching(/Autotask\s*· of Acme Managed Services\s+Contoso Ltd · id 176/),
    ]);
    expect(await screenshotBothWidths(page, 'integrations-psa-from-above')).toBeLessThanOrEqual(0);
    await above.getByRole('link', { name: 'Choose the Autotask company of Northwind' }).click();
    await page.getByLabel('Company name').fill('north');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: 'Use Northwind Traders for Northwind' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Northwind: tickets go to Northwind Traders in Autotask.' })
      .waitFor();
    expect(await above.locator('tbody tr').allTextContents()).toEqual([
      expect.stringMatching(/Northwind Traders · id 174/),
    ]);
    expect(await screenshotBothWidths(page, 'integrations-psa-from-above-changed')).toBeLessThanOrEqual(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
