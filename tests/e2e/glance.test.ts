// The daily glance in a real browser (the test service, jobs in worker threads): the task page
// following a Backup now without a reload (header, Summary tiles, chart), its status filter
// offering only what exists, times in the reader's zone with UTC on hover, banners shown once
// and never taken from the URL, and every page
// route laid out without sideways overflow at 1024 and 1280 px, with every section of the
// navigation on screen at 390 px. The page routes are the app's own GET routes; each is visited
// (following the pages' links and GET forms) or listed below with the reason it is not a page.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../core/access/api-keys.ts';
import { addIpRule } from '../../core/access/ip-rules.ts';
import { principalForUser } from '../../core/access/principal.ts';
import { createLocation } from '../../core/storage-locations/locations.ts';
import { type ApplianceWithTask, startApplianceWithTask } from '../helpers/appliance-task.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, PHONE, screenshotBothWidths, signInPage } from '../helpers/e2e.ts';
import { ADMIN, createTestApp } from '../helpers/kernel.ts';
import { makeOrganization } from '../helpers/tenants.ts';

const LONG_ACCOUNT = 'Fabrikam Research and Development Laboratories (Northern Europe and Baltics)';
const TASK_NAME = 'Glance: Northwind Traders international holdings, EMEA regional office team';
const dir = tempDir();
let browser: Browser;
let setup: ApplianceWithTask;
let routes: string[];

beforeAll(async () => {
  setup = await startApplianceWithTask(dir.path, TASK_NAME, {
    account: 'northwind-traders-international-holdings-emea-regional-office',
    items: 4,
  });
  browser = await launchChromium();
  const app = await createTestApp();
  routes = [...new Set(app.app.routes.filter((r) => r.method === 'GET').map((r) => r.path))];
  await app.close();
  // A customer account with a long name, so the portal's account pages are walked too.
  const em = setup.kernel.orm.em.fork();
  const root = em.merge(setup.admin.organization);
  await makeOrganization(em, root, 'customer', LONG_ACCOUNT);
  // An IP rule (restrictions stay off), an API key and a second storage location: their pages too.
  await addIpRule(em, root, { description: 'Head office, Northwind Traders international', addresses: '127.0.0.1' });
  const admin = principalForUser(em.merge(setup.admin));
  await createApiKey(em, root, admin, { label: ADMIN.email });
  await createLocation(
    { em, credentials: setup.kernel.credentials, storageDir: join(dir.path, 'storage') },
    root,
    { name: 'Second disk in the rack', kind: 'local', settings: { path: join(dir.path, 'second-disk') } },
    'form',
    { label: ADMIN.email },
    new Date(),
  );
});

afterAll(async () => {
  await browser?.close();
  await setup?.close();
  dir.remove();
});

/** The "Last backup" fact of the task page's header. */
function lastBackupFact(page: Page): Promise<string> {
  return page.locator('.task-facts div').filter({ hasText: 'Last backup' }).locator('dd').innerText();
}

