// Single sign-on in Chromium against a real OpenID provider on loopback (oidc-provider, with its
// development login and consent pages): the administrator adds the provider and verifies the
// e-mail domain through a DNS server on loopback; an invited user types their e-mail on the
// login page, continues at the provider, and comes back signed in; the users list then shows
// how each user signs in. Screenshots of the settings page, the e-mail-first login page and the
// users list at 1280 and 390 px.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DnsTxtServer, startDnsTxtServer } from '../fakes/dns-txt-server.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir } from '../helpers/config.ts';
import { consoleErrorsOf, DESKTOP, screenshotBothWidths, setupAdministrator, signInPage } from '../helpers/e2e.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';

let browser: Browser;
let appliance: RunningProcess;
let dns: DnsTxtServer;
let idp: Server;
let issuer: string;
let idpHandler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
const dir = tempDir();
const CLIENT_SECRET = 'e2e-client-secret-0123456789';

/** The accounts of the identity provider: its development login page takes any account id. */
function findAccount(_ctx: unknown, id: string) {
  return {
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@acme.example`, email_verified: true, name: `${id} (IdP)` }),
  };
}

beforeAll(async () => {
  dns = await startDnsTxtServer();
  // The provider's port first: its client's redirect URI is known only once Holdfast saved it.
  idp = createServer((req, res) => {
    if (idpHandler) idpHandler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  appliance = await startApplianceProcess(
    baseEnv(dir.path, { HOLDFAST_SSO_ALLOW_LOOPBACK: 'true', HOLDFAST_SSO_DNS_SERVERS: dns.address }),
  );
  await setupAdministrator(appliance.url);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  await new Promise<void>((resolve) => (idp ? idp.close(() => resolve()) : resolve()));
  await dns?.close();
  dir.remove();
});

describe('OpenID Connect single sign-on in a browser', () => {
  it('configures a provider, then signs an invited user in through it from the e-mail-first login page', async () => {
    const admin = await newBrowserContext(browser, { viewport: DESKTOP });
    const page = await admin.newPage();
    page.on('dialog', (d) => void d.accept());
    const errors = consoleErrorsOf(page);
    await signInPage(page, appliance.url);

    // Settings › Security › Single sign-on: add the provider.
    await page.goto(`${appliance.url}/settings/security`);
    await page.getByRole('link', { name: 'Single sign-on settings' }).click();
    await page.getByRole('link', { name: '+ Add identity provider' }).click();
    await page.getByLabel('Name on the sign-in button').fill('Acme ID');
    await page.getByLabel('Identity provider', { exact: true }).selectOption('oidc');
    await page.getByLabel('Issuer URL — Okta and other providers').fill(issuer);
    await page.getByLabel('Client ID').fill('holdfast-e2e');
    await page.getByLabel('Client secret').fill(CLIENT_SECRET);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Acme ID has been added' }).waitFor();
    const redirectUri = await page.locator('#callbackUrl').inputValue();
    expect(redirectUri).toMatch(new RegExp(`^${appliance.url}/sso/callback/[0-9a-f-]{36}$`));
    expect(await screenshotBothWidths(page, 'sso-provider-form')).toBeLessThanOrEqual(0);

    // The identity provider learns the redirect URI, as an administrator would register it.
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'holdfast-e2e',
          client_secret: CLIENT_SECRET,
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      findAccount,
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      cookies: { keys: ['e2e-cookie-key-0123456789abcdef'] },
      pkce: { required: () => true },
    });
    idpHandler = provider.callback();

    // The e-mail domain, verified by its TXT record.
    await page.goto(`${appliance.url}/settings/security/sso`);
    await page.getByLabel('Add a domain').fill('acme.example');
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page.getByRole('status').filter({ hasText: 'Publish the TXT record' }).waitFor();
    const txt = (await page.locator('td[data-label="TXT record"] code').first().textContent()) as string;
    dns.records.set('acme.example', [txt]);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('status').filter({ hasText: 'acme.example is verified' }).waitFor();
    expect(await screenshotBothWidths(page, 'sso-settings')).toBeLessThanOrEqual(0);

    // Ana is invited (invite-only: her first SSO sign-in must match this user).
    await page.goto(`${appliance.url}/settings/users/new`);
    await page.getByLabel('Email').fill('ana@acme.example');
    await page.getByLabel('Restore').check();
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.waitForURL('**/settings/users');

    // Ana, in her own browser: e-mail first, then the provider.
    const ana = await newBrowserContext(browser, { viewport: DESKTOP });
    const anaPage = await ana.newPage();
    // Console errors of Holdfast's pages (the provider's development pages load fonts from the internet).
    const anaErrors: string[] = [];
    anaPage.on('console', (m) => {
      if (m.type() === 'error' && m.location().url.startsWith(appliance.url)) anaErrors.push(m.text());
    });
    await anaPage.goto(`${appliance.url}/login`);
    expect(await screenshotBothWidths(anaPage, 'sso-login-email-first')).toBeLessThanOrEqual(0);
    await anaPage.getByLabel('Email').fill('ana@acme.example');
    await anaPage.getByRole('button', { name: 'Continue' }).click();
    const choice = anaPage.getByRole('link', { name: 'Continue with Acme ID' });
    await choice.waitFor();
    expect(await screenshotBothWidths(anaPage, 'sso-login-choice')).toBeLessThanOrEqual(0);
    await choice.click();
    // oidc-provider's development login and consent pages.
    await anaPage.waitForURL(`${issuer}/**`);
    await anaPage.locator('input[name="login"]').fill('ana');
    await anaPage.locator('input[name="password"]').fill('anything');
    await anaPage.locator('button[type="submit"]').click();
    await anaPage
      .locator('button[type="submit"]')
      .filter({ hasText: /Continue/i })
      .click();
    await anaPage.waitForURL(`${appliance.url}/`);
    expect(await anaPage.content()).toContain('ana@acme.example');

    // The users list: Ana signs in with the provider (OpenID Connect), the administrator with e-mail.
    await page.goto(`${appliance.url}/settings/users`);
    const anaRow = page.locator('tr', { hasText: 'ana@acme.example' });
    expect(await anaRow.locator('td[data-label="Sign-in"]').textContent()).toContain('OpenID Connect');
    expect(await anaRow.locator('td[data-label="Status"]').textContent()).toContain('Active');
    expect(await screenshotBothWidths(page, 'sso-users-list')).toBeLessThanOrEqual(0);
    await anaRow.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Linked identities' }).waitFor();
    expect(await page.locator('td[data-label="Identity"]').textContent()).toBe('ana@acme.example');
    expect(await screenshotBothWidths(page, 'sso-user-identities')).toBeLessThanOrEqual(0);
    await page.goto(`${appliance.url}/activity/security-audit`);
    expect(await page.content()).toContain('Signed in with single sign-on through Acme ID (OpenID Connect)');

    // Require SSO, the administrator named break-glass: Ben (invited) types his e-mail and is
    // sent on to the provider by the page; the administrator still signs in with a password.
    await page.goto(`${appliance.url}/settings/users/new`);
    await page.getByLabel('Email').fill('ben@acme.example');
    await page.getByLabel('Restore').check();
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.waitForURL('**/settings/users');
    await page.goto(`${appliance.url}/settings/security/sso`);
    await page.getByLabel('Require single sign-on').check();
    await page.getByLabel(/Break-glass administrator/).fill(ADMIN.email);
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('status').filter({ hasText: 'The sign-in policy has been saved.' }).waitFor();
    const ben = await newBrowserContext(browser, { viewport: DESKTOP });
    const benPage = await ben.newPage();
    await benPage.goto(`${appliance.url}/login`);
    await benPage.getByLabel('Email').fill('ben@acme.example');
    await benPage.getByRole('button', { name: 'Continue' }).click();
    await benPage.waitForURL(`${issuer}/**`);
    await benPage.locator('input[name="login"]').fill('ben');
    await benPage.locator('input[name="password"]').fill('anything');
    await benPage.locator('button[type="submit"]').click();
    await benPage
      .locator('button[type="submit"]')
      .filter({ hasText: /Continue/i })
      .click();
    await benPage.waitForURL(`${appliance.url}/`);
    expect(await benPage.content()).toContain('ben@acme.example');
    await ben.close();
    // The break-glass administrator's domain sends them to the provider too; /login?password=1 does not.
    const breakGlass = await newBrowserContext(browser, { viewport: DESKTOP });
    const glassPage = await breakGlass.newPage();
    await glassPage.goto(`${appliance.url}/login?password=1`);
    await glassPage.getByLabel('Email').fill(ADMIN.email);
    await glassPage.getByLabel('Password').fill(ADMIN.password);
    await glassPage.getByRole('button', { name: 'Sign in' }).click();
    await glassPage.waitForURL(`${appliance.url}/`);
    await breakGlass.close();

    expect(errors).toEqual([]);
    expect(anaErrors).toEqual([]);
    await ana.close();
    await admin.close();
  });
});
