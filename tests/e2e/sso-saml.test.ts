// SAML in Chromium against a real appliance process and a real IdP (samlify on loopback,
// tests/helpers/saml-idp.ts) on another site (idp.test, mapped to loopback by Chromium's host
// resolver): an administrator adds the IdP on Settings › Security › Single sign-on from Okta's
// App Embed Link and hands the SP metadata the page offers to the IdP; then the login page asks
// for the e-mail, offers the organization's IdP, the IdP posts its
// signed answer back across sites — where a SameSite=Lax cookie does not follow, so the appliance
// posts it once more from its own origin — and the person is signed in. Someone the IdP vouches
// for but who has no account here is refused with the reason, and the Security audit has both.
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../core/audit/entities.ts';
import { type Database, openDatabase } from '../../core/db/database.ts';
import type { IOrganization } from '../../core/identity/entities.ts';
import { SsoDomain } from '../../core/identity/sso/entities.ts';
import { samlSpEndpoints, samlSpMetadata } from '../../core/identity/sso/saml/saml-service-provider.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir, testConfig } from '../helpers/config.ts';
import { consoleErrorsOf, screenshotBothWidths, setupAdministrator, signInPage } from '../helpers/e2e.ts';
import { ADMIN } from '../helpers/kernel.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';
import { type SamlTestIdp, startSamlIdp } from '../helpers/saml-idp.ts';
import { makeUser, rootOf } from '../helpers/tenants.ts';

const IDP_HOST = 'idp.test';

let browser: Browser;
let appliance: RunningProcess;
let db: Database;
let idp: SamlTestIdp;
let org: IOrganization;
const dir = tempDir();

