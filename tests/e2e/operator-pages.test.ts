// Pages an operator meets on an appliance started as the README says, without a Dropbox app: the
// add-task page says up front that Dropbox is not configured, what to set and the redirect URI to
// register. Every page is captured at 1280 and 390 px (tests/.artifacts/screenshots/) and
// checked for sideways overflow on the narrow screen.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, setupAdministrator, signInPage } from '../helpers/e2e.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

let browser: Browser;
let appliance: RunningProcess;
const dir = tempDir();

beforeAll(async () => {
  appliance = await startApplianceProcess(baseEnv(dir.path));
  await setupAdministrator(appliance.url);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

describe('an appliance without a Dropbox app', () => {
  it('says on the add-task page, before any form, what to set and which redirect URI to register', async () => {
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, appliance.url);
    await page.goto(`${appliance.url}/tasks/new?service=dropbox`);
    await page.getByRole('heading', { name: 'Dropbox is not configured on this appliance yet' }).waitFor();
    await page.getByText('HOLDFAST_DROPBOX_APP_KEY', { exact: true }).waitFor();
    await page.getByText('HOLDFAST_DROPBOX_APP_SECRET', { exact: true }).waitFor();
    await page.getByText(`${appliance.url}/tasks/oauth/callback`, { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Continue to Dropbox' }).count()).toBe(0);
    expect(await screenshotBothWidths(page, 'dropbox-not-configured')).toBe(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});

/** At most this much of the folded page's height per operation (its summary line and its tag's share of headings and intros). */
const PIXELS_PER_FOLDED_OPERATION = 90;

describe('the API reference', () => {
  it('opens on a table of contents, with each operation folded and its Markdown rendered', async () => {
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, appliance.url);
    await page.goto(`${appliance.url}/api/v1/docs`);
    const toc = page.getByRole('navigation', { name: 'Contents' });
    await toc.getByRole('link', { name: 'Jobs' }).click();
    await page.waitForURL(/#tag-jobs$/);
    // Folded: a page to scan, a line or two per operation, not one of tens of thousands of pixels.
    const operations = await page.locator('details.operation').count();
    expect(operations).toBeGreaterThan(100);
    expect(await page.locator('details.operation[open]').count()).toBe(0);
    const height = (await page.evaluate('document.documentElement.scrollHeight')) as number;
    expect(height / operations).toBeLessThan(PIXELS_PER_FOLDED_OPERATION);
    expect(await page.locator('body').innerText()).not.toContain('`');
    const first = page.locator('#tag-jobs details.operation').first();
    await first.locator('summary').click();
    expect(await first.getAttribute('open')).toBe('');
    await page.locator('.lead code', { hasText: '{error:{code,message}}' }).waitFor();
    expect(await screenshotBothWidths(page, 'api-reference-contents')).toBe(0);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });
});