// GET routes that are not pages a signed-in user lays out, and why.
const NOT_PAGES: Record<string, string> = {
  '/healthz': 'probe',
  '/readyz': 'probe',
  '/metrics': 'Prometheus exposition for the scraper (metrics.test.ts)',
  '/static/:file{.+}': 'asset',
  '/favicon.ico': 'asset',
  '/setup': 'redirects once set up (first-run.test.ts)',
  '/setup/recover': 'redirects once set up (recovery-proofs.test.ts)',
  '/login': 'signed-out page (first-run.test.ts)',
  '/confirm-email/:token': 'needs a mailed token',
  '/forgot-password': 'signed-out page',
  '/reset-password/:token': 'needs a mailed token',
  '/login/two-factor': 'sign-in step (two-factor.test.ts)',
  '/login/two-factor/setup': 'sign-in step (two-factor.test.ts)',
  '/login/new-password': 'sign-in step',
  '/settings': 'redirects to a settings tab',
  '/activity/export.csv': 'download',
  '/activity/security-audit/export.csv': 'download',
  '/tasks/oauth/callback': 'OAuth redirect target',
  '/sso/metadata/:providerId': 'SAML SP metadata (XML) that identity providers read (sso-saml.test.ts)',
  '/sso/start/:providerId': 'redirect to the identity provider (sso-oidc.test.ts, sso-saml.test.ts)',
  '/sso/callback/:providerId': "the identity provider's answer (sso-oidc.test.ts, sso-saml.test.ts)",
  '/sso/logout/:providerId': "the identity provider's single logout request and answer (saml-flow.test.ts)",
  '/settings/security/sso/providers/:id': "a provider's form (looked at in sso-oidc.test.ts)",
  '/settings/integrations/:id/companies/:accountId': 'PSA company picker (looked at in psa-integration.test.ts)',
  '/tasks/:id/entities/:entityId/row': 'htmx fragment',
  '/tasks/:id/discovery': 'htmx fragment',
  '/tasks/:id/live': 'htmx fragment',
  '/jobs.csv': 'download',
  '/tasks/:id/usage.csv': 'download',
  '/portal/usage.csv': 'download',
  '/portal/accounts/:id/row': 'htmx fragment (the pencil’s Cancel)',
  '/accounts/search': 'htmx fragment (account type-ahead)',
  '/recovery/tasks/:taskId/entities/:entityId/snapshots/:snapshotId/item':
    'linked from services that present items as fields (salesforce.test.ts)',
  '/jobs/:id/live': 'htmx fragment',
  '/settings/storage/:id/verification/jobs': 'htmx fragment (storage-verification.test.ts)',
  '/settings/notifications/:id/edit': 'a recipient of its own (notifications.test.ts)',
  '/settings/webhooks/:id': 'an endpoint of its own (webhooks.test.ts)',
  '/settings/integrations/:id': 'an integration of its own (integrations.test.ts)',
  '/compare/:jobId{[^/]+\\.csv}': 'download',
  '/compare/:jobId': 'a compare job of a service that presents fields (salesforce-compare.test.ts)',
  '/compare/:jobId/objects/:index': 'a compare job (salesforce-compare.test.ts)',
  '/compare/:jobId/objects/:index/diff': 'a compare job (salesforce-compare.test.ts)',
  '/recovery/tasks/:taskId/export': 'objects chosen on the task page first (salesforce-export.test.ts)',
  '/tasks/:id/replicate': 'services that replicate (salesforce-replicate.test.ts)',
  '/tasks/:id/replicate/template.csv': 'download',
  '/tasks/:id/smart-alerts': 'services that offer smart alerts (smart-alerts-page.test.ts)',
  '/tasks/:id/smart-alerts/new': 'services that offer smart alerts (smart-alerts-page.test.ts)',
  '/tasks/:id/smart-alerts/:alertId/edit': 'services that offer smart alerts (smart-alerts-page.test.ts)',
  '/reports/summary/:file': 'download',
  '/jobs/:id/download': 'download',
  '/billing/invoices.csv': 'download',
  '/billing/invoice-lines.csv': 'download',
  '/billing/invoices/:id/pdf': 'download',
  '/billing/plans/:id': 'a plan of its own (billing.test.ts)',
  '/billing/invoices/:id': 'an invoice of its own (billing.test.ts)',
};

const API_REFERENCE = '/api/v1/docs';

// Words no page shows (issue 15, item 7); the API reference names the API's own fields.
const NOT_WORDS: Record<string, RegExp> = {
  'the kernel noun': /\bentit(y|ies)\b/i,
  operator: /\boperators?\b/i,
  'changes as signs': /(^|\s)[+~−]\d+\b/m,
  'a hex id': /\b[0-9a-f]{8,}\b/,
  'an ISO date': /\b\d{4}-\d{2}-\d{2}\b/,
};

/** Whether a concrete path matches a router pattern such as /tasks/:id/settings. */
function matches(pattern: string, path: string): boolean {
  const re = new RegExp(`^${pattern.replace(/:[A-Za-z]+(\{[^}]*\})?/g, '[^/]+')}$`);
  return re.test(path);
}

