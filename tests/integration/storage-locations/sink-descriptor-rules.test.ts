// A third-party sink's own rules, declared in its descriptor and applied by the kernel without
// naming it: tests/fakes/test-sink.ts has a `privateKeyPath` setting that makes the sink read a
// file on the appliance. A customer's administrator can neither see nor set it (page and API, on
// create and on edit) and the sink never reads the file; the root operator can.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { registerSinkPlugin } from '../../../core/plugins/registry.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import testSinkPlugin, { keyFilesRead } from '../../fakes/test-sink.ts';
import { addOrganization, getTokens, type Json, makeKey, rootOrganization, withBearer } from '../../helpers/api.ts';
import { tempDir } from '../../helpers/config.ts';
import { completeSetupVia, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeUser, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let folder: { path: string; remove: () => void };
let keyFile: string;
let customer: IOrganization;
let rootCookie: string;
let customerCookie: string;
let customerToken: string;

async function post(path: string, cookie: string, fields: Record<string, string>): Promise<Response> {
  const init = form(fields);
  return await t.app.request(path, { ...init, headers: { ...init.headers, cookie } });
}

async function call(method: string, path: string, body?: unknown): Promise<[number, Json]> {
  const res = await t.app.request(`/api/v1${path}`, withBearer(customerToken, method, body));
  const text = await res.text();
  return [res.status, text ? (JSON.parse(text) as Json) : {}];
}

const count = (name: string) => t.kernel.orm.em.fork().count(StorageLocation, { name });

beforeAll(async () => {
  registerSinkPlugin(testSinkPlugin);
  t = await createTestApp();
  folder = tempDir();
  keyFile = join(folder.path, 'appliance-private.key');
  writeFileSync(keyFile, 'operator secret');
  await completeSetupVia(t.app);
  const root = await rootOrganization(t);
  const partner = await addOrganization(t, root, 'partner', 'Partner');
  customer = await addOrganization(t, partner, 'customer', 'Customer');
  await makeUser(t.kernel.orm.em.fork(), customer, 'admin@customer.example');
  rootCookie = await signIn(t.app);
  customerCookie = await signIn(t.app, 'admin@customer.example', TEST_PASSWORD);
  customerToken = (await getTokens(t.app, await makeKey(t, customer))).access_token;
}, 60_000);

afterAll(async () => {
  await t.close();
  folder.remove();
});

describe("a sink's operator-only setting", () => {
  it("is not offered on a customer's form, and a submitted one is refused", async () => {
    const page = await (
      await t.app.request('/settings/storage/new?kind=test-sink', { headers: { cookie: customerCookie } })
    ).text();
    expect(page).toContain('name="bucket"');
    expect(page).not.toContain('name="privateKeyPath"');
    const res = await post('/settings/storage', customerCookie, {
      kind: 'test-sink',
      name: 'Sneaky page',
      bucket: 'customer-bucket',
      privateKeyPath: keyFile,
    });
    expect(res.status).toBe(422);
    expect(await count('Sneaky page')).toBe(0);
    expect(keyFilesRead).toEqual([]);
  });

  it("is refused over a customer's API key with a field message, on create and on edit", async () => {
    const path = `/organizations/${customer.id}/storage-locations`;
    const [status, body] = await call('POST', path, {
      name: 'Sneaky API',
      kind: 'test-sink',
      settings: { bucket: 'customer-bucket', privateKeyPath: keyFile },
    });
    expect(status).toBe(422);
    expect(body.error.fields).toEqual({ privateKeyPath: "Only the appliance's operator may set this." });
    expect(await count('Sneaky API')).toBe(0);

    const [created, { location }] = await call('POST', path, {
      name: 'Customer bucket',
      kind: 'test-sink',
      settings: { bucket: 'customer-bucket' },
    });
    expect(created).toBe(201);
    const [patched, refused] = await call('PATCH', `${path}/${location.id}`, {
      settings: { privateKeyPath: keyFile },
    });
    expect(patched).toBe(422);
    expect(refused.error.fields).toHaveProperty('privateKeyPath');
    const stored = await t.kernel.orm.em.fork().findOneOrFail(StorageLocation, { id: location.id });
    expect(stored.settings).not.toHaveProperty('privateKeyPath');
    expect(keyFilesRead).toEqual([]);
  });

  it('is offered to the root operator, whose location opens the sink with it', async () => {
    const page = await (
      await t.app.request('/settings/storage/new?kind=test-sink', { headers: { cookie: rootCookie } })
    ).text();
    expect(page).toContain('name="privateKeyPath"');
    const res = await post('/settings/storage', rootCookie, {
      kind: 'test-sink',
      name: 'Operator bucket',
      bucket: 'operator-bucket',
      privateKeyPath: keyFile,
    });
    expect(res.status).toBe(303);
    const stored = await t.kernel.orm.em.fork().findOneOrFail(StorageLocation, { name: 'Operator bucket' });
    expect(stored.settings).toMatchObject({ privateKeyPath: keyFile });
    expect(keyFilesRead).toEqual([keyFile]);
  });
});
