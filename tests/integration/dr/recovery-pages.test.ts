// The pages of disaster recovery through the real app: Settings › Recovery (root administrators
// only; the recovery sheet with the master key only after the password, audited; the recovery
// passphrase's rules) and the setup page's "Recover an existing appliance" on a fresh appliance,
// which runs `holdfast dr restore` and replaces the key it generated at its first start.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKernel } from '../../../core/appliance.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { writeConfigBackup } from '../../../core/dr/config-backup.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { createLogger } from '../../../core/logging.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import { createLocation } from '../../../core/storage-locations/locations.ts';
import { addOrganization, addUser } from '../../helpers/api.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { ADMIN, completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { rootOf } from '../../helpers/tenants.ts';

const vault = tempDir('holdfast-vault-');
let source: TestApp;
let admin: string;

function post(t: TestApp, path: string, fields: Record<string, string>, cookie = '') {
  return t.app.request(path, {
    method: 'POST',
    headers: { origin: ORIGIN, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

beforeAll(async () => {
  source = await createTestApp();
  await completeSetupVia(source.app);
  admin = await signIn(source.app);
  const em = source.kernel.orm.em.fork();
  const root = await rootOf(em);
  await createLocation(
    { em, credentials: source.kernel.credentials, storageDir: source.kernel.deps.config.storageDir },
    root,
    { name: 'Vault', kind: 'local', settings: { path: vault.path } },
    'json',
    { label: ADMIN.email },
    new Date(),
  );
  const partner = await addOrganization(source, root, 'partner', 'Partner Page');
  await addUser(source, partner, 'partner-admin@page.example', 'Partner-page-pass-2026', 'administrator');
}, 60_000);
afterAll(async () => {
  await source.close();
  vault.remove();
});

describe('Settings › Recovery', () => {
  it('shows the recovery sheet with the master key only after the password, and audits it', async () => {
    const page = await (await source.app.request('/settings/recovery', { headers: { cookie: admin } })).text();
    expect(page).toContain('Show the recovery sheet');
    const key = source.kernel.masterKey.toString('base64');
    expect(page).not.toContain(key);
    const wrong = await post(source, '/settings/recovery/sheet', { password: 'not the password' }, admin);
    expect(wrong.status).toBe(422);
    const wrongText = await wrong.text();
    expect(wrongText).toContain('The password is not right.');
    expect(wrongText).not.toContain(key);
    const right = await post(source, '/settings/recovery/sheet', { password: ADMIN.password }, admin);
    expect(right.status).toBe(200);
    expect(right.headers.get('cache-control')).toBe('no-store');
    expect(await right.text()).toContain(`<code class="wrap-anywhere">${key}</code>`);
    const audits = await source.kernel.orm.em.fork().find(AuditEvent, { activity: 'Recovery sheet viewed' });
    expect(audits.map((a) => a.performedBy)).toEqual([ADMIN.email]);
  });

  it("is for the operator organization's administrators only", async () => {
    const partnerAdmin = await signIn(source.app, 'partner-admin@page.example', 'Partner-page-pass-2026');
    expect((await source.app.request('/settings/recovery', { headers: { cookie: partnerAdmin } })).status).toBe(403);
    expect(
      (await post(source, '/settings/recovery/sheet', { password: 'Partner-page-pass-2026' }, partnerAdmin)).status,
    ).toBe(403);
  });

  it('refuses a short or unconfirmed passphrase and a wrong password', async () => {
    const short = await post(
      source,
      '/settings/recovery/passphrase',
      { passphrase: 'too short', confirmPassphrase: 'too short', currentPassword: ADMIN.password },
      admin,
    );
    expect(short.status).toBe(422);
    expect(await short.text()).toContain('Use at least 16 characters.');
    const unconfirmed = await post(
      source,
      '/settings/recovery/passphrase',
      {
        passphrase: 'a long enough passphrase',
        confirmPassphrase: 'another one entirely',
        currentPassword: ADMIN.password,
      },
      admin,
    );
    expect(await unconfirmed.text()).toContain('The passphrases do not match.');
    const wrong = await post(
      source,
      '/settings/recovery/passphrase',
      {
        passphrase: 'a long enough passphrase',
        confirmPassphrase: 'a long enough passphrase',
        currentPassword: 'nope',
      },
      admin,
    );
    expect(await wrong.text()).toContain('The password is not right.');
  });
});

describe('Recover an existing appliance (setup page)', () => {
  let fresh: TestApp;
  beforeAll(async () => {
    await writeConfigBackup({
      em: source.kernel.orm.em.fork(),
      credentials: source.kernel.credentials,
      masterKey: source.kernel.masterKey,
      storageDir: source.kernel.deps.config.storageDir,
      now: new Date(),
    });
    fresh = await createTestApp();
  });
  afterAll(async () => {
    await fresh.close();
  });

  it('is offered by the setup page, names bad input, and recovers with the master key export', async () => {
    const setup = await (await fresh.app.request('/setup')).text();
    expect(setup).toContain('<a href="/setup/recover">Recover an existing appliance</a>');
    const location = JSON.stringify({ kind: 'local', path: vault.path });
    const bad = await post(fresh, '/setup/recover', { location: 'not json', masterKey: '' });
    expect(bad.status).toBe(422);
    const badText = await bad.text();
    expect(badText).toContain('Give the location&#39;s settings as JSON');
    expect(badText).toContain('Enter the master key export from the recovery sheet, or the recovery passphrase.');
    const wrongKey = await post(fresh, '/setup/recover', {
      location,
      masterKey: Buffer.alloc(32, 3).toString('base64'),
    });
    expect(wrongKey.status).toBe(422);
    expect(await wrongKey.text()).toContain('this master key does not open the configuration backup');

    const key = source.kernel.masterKey.toString('base64');
    const spaced = key.match(/.{1,4}/g)?.join(' ') ?? key;
    const done = await post(fresh, '/setup/recover', { location, masterKey: spaced });
    const text = await done.text();
    expect(done.status).toBe(200);
    expect(text).toContain('Appliance recovered');
    expect(text).toMatch(
      /Recovered the configuration written \S+: 2 organizations, 2 users, 0 tasks, 1 storage location\./,
    );
    expect(text).toContain('Restart the appliance now');
    expect(readFileSync(fresh.kernel.deps.config.masterKeyFile, 'utf8').trim()).toBe(key);
    // Restarted: the appliance of before.
    const restarted = await openKernel(testConfig(fresh.dataDir), createLogger('silent'));
    try {
      const em = restarted.orm.em.fork();
      expect((await em.find(Organization, {}, { orderBy: { name: 'asc' } })).map((o) => o.name)).toEqual([
        ADMIN.organizationName,
        'Partner Page',
      ]);
      expect((await em.find(StorageLocation, { name: 'Vault' })).map((l) => l.settings)).toEqual([
        { path: vault.path },
      ]);
      expect(restarted.deps.setupState.complete).toBe(true);
    } finally {
      await restarted.close();
    }
  }, 60_000);
});
