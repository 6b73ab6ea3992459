// Settings › API in a real browser against the real appliance: create a key (its scope form
// starting from the creator's rights), copy its secret
// from the page, use it from a program, see it listed without the secret, delete it.
// Screenshots at desktop and phone widths land in tests/.artifacts/screenshots/.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths } from '../helpers/e2e.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

// Long names on purpose: nothing may overflow.
const ORG = 'Northwind Managed Backup Services International Holdings and Partners GmbH & Co. KG';
const EMAIL = 'first.administrator.with.a.rather.long.name@northwind-managed-backup.example';
const PASSWORD = 'Correct-Horse-42-battery';

let browser: Browser;
let appliance: RunningProcess;
const dir = tempDir();

beforeAll(async () => {
  appliance = await startApplianceProcess(baseEnv(dir.path));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

/** Screenshots at 1280 and 390 px; nothing may be wider than the phone screen. */
async function shoot(page: Page, name: string): Promise<void> {
  expect(await screenshotBothWidths(page, name)).toBe(0);
}

describe('Settings › API in a browser', () => {
  it('creates a key whose secret is shown once and works, lists it, and deletes it after confirmation', async () => {
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);

    await page.goto(`${appliance.url}/setup`);
    await page.getByLabel('Organization name').fill(ORG);
    await page.getByLabel('Administrator email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    // Setup signs the administrator in.
    await page.waitForURL(`${appliance.url}/`);

    await page.goto(`${appliance.url}/settings/api`);
    expect(await page.getByRole('heading', { name: 'No API keys yet' }).isVisible()).toBe(true);
    await shoot(page, 'settings-api-empty');

    await page.getByRole('link', { name: '+ Create key' }).click();
    await page.getByRole('heading', { name: 'Create API key' }).waitFor();
    // The scope starts as everything the creator holds: here an administrator's.
    expect(await page.getByRole('radio', { name: /^Administrator/ }).isChecked()).toBe(true);
    await shoot(page, 'settings-api-new-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('heading', { name: 'Your new API key' }).waitFor();
    const clientId = (await page.getByTestId('client-id').textContent())?.trim() as string;
    const secret = (await page.getByTestId('client-secret').textContent())?.trim() as string;
    expect(clientId).toMatch(/^hfk_/);
    expect(secret).toHaveLength(43);
    // One click selects the whole secret, ready to copy.
    await page.getByTestId('client-secret').click();
    expect(await page.evaluate('String(window.getSelection())')).toBe(secret);
    await shoot(page, 'settings-api-created');

    // A program uses the copied credentials.
    const tokenRes = await fetch(`${appliance.url}/api/v1/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(tokenRes.status).toBe(200);
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    const keys = await fetch(`${appliance.url}/api/v1/audit?activity=API%20key%20created`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(keys.status).toBe(200);
    expect(((await keys.json()) as { total: number }).total).toBe(1);

    await page.getByRole('link', { name: 'I have copied the secret' }).click();
    await page.waitForURL('**/settings/api');
    expect(await page.content()).not.toContain(secret);
    expect(await page.locator('td[data-label="Client ID"] code').textContent()).toBe(clientId);
    expect(await page.locator('td[data-label="Last used"]').textContent()).toContain('UTC');
    expect(await page.locator('td[data-label="Scope"]').textContent()).toContain('Administrator');
    expect(await page.locator('td[data-label="Status"]').textContent()).toContain('Active');
    await shoot(page, 'settings-api-list');

    await page.getByRole('link', { name: `Delete API key ${clientId}` }).click();
    await page.getByRole('heading', { name: `Delete API key ${clientId}?` }).waitFor();
    await shoot(page, 'settings-api-confirm-delete');
    await page.getByRole('button', { name: 'Delete key' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `API key ${clientId} deleted.` })
      .waitFor();
    expect(await page.getByRole('heading', { name: 'No API keys yet' }).isVisible()).toBe(true);

    const after = await fetch(`${appliance.url}/api/v1/audit`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(after.status).toBe(401);
    expect(appliance.stdout()).not.toContain(secret);
    expect(appliance.stdout()).not.toContain(access_token);

    // The API reference lists the endpoints of this page's keys, readable on a phone too.
    await page.goto(`${appliance.url}/api/v1/docs`);
    expect(await page.getByRole('heading', { name: 'Authentication' }).isVisible()).toBe(true);
    expect(await page.locator('code', { hasText: '/api/v1/oauth/token' }).first().isVisible()).toBe(true);
    await shoot(page, 'api-reference');

    expect(consoleErrors.join('\n')).toBe('');
    await context.close();
  });
});
