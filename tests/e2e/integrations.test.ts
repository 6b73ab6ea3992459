// Settings › Integrations in a real browser against the real appliance process, with a Splunk
// HEC stand-in on loopback (allowed by HOLDFAST_WEBHOOKS_ALLOW_PRIVATE, as the operator would):
// bad input answered on its fields, Splunk added (Active), a test event delivered, edited with a
// wrong token until the appliance's own sender marks it Failing with Splunk's reason, then
// deleted; screenshots at desktop and phone widths, with no sideways scrolling.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, screenshotBothWidths, setupAdministrator, signInPage } from '../helpers/e2e.ts';
import { type HecReceiver, startHecReceiver } from '../helpers/hec-receiver.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

let browser: Browser;
let appliance: RunningProcess;
let hec: HecReceiver;
const dir = tempDir();

beforeAll(async () => {
  hec = await startHecReceiver('e2e-hec-token');
  appliance = await startApplianceProcess(
    // The sender loop every second, so the page turns Failing without a long wait.
    baseEnv(dir.path, { HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true', HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1' }),
  );
  await setupAdministrator(appliance.url);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  await hec?.close();
  dir.remove();
});

describe('Settings › Integrations in a browser', () => {
  it('adds Splunk, sends a test event, shows Failing after a wrong token, edits and deletes it', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page, /status of 422/);
    page.on('dialog', (d) => void d.accept());
    await signInPage(page, appliance.url);

    await page.goto(`${appliance.url}/settings`);
    await page
      .getByRole('navigation', { name: 'Settings sections' })
      .getByRole('link', { name: 'Integrations' })
      .click();
    await page.waitForURL('**/settings/integrations');
    expect(await screenshotBothWidths(page, 'integrations-empty')).toBeLessThanOrEqual(0);

    await page.getByRole('link', { name: 'Add Splunk' }).click();
    await page.getByLabel('HTTP Event Collector URL').fill('splunk.example.com');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect
      .poll(() => page.locator('#url-error').textContent())
      .toBe('Enter a full URL, like https://splunk.example.com:8088/services/collector/event.');
    expect(await page.locator('#token-error').textContent()).toBe('Enter the HEC token.');
    expect(await screenshotBothWidths(page, 'integrations-invalid')).toBeLessThanOrEqual(0);

    await page.getByLabel('HTTP Event Collector URL').fill(hec.url);
    await page.getByLabel('HEC token').fill('e2e-hec-token');
    await page.getByLabel('Source (optional)', { exact: true }).fill('holdfast-e2e');
    await page.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Splunk integration added: ${hec.url}.` })
      .waitFor();
    const tile = page.getByTestId('integration-tile');
    expect(await tile.textContent()).toContain('Active');
    expect(await page.locator('main').textContent()).not.toContain('e2e-hec-token');

    await tile.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').filter({ hasText: 'Test event delivered.' }).waitFor();
    expect(hec.events.find((e) => e.event.log === 'test')).toMatchObject({ source: 'holdfast-e2e' });
    // The appliance's own sender delivers the root's own audit entry ("Integration added").
    await expect
      .poll(() => hec.events.some((e) => e.event.action === 'Integration added'), { timeout: 30_000 })
      .toBe(true);
    await page.reload();
    expect(await tile.textContent()).toMatch(/\d+ events? sent/);
    expect(await screenshotBothWidths(page, 'integrations-active')).toBeLessThanOrEqual(0);

    await tile.getByRole('link', { name: /^Edit the Splunk integration/ }).click();
    expect(await page.getByLabel('HEC token').inputValue()).toBe('');
    await page.getByLabel('HEC token').fill('a-wrong-token');
    await page.getByLabel('Index (optional)').fill('backups');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Splunk integration saved.' }).waitFor();
    // "Integration changed" is the next event; the sender's attempt is refused.
    await expect
      .poll(
        async () => {
          await page.reload();
          return tile.textContent();
        },
        { timeout: 30_000 },
      )
      .toContain('Splunk refused the token (HTTP 403: Invalid token). Check the HEC token.');
    expect(await tile.textContent()).toMatch(/Failing\s+since/);
    expect(await screenshotBothWidths(page, 'integrations-failing')).toBeLessThanOrEqual(0);

    await tile.getByRole('button', { name: /^Delete the Splunk integration/ }).click();
    await page.getByRole('status').filter({ hasText: 'Splunk integration removed.' }).waitFor();
    expect(await page.getByTestId('integration-tile').count()).toBe(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
