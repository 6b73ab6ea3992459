// Settings › Storage through the real app: the built-in location, adding locations with their
// connection test (a folder that is a file, s3rver with wrong credentials, a missing bucket and
// nothing listening: one sentence each, no stack trace, nothing saved), secrets never in pages or
// logs, edits that keep blank secrets, refusals once a location holds snapshots, portal defaults
// and an account's own storage, and who may change what.
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { CatalogRepository, CatalogSnapshot } from '../../../core/catalog/entities.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { attachRepository, resolveLocation } from '../../../core/storage-locations/assignment.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import { BUILTIN_LOCATION_ID } from '../../../core/storage-locations/locations.ts';
import { tempDir } from '../../helpers/config.ts';
import { completeSetupVia, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../../helpers/s3rver.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

const SECRET = 'wJalrXUtnFEMI-very-secret-value-0042';

let t: TestApp;
let s3: LoopbackS3;
let folder: { path: string; remove: () => void };
let root: IOrganization;
let partner: IOrganization;
let customer: IOrganization;
let rootCookie: string;
let partnerCookie: string;
let customerCookie: string;
let customCookie: string;

const em = (): EntityManager => t.kernel.orm.em.fork();

async function get(path: string, cookie: string): Promise<Response> {
  return await t.app.request(path, { headers: { cookie } });
}

async function post(path: string, cookie: string, fields: Record<string, string>): Promise<Response> {
  const init = form(fields);
  return await t.app.request(path, { ...init, headers: { ...init.headers, cookie } });
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function s3Fields(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    kind: 's3',
    name: 'Loopback S3',
    endpoint: s3.endpoint,
    region: 'us-east-1',
    bucket: 'holdfast-test',
    prefix: `p-${crypto.randomUUID().slice(0, 8)}`,
    accessKeyId: S3RVER_CREDENTIALS.accessKeyId,
    secretAccessKey: SECRET,
    forcePathStyle: 'on',
    ...overrides,
  };
}

async function locationNamed(name: string) {
  return em().findOne(StorageLocation, { name });
}

/** A catalogued repository with one snapshot, kept at the location for the organization. */
async function backupsAt(org: IOrganization, locationId: string): Promise<void> {
  const e = em();
  const repo = e.create(CatalogRepository, { id: crypto.randomUUID(), location: 'test', indexedAt: null });
  e.create(CatalogSnapshot, {
    id: crypto.randomUUID().replace(/-/g, ''),
    repository: repo,
    task: 'mail',
    entity: 'someone',
    time: new Date(),
    parent: null,
    items: 1,
    bytes: 1,
  });
  await e.flush();
  await attachRepository(
    e,
    repo.id,
    await e.findOneOrFail(Organization, { id: org.id }),
    await e.findOneOrFail(StorageLocation, { id: locationId }),
  );
}

beforeAll(async () => {
  [t, s3] = await Promise.all([createTestApp(), startS3rver(['holdfast-test'])]);
  folder = tempDir();
  await completeSetupVia(t.app);
  const e = em();
  root = await rootOf(e);
  partner = await makeOrganization(e, root, 'partner', 'Northwind Partner');
  customer = await makeOrganization(e, partner, 'customer', 'Contoso Customer');
  await makeUser(e, partner, 'admin@northwind.example');
  await makeUser(e, partner, 'viewer@northwind.example', { role: 'custom', permissions: [] });
  await makeUser(e, customer, 'admin@contoso.example');
  rootCookie = await signIn(t.app);
  partnerCookie = await signIn(t.app, 'admin@northwind.example', TEST_PASSWORD);
  customerCookie = await signIn(t.app, 'admin@contoso.example', TEST_PASSWORD);
  customCookie = await signIn(t.app, 'viewer@northwind.example', TEST_PASSWORD);
}, 60_000);

afterAll(async () => {
  await Promise.all([t.close(), s3.stop()]);
  folder.remove();
});

describe('Settings › Storage for the operator', () => {
  it('shows the built-in local disk location from the first visit', async () => {
    const res = await get('/settings/storage', rootCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Local disk (built-in)');
    expect(html).toContain(`local:${t.kernel.deps.config.storageDir}`);
    expect(html).toContain('href="/settings/storage" aria-current="page"');
    expect(await em().count(StorageLocation, { id: BUILTIN_LOCATION_ID })).toBe(1);
  });

  it('tests the built-in location again on request', async () => {
    const res = await post(`/settings/storage/${BUILTIN_LOCATION_ID}/test`, rootCookie, {});
    expect(res.status).toBe(303);
    const page = await (await get(res.headers.get('location') as string, rootCookie)).text();
    expect(page).toMatch(/Connected to local:.*writing, reading, listing and deleting a test object worked/);
  });

  it('refuses a folder that is a file, naming the cause in one sentence without a stack trace', async () => {
    const file = join(folder.path, 'not-a-folder');
    writeFileSync(file, 'x');
    for (const path of [file, join(file, 'below')]) {
      const res = await post('/settings/storage', rootCookie, { kind: 'local', name: 'Broken disk', path });
      expect(res.status).toBe(422);
      const html = await res.text();
      expect(html).toContain('Connection test failed.');
      expect(html).toMatch(/is not a folder \(the path is a file, or lies under one\): give the path of a folder\./);
      expect(html).not.toMatch(/\n\s+at \S+ \(/);
      expect(html).toContain(`value="${path}"`);
    }
    expect(await locationNamed('Broken disk')).toBeNull();
  });

  it('names a folder the appliance may not write to', async () => {
    // sysfs refuses new folders even to root, so this holds whoever runs the tests.
    const res = await post('/settings/storage', rootCookie, {
      kind: 'local',
      name: 'Read-only',
      path: '/sys/holdfast-test',
    });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain(
      'The appliance may not write to local:/sys/holdfast-test: check the folder&#39;s owner and permissions, and that its disk is mounted read-write.',
    );
  });

  it('adds a local folder after a passing test and records it in the audit log', async () => {
    const res = await post('/settings/storage', rootCookie, {
      kind: 'local',
      name: 'Second disk',
      path: join(folder.path, 'second'),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/settings/storage');
    const location = await locationNamed('Second disk');
    expect(location).toMatchObject({ kind: 'local', lastTestOk: true, sealedSecrets: null });
    const audit = await em().findOne(AuditEvent, { activity: 'Storage location changed' }, { orderBy: { id: 'desc' } });
    expect(audit?.description).toMatch(/^Added the storage location Second disk \(local:/);
  });

  it('keeps field messages and values on an invalid form', async () => {
    const res = await post('/settings/storage', rootCookie, {
      kind: 's3',
      name: '',
      bucket: 'x',
      endpoint: 'ftp://no',
    });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('Enter a name');
    expect(html).toContain('Enter a valid bucket name');
    expect(html).toContain('Use a URL such as https://s3.example.com:9000.');
    expect(html).toContain('value="ftp://no"');
  });

  it('names wrong credentials, a missing bucket and an unreachable endpoint; never echoes the secret', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ accessKeyId: 'NOT-A-KEY' }, /refused the credentials: check the access key and secret/],
      [
        { bucket: 'no-such-bucket' },
        /The bucket or container of s3:.*no-such-bucket.* does not exist: create it or correct its name\./,
      ],
      [{ endpoint: `http://127.0.0.1:${await closedPort()}` }, /Nothing answered at s3:127\.0\.0\.1:\d+/],
    ];
    for (const [overrides, sentence] of cases) {
      const res = await post('/settings/storage', rootCookie, s3Fields({ name: 'Failing S3', ...overrides }));
      expect(res.status).toBe(422);
      const html = await res.text();
      expect(html).toMatch(sentence);
      expect(html).not.toContain(SECRET);
      expect(html).not.toMatch(/\n\s+at \S+ \(/);
    }
    expect(await locationNamed('Failing S3')).toBeNull();
  });

  it('saves a working S3 location with its secret sealed, masked everywhere', async () => {
    const res = await post('/settings/storage', rootCookie, s3Fields());
    expect(res.status).toBe(303);
    const location = await locationNamed('Loopback S3');
    expect(location?.lastTestOk).toBe(true);
    expect(JSON.stringify(location?.settings)).not.toContain(SECRET);
    expect(location?.sealedSecrets).toMatch(/^hf1\./);
    expect(location?.sealedSecrets).not.toContain(SECRET);
    const raw = await em().getConnection().execute('select * from storage_locations');
    expect(JSON.stringify(raw)).not.toContain(SECRET);

    const list = await (await get('/settings/storage', rootCookie)).text();
    expect(list).toContain('Credentials: stored (••••)');
    const edit = await (await get(`/settings/storage/${location?.id}/edit`, rootCookie)).text();
    expect(edit).toContain('Stored. Leave blank to keep it.');
    for (const page of [list, edit]) expect(page).not.toContain(SECRET);
    expect(t.logs.join('\n')).not.toContain(SECRET);
  });

  it('keeps a blank secret when editing, tests changed settings, and refuses a failing change', async () => {
    const location = await locationNamed('Loopback S3');
    const id = location?.id as string;
    const renamed = await post(`/settings/storage/${id}`, rootCookie, {
      ...s3Fields({ name: 'Loopback S3 renamed', prefix: location?.settings.prefix as string }),
      secretAccessKey: '',
    });
    expect(renamed.status).toBe(303);
    const after = await em().findOneOrFail(StorageLocation, { id });
    expect(after.name).toBe('Loopback S3 renamed');
    expect(after.sealedSecrets).toBe(location?.sealedSecrets);

    const broken = await post(`/settings/storage/${id}`, rootCookie, {
      ...s3Fields({ name: 'Loopback S3 renamed', bucket: 'no-such-bucket' }),
      secretAccessKey: '',
    });
    expect(broken.status).toBe(422);
    expect(await broken.text()).toContain('does not exist: create it or correct its name.');
    expect((await em().findOneOrFail(StorageLocation, { id })).settings.bucket).toBe('holdfast-test');
  });

  it('refuses to change or remove a location that holds snapshots, and a fixed assignment', async () => {
    const location = await locationNamed('Second disk');
    const id = location?.id as string;
    await backupsAt(customer, id);
    const edit = await post(`/settings/storage/${id}`, rootCookie, { name: 'Renamed', path: join(folder.path, 'x') });
    expect(edit.status).toBe(409);
    expect(await edit.text()).toContain('Second disk holds backups and cannot be changed.');
    const del = await post(`/settings/storage/${id}/delete`, rootCookie, {});
    expect(del.status).toBe(409);
    expect(await del.text()).toContain('cannot be removed');
    expect(await locationNamed('Second disk')).not.toBeNull();

    // The customer's backups pinned it as the customer's own choice.
    expect((await resolveLocation(em(), customer)).location.id).toBe(id);
    const page = await (await get('/settings/storage', customerCookie)).text();
    expect(page).toContain('Backups already exist at this location, so it can no longer change.');
    const change = await post('/settings/storage/choice/location', customerCookie, { location: BUILTIN_LOCATION_ID });
    expect(change.status).toBe(409);
    expect(await change.text()).toContain('the storage location cannot change once backups exist');
  });

  it('refuses to remove the built-in location', async () => {
    const res = await post(`/settings/storage/${BUILTIN_LOCATION_ID}/delete`, rootCookie, {});
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('is part of the appliance and cannot be removed');
  });
});

describe('Settings › Storage for a portal and an account', () => {
  it('lets a partner see the operator locations but not edit them, nor use the local disk', async () => {
    const html = await (await get('/settings/storage', partnerCookie)).text();
    expect(html).toContain('Loopback S3 renamed');
    expect(html).toContain('From Acme Managed Services');
    expect(html).not.toContain('/edit"');
    const operatorLocation = await locationNamed('Loopback S3 renamed');
    expect((await get(`/settings/storage/${operatorLocation?.id}/edit`, partnerCookie)).status).toBe(404);
    expect((await post(`/settings/storage/${operatorLocation?.id}/delete`, partnerCookie, {})).status).toBe(404);
    const local = await post('/settings/storage', partnerCookie, {
      kind: 'local',
      name: 'Sneaky',
      path: folder.path,
    });
    expect(local.status).toBe(422);
    expect(await local.text()).toContain('Choose one of the storage kinds offered.');
    const newPage = await (await get('/settings/storage/new', partnerCookie)).text();
    expect(newPage).not.toContain('?kind=local');
    expect(newPage).not.toContain('name="caFile"');
  });

  it("refuses a tenant's cloud location without its own credentials", async () => {
    const fields = s3Fields({ name: 'Ambient' });
    delete fields.accessKeyId;
    delete fields.secretAccessKey;
    const res = await post('/settings/storage', partnerCookie, fields);
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('Enter the access key id and secret of this storage.');
  });

  it('sets the default for new accounts, which accounts without a choice follow', async () => {
    const operatorLocation = await locationNamed('Loopback S3 renamed');
    const other = await makeOrganization(em(), partner, 'customer', 'Fabrikam Customer');
    const res = await post('/settings/storage/choice/default', partnerCookie, {
      defaultForNewAccounts: operatorLocation?.id as string,
    });
    expect(res.status).toBe(303);
    const resolved = await resolveLocation(em(), other);
    expect(resolved).toMatchObject({ source: 'inherited' });
    expect(resolved.location.id).toBe(operatorLocation?.id);
    const html = await (await get('/settings/storage', partnerCookie)).text();
    expect(html).toMatch(/id="default-location">Loopback S3 renamed</);
  });

  it('lets an account bring its own storage', async () => {
    const res = await post(
      '/settings/storage',
      customerCookie,
      s3Fields({ name: 'Contoso bucket', prefix: 'contoso' }),
    );
    expect(res.status).toBe(303);
    const own = await locationNamed('Contoso bucket');
    expect((own?.organization as IOrganization | undefined)?.id).toBe(customer.id);
    // The partner does not see the account's own location in its list.
    expect(await (await get('/settings/storage', partnerCookie)).text()).not.toContain('Contoso bucket');
  });

  it('refuses changes from users who are not administrators, but shows them the page', async () => {
    expect((await get('/settings/storage', customCookie)).status).toBe(200);
    expect((await get('/settings/storage/new', customCookie)).status).toBe(403);
    const res = await post('/settings/storage', customCookie, s3Fields({ name: 'By a viewer' }));
    expect(res.status).toBe(403);
    expect((await post('/settings/storage/choice/default', customCookie, { defaultForNewAccounts: '' })).status).toBe(
      403,
    );
    expect(await locationNamed('By a viewer')).toBeNull();
  });
});

describe("the portal's add-account form", () => {
  it('offers the available locations with the default preselected, and pins the choice', async () => {
    const operatorLocation = await locationNamed('Loopback S3 renamed');
    const page = await (await get('/portal/new', partnerCookie)).text();
    expect(page).toContain('name="storageLocationId"');
    expect(page).toContain(`<option value="${operatorLocation?.id}" selected>Loopback S3 renamed</option>`);
    expect(page).not.toContain('Contoso bucket');

    const res = await post('/portal/new', partnerCookie, {
      kind: 'customer',
      name: 'Pinned Customer',
      storageLocationId: BUILTIN_LOCATION_ID,
    });
    expect(res.status).toBe(303);
    const account = await em().findOneOrFail(Organization, { name: 'Pinned Customer' });
    expect(await resolveLocation(em(), account)).toMatchObject({
      source: 'own',
      location: { id: BUILTIN_LOCATION_ID },
    });
  });

  it('refuses a location the portal may not use, and adds nothing', async () => {
    const contoso = await locationNamed('Contoso bucket');
    const res = await post('/portal/new', partnerCookie, {
      kind: 'customer',
      name: 'Should Not Exist',
      storageLocationId: contoso?.id as string,
    });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('Choose a storage location available to Northwind Partner.');
    expect(await em().count(Organization, { name: 'Should Not Exist' })).toBe(0);
  });
});
