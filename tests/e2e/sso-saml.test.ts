// SAML sign-in in Chromium against a real appliance process and a real IdP (samlify on loopback,
// tests/helpers/saml-idp.ts) on another site (idp.test, mapped to loopback by Chromium's host
// resolver): the login page asks for the e-mail, offers the organization's IdP, the IdP posts its
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
import { createProvider } from '../../core/identity/sso/providers.ts';
import { samlSpEndpoints, samlSpMetadata } from '../../core/identity/sso/saml/saml-service-provider.ts';
import { createCredentialCipher } from '../../core/secrets/credential-cipher.ts';
import { launchChromium, newBrowserContext } from '../helpers/browser.ts';
import { tempDir, testConfig } from '../helpers/config.ts';
import { consoleErrorsOf, screenshotBothWidths, setupAdministrator } from '../helpers/e2e.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../helpers/process.ts';
import { type SamlTestIdp, startSamlIdp } from '../helpers/saml-idp.ts';
import { makeOrganization, makeUser, rootOf } from '../helpers/tenants.ts';

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
  // The organization, its invited user, its verified domain and its IdP, written to the appliance's
  // database (the provider as the settings page saves it: from the IdP's metadata XML).
  db = await openDatabase(testConfig(dir.path));
  const em = db.em.fork();
  org = await makeOrganization(em, await rootOf(em), 'customer', 'Okta Customer');
  await makeUser(em, org, 'carol@okta-customer.example');
  em.create(SsoDomain, {
    organization: org,
    domain: 'okta-customer.example',
    token: randomBytes(16).toString('hex'),
    verifiedAt: new Date(),
    verifiedBy: 'dns',
  });
  await em.flush();
  idp = await startSamlIdp(samlSpMetadata(samlSpEndpoints(appliance.url, 'pending')), undefined, undefined, IDP_HOST);
  const provider = await createProvider(
    em,
    org,
    { protocol: 'saml', name: 'Okta', settings: { metadataXml: idp.metadataXml } },
    // SAML providers keep no secrets, so nothing is sealed with this cipher.
    createCredentialCipher(randomBytes(32)),
    true,
  );
  idp.setServiceProvider(samlSpMetadata(samlSpEndpoints(appliance.url, provider.id)));
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
    expect(audit.description).toMatch(/^Signed in with single sign-on through Okta \(SAML\)/);
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
      'Single sign-on failed. There is no account for mallory@okta-customer.example in Okta Customer. Ask an administrator to invite you.',
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
