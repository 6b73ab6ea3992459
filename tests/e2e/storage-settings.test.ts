// Settings › Storage in a real browser against the real appliance process and s3rver: add an S3
// location whose bucket is missing (the page names the cause, the secret field comes back
// empty), then a working one, edit it, set the default for new accounts, and see the portal's
// add-account form offer it. Every page is captured at 1280 and 390 px
// (tests/.artifacts/screenshots/) and checked for horizontal overflow on the narrow screen.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import {
  consoleErrorsOf,
  horizontalOverflow,
  setupAdministrator,
  screenshot as shoot,
  signInPage,
} from '../helpers/e2e.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../helpers/s3rver.ts';

const SECRET = 'browser-secret-never-shown-9f3a';
const LONG_NAME = 'European Union object storage for regulated healthcare customers (Frankfurt, replicated)';
let browser: Browser;
let appliance: RunningProcess;
let s3: LoopbackS3;
const dir = tempDir();

beforeAll(async () => {
  [appliance, s3] = await Promise.all([startApplianceProcess(baseEnv(dir.path)), startS3rver(['eu-backups'])]);
  await setupAdministrator(appliance.url);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  await s3?.stop();
  dir.remove();
});

async function fillS3(page: Page, bucket: string): Promise<void> {
  await page.getByLabel('Name', { exact: true }).fill(LONG_NAME);
  await page.getByLabel('S3-compatible endpoint URL').fill(s3.endpoint);
  await page.getByLabel('Bucket', { exact: true }).fill(bucket);
  await page.getByLabel('Access key id').fill(S3RVER_CREDENTIALS.accessKeyId);
  await page.getByLabel('Secret access key').fill(SECRET);
  await page.getByLabel('Path-style URLs').check();
}

describe('Settings › Storage in a browser', () => {
  it('adds, refuses, edits and offers storage locations', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page, /status of 422/);

    await signInPage(page, appliance.url);

    await page.goto(`${appliance.url}/settings`);
    await page.getByRole('navigation', { name: 'Settings sections' }).getByRole('link', { name: 'Storage' }).click();
    await page.waitForURL('**/settings/storage');
    expect(await page.locator('#current-location').textContent()).toBe('Local disk (built-in)');
    await shoot(page, 'storage-builtin-desktop');

    await page.getByRole('link', { name: '+ Add storage location' }).click();
    await page.waitForURL('**/settings/storage/new');
    await shoot(page, 'storage-new-desktop');
    await fillS3(page, 'missing-bucket');
    await page.getByRole('button', { name: 'Test and add' }).click();
    await expect
      .poll(() => page.locator('.connection-failure').textContent())
      .toMatch(/The bucket or container of s3:127\.0\.0\.1:\d+\/missing-bucket\/? does not exist/);
    expect(await page.getByLabel('Secret access key').inputValue()).toBe('');
    expect(await page.content()).not.toContain(SECRET);
    await shoot(page, 'storage-new-failed-desktop');

    await page.getByLabel('Bucket', { exact: true }).fill('eu-backups');
    await page.getByLabel('Secret access key').fill(SECRET);
    await page.getByRole('button', { name: 'Test and add' }).click();
    await page.waitForURL('**/settings/storage');
    expect(await page.getByRole('status').first().textContent()).toContain('passed its connection test');
    await page.getByRole('button', { name: 'Test' }).last().click();
    await page.waitForURL(/tested=/);
    expect(await page.content()).not.toContain(SECRET);
    await shoot(page, 'storage-list-desktop');

    await page.getByRole('link', { name: 'Edit' }).click();
    await page.waitForURL(/\/settings\/storage\/[0-9a-f-]+\/edit$/);
    expect(await page.locator('#secretAccessKey-hint').textContent()).toBe('Stored. Leave blank to keep it.');
    await shoot(page, 'storage-edit-desktop');
    await page.getByLabel('Name', { exact: true }).fill('EU object storage');
    await page.getByRole('button', { name: 'Test and save' }).click();
    await page.getByText('The storage location has been saved.').waitFor();

    await page.getByLabel('Default storage location').selectOption({ label: 'EU object storage' });
    await page.getByRole('button', { name: 'Save default' }).click();
    await page.getByText('The default for new accounts has been saved.').waitFor();
    expect(await page.locator('#default-location').textContent()).toBe('EU object storage');

    await page.goto(`${appliance.url}/portal/new`);
    expect(await page.getByLabel('Storage location').locator('option:checked').textContent()).toBe('EU object storage');
    await shoot(page, 'storage-portal-new-account-desktop');

    await page.setViewportSize({ width: 390, height: 844 });
    const editPath = await page.request
      .get(`${appliance.url}/settings/storage`)
      .then(async (r) => /href="(\/settings\/storage\/[0-9a-f-]+\/edit)"/.exec(await r.text())?.[1] as string);
    const narrow: [string, string][] = [
      ['/settings/storage', 'storage-list-narrow'],
      ['/settings/storage/new', 'storage-new-narrow'],
      ['/settings/storage/new?kind=azure', 'storage-new-azure-narrow'],
      [editPath, 'storage-edit-narrow'],
      ['/portal/new', 'storage-portal-new-account-narrow'],
    ];
    for (const [path, name] of narrow) {
      await page.goto(`${appliance.url}${path}`);
      const overflow = await horizontalOverflow(page);
      expect(overflow, `horizontal overflow on ${path}`).toBeLessThanOrEqual(0);
      await shoot(page, name);
    }
    await page.goto(`${appliance.url}/settings/storage/new`);
    await fillS3(page, 'missing-bucket');
    await page.getByRole('button', { name: 'Test and add' }).click();
    await expect.poll(() => page.locator('.connection-failure').count()).toBe(1);
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await shoot(page, 'storage-new-failed-narrow');

    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