beforeAll(async () => {
  appliance = await startApplianceProcess(baseEnv(dir.path, { HOLDFAST_SSO_ALLOW_LOOPBACK: 'true' }));
  await setupAdministrator(appliance.url);
  idp = await startSamlIdp(samlSpMetadata(samlSpEndpoints(appliance.url, 'pending')), undefined, undefined, IDP_HOST);
  // An invited user of the administrator's organization and its verified e-mail domain, written to
  // the appliance's database (DNS verification needs a resolver this machine does not have).
  db = await openDatabase(testConfig(dir.path));
  const em = db.em.fork();
  org = await rootOf(em);
  await makeUser(em, org, 'carol@okta-customer.example');
  em.create(SsoDomain, {
    organization: org,
    domain: 'okta-customer.example',
    token: randomBytes(16).toString('hex'),
    verifiedAt: new Date(),
    verifiedBy: 'dns',
  });
  await em.flush();
  browser = await launchChromium([`--host-resolver-rules=MAP ${IDP_HOST} 127.0.0.1`]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await idp?.close();
  await db?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  dir.remove();
});

describe('SAML sign-in in a browser', () => {
  it('adds the IdP from Okta’s App Embed Link and shows the ACS URL, entity ID and SP metadata to copy', async () => {
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = consoleErrorsOf(page);
    await signInPage(page, appliance.url);
    await page.goto(`${appliance.url}/settings/security/sso`);
    await page.getByRole('link', { name: '+ Add SAML provider' }).click();
    await page.getByLabel('Name on the sign-in button').fill('Okta');
    // Something that is not an embed link first: the field says what to paste.
    await page.getByLabel('Okta App Embed Link').fill(`${appliance.url}/app/UserHome`);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect
      .poll(() => page.locator('#oktaLink-error').textContent())
      .toContain('This is not an Okta App Embed Link');
    expect(await screenshotBothWidths(page, 'sso-saml-provider-error')).toBeLessThanOrEqual(0);
    // The appliance reads the IdP's metadata by address; the browser reaches the IdP by name.
    await page.getByLabel('Okta App Embed Link').fill(idp.loopbackEmbedLink);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/settings\/security\/sso\/providers\/[0-9a-f-]{36}$/);
    const providerId = page.url().split('/').pop() as string;
    expect(await page.locator('#callbackUrl').inputValue()).toBe(`${appliance.url}/sso/callback/${providerId}`);
    const entityId = await page.locator('#serviceProviderId').inputValue();
    expect(entityId).toBe(`${appliance.url}/sso/metadata/${providerId}`);
    expect(await page.getByText(idp.entityId).count()).toBe(1);
    // The SP's own certificate (made at the first save) and single logout URL, to copy.
    expect(await page.locator('#spCertificate').inputValue()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(await page.locator('#sloUrl').inputValue()).toBe(`${appliance.url}/sso/logout/${providerId}`);
    await page.getByLabel('Sign authentication requests').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/settings\/security\/sso$/);
    await page.goto(`${appliance.url}/settings/security/sso/providers/${providerId}`);
    expect(await page.getByLabel('Sign authentication requests').isChecked()).toBe(true);
    expect(await screenshotBothWidths(page, 'sso-saml-provider')).toBeLessThanOrEqual(0);
    // Settings › Security shows each sign-in method's state, as the seed's page does.
    await page.goto(`${appliance.url}/settings/security`);
    expect((await page.getByRole('list', { name: /Sign-in methods/ }).innerText()).replace(/\s+/g, ' ').trim()).toBe(
      'Email & Password: Active SAML: Active',
    );
    expect(await screenshotBothWidths(page, 'security-sign-in-methods')).toBeLessThanOrEqual(0);
    expect(errors.filter((e) => !/status of 422/.test(e))).toEqual([]);
    await context.close();
    // What the administrator hands to the IdP: the SP metadata at the entity ID.
    const metadata = await fetch(entityId);
    expect(metadata.headers.get('content-type')).toBe('application/samlmetadata+xml; charset=utf-8');
    const spMetadata = await metadata.text();
    expect(spMetadata).toContain('AuthnRequestsSigned="true"');
    idp.setServiceProvider(spMetadata);
  });

  it('signs an invited user in through the IdP, across sites, from the e-mail-first login page', async () => {
    idp.signInAs = { email: 'carol@okta-customer.example', nameId: '00u-carol', firstName: 'Carol' };
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = consoleErrorsOf(page);
    const callbackPosts: { from: string | undefined; resubmitted: boolean }[] = [];
    page.on('request', (r) => {
      if (r.method() !== 'POST' || !r.url().includes('/sso/callback/')) return;
      const fields = new URLSearchParams(r.postData() ?? '');
      callbackPosts.push({ from: r.headers().origin, resubmitted: fields.get('holdfast_resubmitted') === '1' });
    });
    await page.goto(`${appliance.url}/login`);
    await page.getByLabel('Email').fill('carol@okta-customer.example');
    await page.getByRole('button', { name: 'Continue' }).click();
    const offer = page.getByRole('link', { name: 'Continue with Okta' });
    await offer.waitFor();
    expect(await screenshotBothWidths(page, 'sso-saml-login')).toBeLessThanOrEqual(0);

    await offer.click();
    await page.waitForURL(`${appliance.url}/`);
    expect(idp.requests).toHaveLength(1);
    // Posted by the IdP's page (another site: no binding cookie), then again from the appliance's.
    expect(callbackPosts).toEqual([
      { from: idp.origin, resubmitted: false },
      { from: appliance.url, resubmitted: true },
    ]);
    expect(await page.content()).toContain('carol@okta-customer.example');
    expect(await screenshotBothWidths(page, 'sso-saml-signed-in')).toBeLessThanOrEqual(0);
    expect(errors).toEqual([]);
    await context.close();

    const audit = await db.em
      .fork()
      .findOneOrFail(
        AuditEvent,
        { account: 'carol@okta-customer.example', activity: 'Sign-in', status: { $ne: 'failed' } },
        { orderBy: { id: 'desc' } },
      );
    expect(audit.description).toMatch(/^Signed in with single sign-on through Okta \(Okta\)/);
  });

  it('refuses someone the IdP vouches for who has no account here, and says why', async () => {
    idp.signInAs = { email: 'mallory@okta-customer.example' };
    const context = await newBrowserContext(browser, { viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${appliance.url}/login`);
    await page.getByLabel('Email').fill('mallory@okta-customer.example');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('link', { name: 'Continue with Okta' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain(
      `Single sign-on failed. There is no account for mallory@okta-customer.example in ${ADMIN.organizationName}. Ask an administrator to invite you.`,
    );
    expect(await screenshotBothWidths(page, 'sso-saml-refused')).toBeLessThanOrEqual(0);
    await context.close();
    const failed = await db.em.fork().count(AuditEvent, {
      account: 'mallory@okta-customer.example',
      activity: 'Sign-in',
      status: 'failed',
    });
    expect(failed).toBe(1);
  });
});
