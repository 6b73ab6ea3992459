// Settings › Webhooks in a real browser against the real appliance, with a receiver on loopback
// (allowed by HOLDFAST_WEBHOOKS_ALLOW_PRIVATE, as the operator would): bad input answered on its
// fields, an endpoint added (its secret shown once), a test event delivered and verified with
// that secret, a 500 shown in the delivery log, the endpoint edited and removed; screenshots at
// desktop and phone widths, with no sideways scrolling.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../core/webhooks/signature.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, screenshotBothWidths, setupAdministrator, signInPage } from '../helpers/e2e.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

let browser: Browser;
let appliance: RunningProcess;
let receiver: WebhookReceiver;
const dir = tempDir();

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  appliance = await startApplianceProcess(baseEnv(dir.path, { HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true' }));
  await setupAdministrator(appliance.url);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  await receiver?.close();
  dir.remove();
});

describe('Settings › Webhooks in a browser', () => {
  it('adds an endpoint, sends a test event, shows the log, edits and removes it', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page, /status of 422/);
    page.on('dialog', (d) => void d.accept());
    await signInPage(page, appliance.url);

    await page.goto(`${appliance.url}/settings`);
    await page.getByRole('navigation', { name: 'Settings sections' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.waitForURL('**/settings/webhooks');
    expect(await screenshotBothWidths(page, 'webhooks-empty')).toBeLessThanOrEqual(0);

    await page.getByRole('link', { name: '+ Add webhook' }).click();
    await page.getByLabel('Endpoint URL').fill('hooks.example.com');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('#url-error').textContent()).toContain('Enter a full URL');
    expect(await page.locator('#events-error').textContent()).toBe('Choose at least one event type.');
    expect(await screenshotBothWidths(page, 'webhooks-invalid')).toBeLessThanOrEqual(0);

    await page.getByLabel('Endpoint URL').fill(receiver.url);
    await page.getByLabel('Description (optional)').fill('Ticketing system');
    await page.getByLabel('Exceptions notification').check();
    await page.getByLabel('Job failed').check();
    await page.getByRole('button', { name: 'Save' }).click();
    const secret = String(await page.getByTestId('webhook-secret').textContent()).trim();
    expect(secret).toMatch(/^whsec_/);
    expect(await screenshotBothWidths(page, 'webhooks-created')).toBeLessThanOrEqual(0);

    await page.getByRole('link', { name: 'I have copied the secret' }).click();
    expect(await page.locator('main').textContent()).not.toContain(secret);
    await page.getByRole('link', { name: `Open the webhook to ${receiver.url}` }).click();
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').filter({ hasText: 'Test event delivered: the endpoint answered 200.' }).waitFor();
    const [request] = receiver.received;
    const header = String(request?.headers['holdfast-signature']);
    expect(verifySignature(secret, header, String(request?.body), Math.floor(Date.now() / 1000))).toBe(true);
    expect(await page.getByRole('row').filter({ hasText: 'Delivered' }).textContent()).toContain('HTTP 200');

    receiver.failNext(1, 500);
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('alert').filter({ hasText: 'Test event not accepted (500)' }).waitFor();
    const waiting = page.getByRole('row').filter({ hasText: 'Waiting' });
    expect(await waiting.textContent()).toContain('HTTP 500');
    expect(await waiting.textContent()).toContain('receiver error 500');
    expect(await screenshotBothWidths(page, 'webhooks-log')).toBeLessThanOrEqual(0);

    await page.getByLabel('Description (optional)').fill('Ticketing desk');
    await page.getByLabel('Job succeeded').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Webhook saved.' }).waitFor();
    expect(await page.getByLabel('Job succeeded').isChecked()).toBe(true);

    await page.goto(`${appliance.url}/settings/webhooks`);
    expect(await page.getByRole('row').filter({ hasText: 'Ticketing desk' }).textContent()).toContain('Job succeeded');
    await page.getByRole('button', { name: `Remove the webhook to ${receiver.url}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Webhook to ${receiver.url} removed.` })
      .waitFor();
    expect(await page.getByRole('row').filter({ hasText: 'Ticketing desk' }).count()).toBe(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