// Elements that clip or scroll content wider than themselves (text truncated with an ellipsis
// is by design), tables wider than their box, and the document scrolling sideways.
const LAYOUT_PROBLEMS = `(() => {
  const out = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const doc = document.documentElement.scrollWidth - window.innerWidth;
  if (doc > 0) out.push('document scrolls sideways by ' + doc + ' px');
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg')) continue;
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.textOverflow === 'ellipsis') continue;
    if (el.clientWidth > 1 && el.scrollWidth > el.clientWidth + 1 && cs.overflowX !== 'visible') {
      out.push(name(el) + ' holds ' + el.scrollWidth + ' px in ' + el.clientWidth + ' px');
    }
    if (el.tagName === 'TABLE' && el.parentElement && el.getBoundingClientRect().width > el.parentElement.clientWidth + 1) {
      out.push(name(el) + ' is ' + Math.round(el.getBoundingClientRect().width) + ' px in ' + el.parentElement.clientWidth + ' px');
    }
  }
  return out;
})()`;

describe('the daily glance in a browser', () => {
  it("follows Backup now live on the task page in the reader's time zone and shows its banner once", async () => {
    const { appliance, task, entity } = setup;
    // A reader in Zürich: times show in their zone (CET in December), UTC on hover.
    const context = await newBrowserContext(browser, { viewport: DESKTOP, timezoneId: 'Europe/Zurich' });
    const page = await context.newPage();
    const consoleErrors = consoleErrorsOf(page);
    await signInPage(page, appliance.url);
    const taskUrl = `${appliance.url}/tasks/${task.id}`;
    await page.goto(taskUrl);
    expect(await lastBackupFact(page)).toBe('Never');
    // The status filter offers only what some entry has: one entity, one status.
    expect(await page.locator('#status option').count()).toBe(2);
    await screenshotBothWidths(page, 'glance-task-before');

    await page.getByLabel(`Select ${entity.name}`).check();
    await page.getByRole('button', { name: 'Backup now' }).click();
    await page.getByText('1 queued for backup now.').waitFor();
    // A mark on the window survives only if the page is never reloaded.
    await page.evaluate('window.__stillThisPage = true');

    await expect.poll(() => lastBackupFact(page), { interval: 500 }).not.toBe('Never');
    await page.locator('.tiles .status-counts .badge-success').filter({ hasText: '1 success' }).waitFor();
    await page.locator('rect.chart-bar').first().waitFor();
    expect(await page.evaluate('window.__stillThisPage === true')).toBe(true);
    const lastBackup = page.locator('.task-facts time').first();
    expect(await lastBackup.textContent()).toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (CET|GMT\+1)$/);
    expect(await lastBackup.getAttribute('title')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
    await screenshotBothWidths(page, 'glance-task-after-backup');

    // The banner was for that one page view.
    await page.reload();
    expect(await page.getByText('queued for backup now').count()).toBe(0);

    // Text in the URL is never shown as a banner.
    for (const path of ['/settings/account', '/settings/users', '/settings/api', '/settings/ip-restrictions', '/']) {
      await page.goto(`${appliance.url}${path}?notice=Crafted%20by%20a%20stranger&done=created`);
      expect({ path, shown: await page.getByText('Crafted by a stranger').count() }).toEqual({ path, shown: 0 });
      expect({ path, banners: await page.locator('.alert-success').count() }).toEqual({ path, banners: 0 });
    }
    expect(consoleErrors).toEqual([]);
    await context.close();
  });

  it('shows banners from the one-time flash only, never from keys in the URL', async () => {
    const { appliance } = setup;
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    await signInPage(page, appliance.url);
    // A customer account, added as an MSP would: its page greets it once.
    await page.goto(`${appliance.url}/portal/new`);
    await page.getByLabel('Account name').fill('Contoso Pharmaceuticals');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByText('The account has been added.').waitFor();
    const accountPage = new URL(page.url()).pathname;
    await page.reload();
    expect(await page.locator('.alert').count()).toBe(0);

    // Every key these pages once read from the URL, and free text: no banner at all.
    const crafted = [
      '/settings/storage?done=added',
      '/settings/security?done=password',
      '/settings/security?done=two-factor-off',
      `${accountPage}?done=invited`,
      `${accountPage}?done=invite-failed`,
      '/portal/new?added=1',
      '/jobs?started=restore',
      '/jobs?started=export',
      '/settings/profile?notice=Crafted%20by%20a%20stranger',
    ];
    for (const path of crafted) {
      await page.goto(`${appliance.url}${path}`);
      const banners = await page.locator('main .alert-success, main .alert-error').allTextContents();
      expect({ path, banners }).toEqual({ path, banners: [] });
    }
    await context.close();
  });

  it('offers in the Recovery, Activity and Jobs filters only values some row holds', async () => {
    const { appliance, task } = setup;
    await setup.backupAndWait();
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    await signInPage(page, appliance.url);
    // The filters of each list whose choices are values of its rows (accounts and order are not).
    const lists: [string, string[]][] = [
      [`/recovery/tasks/${task.id}`, ['status']],
      ['/activity', ['activity', 'service', 'status']],
      ['/activity/security-audit', ['activity', 'status']],
      ['/jobs', ['initiator', 'activity', 'service', 'status', 'task']],
    ];
    const empty: string[] = [];
    const offered: Record<string, string[]> = {};
    for (const [path, names] of lists) {
      await page.goto(`${appliance.url}${path}`);
      const choices: [string, string][] = [];
      for (const name of names) {
        const values = await page
          .locator(`main select[name="${name}"] option`)
          .evaluateAll((options) => options.map((o) => (o as unknown as { value: string }).value).filter(Boolean));
        for (const value of values) choices.push([name, value]);
      }
      // Each choice, applied alone, shows at least one row.
      for (const [name, value] of choices) {
        await page.goto(`${appliance.url}${path}?${new URLSearchParams({ [name]: value })}`);
        if ((await page.locator('main .empty-state').count()) > 0) empty.push(`${path} ${name}=${value}`);
        offered[path] = [...(offered[path] ?? []), `${name}=${value}`];
      }
    }
    expect(empty).toEqual([]);
    // Not vacuous: the backup left a success and a backup row, the sign-ins an audit entry.
    expect(offered[`/recovery/tasks/${task.id}`]).toContain('status=success');
    expect(offered['/activity']).toContain('status=succeeded');
    expect(offered['/activity/security-audit']).toContain('activity=Sign-in');
    await context.close();
  });

  it('shows dates in the time zone the user chose on their profile, UTC on hover', async () => {
    const { appliance, task } = setup;
    await setup.backupAndWait();
    // The browser says Zürich; the user reads in Tokyo.
    const context = await newBrowserContext(browser, { viewport: DESKTOP, timezoneId: 'Europe/Zurich' });
    const page = await context.newPage();
    await signInPage(page, appliance.url);
    // The address in the top bar leads to the user's own profile.
    await page.getByRole('link', { name: ADMIN.email }).click();
    const zone = page.getByLabel('Time zone');
    expect(await zone.locator('option:checked').textContent()).toBe("Browser's time zone (Europe/Zurich)");
    await zone.selectOption('Asia/Tokyo');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Dates are now shown in Asia/Tokyo.').waitFor();

    await page.goto(`${appliance.url}/tasks/${task.id}`);
    const lastBackup = page.locator('.task-facts time').first();
    expect(await lastBackup.textContent()).toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} GMT\+9$/);
    expect(await lastBackup.getAttribute('title')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
    // The fragments htmx swaps in follow the same zone.
    await page.goto(`${appliance.url}/activity`);
    expect(await page.locator('main time').first().textContent()).toMatch(/GMT\+9$/);

    // Back to the browser's own zone.
    await page.goto(`${appliance.url}/settings/profile`);
    await page.getByLabel('Time zone').selectOption('');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText("Dates are now shown in your browser's time zone.").waitFor();
    await page.goto(`${appliance.url}/tasks/${task.id}`);
    expect(await page.locator('.task-facts time').first().textContent()).toMatch(/(CET|GMT\+1)$/);
    await context.close();
  });

  it('lays out every page without overflow at 1024 and 1280 px and every section and tab at 390 px', async () => {
    const { appliance } = setup;
    await setup.backupAndWait();
    const context = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await context.newPage();
    await signInPage(page, appliance.url);

    // The API's routes answer JSON, except its reference page.
    const pages = routes.filter(
      (r) => !(r in NOT_PAGES) && (!r.startsWith('/api/v1/') || r === API_REFERENCE) && !r.startsWith('/logout'),
    );
    const visited = new Map<string, string>();
    // /settings only redirects to its first tab: start there too.
    const queue = ['/', '/settings/account', '/portal'];
    const seen = new Set<string>();
    // Follows the pages' own links, htmx sources and GET forms, keeping one URL per route.
    while (queue.length) {
      const path = queue.shift() as string;
      if (seen.has(path)) continue;
      seen.add(path);
      const route = pages.find((r) => matches(r, path.split('?')[0] as string));
      if (!route || visited.has(route)) continue;
      visited.set(route, path);
      await page.goto(`${appliance.url}${path}`);
      const links = (await page.evaluate(
        `[...document.querySelectorAll('a[href^="/"]')].map((a) => a.getAttribute('href'))
          .concat([...document.querySelectorAll('[hx-get^="/"]')].map((e) => e.getAttribute('hx-get')))
          .concat([...document.querySelectorAll('form[method="get"]')].flatMap((f) =>
            [f.getAttribute('action'), ...[...f.querySelectorAll('[formaction]')].map((b) => b.getAttribute('formaction'))]
              .filter((a) => a && a.startsWith('/'))
              .map((a) => a + '?' + new URLSearchParams(new FormData(f)).toString())))`,
      )) as string[];
      for (const href of links) queue.push(href.split('#')[0] as string);
    }
    const entity = visited.get('/recovery/tasks/:taskId/entities/:entityId') as string;
    expect(pages.filter((r) => !visited.has(r))).toEqual([]);

    const problems: string[] = [];
    // The item search's results, as its form asks for them.
    await page.goto(`${appliance.url}${entity}?mode=search`);
    await page.getByLabel('Word or phrase').fill('item');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('status').filter({ hasText: 'items found.' }).waitFor();
    const search = page.url().slice(appliance.url.length);
    for (const [route, path] of [...visited, ['item search', search] as const]) {
      await page.goto(`${appliance.url}${path}`);
      if (route !== API_REFERENCE) {
        const text = await page.locator('body').innerText();
        for (const [word, pattern] of Object.entries(NOT_WORDS)) {
          // The test service's connection setting is called "entities": a fake's word, not the product's.
          if (route === '/tasks/:id/reconnect' && word === 'the kernel noun') continue;
          const found = pattern.exec(text)?.[0];
          if (found) problems.push(`${route} says ${word}: "${found.trim()}"`);
        }
      }
      for (const width of [1024, 1280]) {
        await page.setViewportSize({ width, height: 800 });
        for (const p of (await page.evaluate(LAYOUT_PROBLEMS)) as string[]) problems.push(`${route} at ${width}: ${p}`);
      }
      await page.setViewportSize(PHONE);
      const offScreen = (await page.evaluate(
        `[...document.querySelectorAll('nav[aria-label="Main"] a, nav.tabs a')].filter((a) => { const r = a.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth; }).map((a) => a.textContent.trim())`,
      )) as string[];
      for (const label of offScreen) problems.push(`${route} at 390: ${label} is off screen`);
      await page.setViewportSize(DESKTOP);
    }
    await page.goto(`${appliance.url}${search}`);
    await screenshotBothWidths(page, 'glance-item-search');
    await page.goto(`${appliance.url}${visited.get('/recovery/tasks/:taskId')}`);
    await screenshotBothWidths(page, 'glance-recovery-entities');
    expect(problems).toEqual([]);
    await context.close();
  });
});
