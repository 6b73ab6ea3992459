// /api/v1 storage locations and assignments with API keys: the connection test's one sentence on
// a failed create, secrets write-only (never in a response or the log), edits, refusals once a
// location holds backups, and other tenants' locations answering 404 on every route.
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogRepository, CatalogSnapshot } from '../../../core/catalog/entities.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { attachRepository } from '../../../core/storage-locations/assignment.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import { BUILTIN_LOCATION_ID } from '../../../core/storage-locations/locations.ts';
import {
  addOrganization,
  addUser,
  getTokens,
  type Json,
  json,
  makeKey,
  rootOrganization,
  withBearer,
} from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../../helpers/s3rver.ts';

const SECRET = 'api-secret-that-must-never-come-back-77';

let t: TestApp;
let s3: LoopbackS3;
let root: IOrganization;
let partnerA: IOrganization;
let customerA: IOrganization;
let partnerB: IOrganization;
let rootToken: string;
let tokenA: string;
let tokenB: string;
let viewerCookie: string;
const responses: string[] = [];

async function call(token: string, method: string, path: string, body?: unknown): Promise<[number, Json]> {
  const res = await t.app.request(`/api/v1${path}`, withBearer(token, method, body));
  const text = await res.text();
  responses.push(text);
  return [res.status, text ? (JSON.parse(text) as Json) : {}];
}

function s3Settings(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    endpoint: s3.endpoint,
    bucket: 'api-bucket',
    prefix: `p-${crypto.randomUUID().slice(0, 8)}`,
    accessKeyId: S3RVER_CREDENTIALS.accessKeyId,
    secretAccessKey: SECRET,
    forcePathStyle: true,
    ...overrides,
  };
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

beforeAll(async () => {
  [t, s3] = await Promise.all([createTestApp(), startS3rver(['api-bucket'])]);
  await completeSetupVia(t.app);
  root = await rootOrganization(t);
  partnerA = await addOrganization(t, root, 'partner', 'Partner A');
  customerA = await addOrganization(t, partnerA, 'customer', 'Customer of A');
  partnerB = await addOrganization(t, root, 'partner', 'Partner B');
  rootToken = (await getTokens(t.app, await makeKey(t, root))).access_token;
  tokenA = (await getTokens(t.app, await makeKey(t, partnerA))).access_token;
  tokenB = (await getTokens(t.app, await makeKey(t, partnerB))).access_token;
  await addUser(t, partnerA, 'viewer@a.example', 'Viewer-of-storage-42', 'custom', []);
  viewerCookie = await signIn(t.app, 'viewer@a.example', 'Viewer-of-storage-42');
}, 60_000);

afterAll(async () => {
  await Promise.all([t.close(), s3.stop()]);
});

describe('storage locations over the API', () => {
  it('lists the built-in location for everyone, with the root as its owner', async () => {
    const [status, body] = await call(tokenA, 'GET', `/organizations/${partnerA.id}/storage-locations`);
    expect(status).toBe(200);
    expect(body.items[0]).toMatchObject({ id: BUILTIN_LOCATION_ID, builtin: true, owned: false, settings: null });
  });

  it('refuses a failing location with the cause in one sentence, saving nothing', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ accessKeyId: 'NOT-A-KEY' }, 'auth', /refused the credentials/],
      [{ bucket: 'no-such-bucket' }, 'bucket_missing', /does not exist: create it or correct its name\./],
      [{ endpoint: `http://127.0.0.1:${await closedPort()}` }, 'unreachable', /^Nothing answered at s3:127\.0\.0\.1/],
    ];
    for (const [overrides, reason, sentence] of cases) {
      const [status, body] = await call(tokenA, 'POST', `/organizations/${partnerA.id}/storage-locations`, {
        name: 'Broken',
        kind: 's3',
        settings: s3Settings(overrides),
      });
      expect(status).toBe(422);
      expect(body.error).toMatchObject({ code: 'connection_test_failed' });
      expect(body.error.message).toMatch(sentence);
      expect(body.test).toMatchObject({ ok: false, reason });
    }
    expect(await t.kernel.orm.em.fork().count(StorageLocation, { name: 'Broken' })).toBe(0);
  });

  it('gives per-setting messages for invalid settings and refuses local disk to a partner', async () => {
    const [status, body] = await call(tokenA, 'POST', `/organizations/${partnerA.id}/storage-locations`, {
      name: 'Invalid',
      kind: 's3',
      settings: { bucket: '!', endpoint: 'nope', partSizeMiB: 1 },
    });
    expect(status).toBe(422);
    expect(Object.keys(body.error.fields)).toEqual(expect.arrayContaining(['bucket', 'endpoint', 'partSizeMiB']));
    const [localStatus, local] = await call(tokenA, 'POST', `/organizations/${partnerA.id}/storage-locations`, {
      name: 'Disk',
      kind: 'local',
      settings: { path: '/tmp' },
    });
    expect(localStatus).toBe(422);
    expect(local.error.fields.kind).toBeDefined();
  });

  let locationA: string;

  it('creates, reads, changes and tests a location; the secret is write-only', async () => {
    const [status, created] = await call(tokenA, 'POST', `/organizations/${partnerA.id}/storage-locations`, {
      name: 'Partner A bucket',
      kind: 's3',
      settings: s3Settings(),
    });
    expect(status).toBe(201);
    expect(created.test).toMatchObject({ ok: true, reason: null });
    expect(created.location).toMatchObject({ owned: true, secretsSet: ['secretAccessKey'], kind: 's3' });
    expect(created.location.settings.secretAccessKey).toBeUndefined();
    locationA = created.location.id;

    const [, read] = await call(tokenA, 'GET', `/organizations/${partnerA.id}/storage-locations/${locationA}`);
    expect(read).toMatchObject({ name: 'Partner A bucket', settings: { bucket: 'api-bucket', forcePathStyle: true } });

    const [renameStatus, renamed] = await call(
      tokenA,
      'PATCH',
      `/organizations/${partnerA.id}/storage-locations/${locationA}`,
      { name: 'Partner A storage' },
    );
    expect(renameStatus).toBe(200);
    expect(renamed).toMatchObject({ location: { name: 'Partner A storage' }, test: null });

    const [badStatus, bad] = await call(
      tokenA,
      'PATCH',
      `/organizations/${partnerA.id}/storage-locations/${locationA}`,
      {
        settings: { bucket: 'no-such-bucket' },
      },
    );
    expect(badStatus).toBe(422);
    expect(bad.test.reason).toBe('bucket_missing');

    const [testStatus, tested] = await call(
      tokenA,
      'POST',
      `/organizations/${partnerA.id}/storage-locations/${locationA}/test`,
    );
    expect(testStatus).toBe(200);
    expect(tested).toMatchObject({ ok: true });

    // Dropping the secret of a tenant's location is refused: it would fall back to the appliance's credentials.
    const [dropStatus, drop] = await call(
      tokenA,
      'PATCH',
      `/organizations/${partnerA.id}/storage-locations/${locationA}`,
      {
        settings: { secretAccessKey: null },
      },
    );
    expect(dropStatus).toBe(422);
    expect(drop.error.fields.secretAccessKey).toBe('Enter the secret access key.');
  });

  it('chooses locations for an account and a default for new accounts', async () => {
    const [status, body] = await call(tokenA, 'PUT', `/organizations/${partnerA.id}/storage`, {
      defaultForNewAccountsId: locationA,
    });
    expect(status).toBe(200);
    expect(body.defaultForNewAccounts).toMatchObject({ id: locationA, source: 'own' });
    const [, inherited] = await call(tokenA, 'GET', `/organizations/${customerA.id}/storage`);
    expect(inherited).toMatchObject({ location: { id: locationA }, source: 'inherited', inheritedFrom: partnerA.id });

    const [ownStatus, own] = await call(tokenA, 'PUT', `/organizations/${customerA.id}/storage`, {
      locationId: BUILTIN_LOCATION_ID,
    });
    expect(ownStatus).toBe(200);
    expect(own).toMatchObject({ location: { id: BUILTIN_LOCATION_ID }, source: 'own', defaultForNewAccounts: null });

    const [, fromB] = await call(tokenB, 'POST', `/organizations/${partnerB.id}/storage-locations`, {
      name: 'Partner B bucket',
      kind: 's3',
      settings: s3Settings(),
    });
    const [foreignStatus, foreign] = await call(tokenA, 'PUT', `/organizations/${customerA.id}/storage`, {
      locationId: fromB.location.id,
    });
    expect(foreignStatus).toBe(422);
    expect(foreign.error.fields.locationId).toMatch(/available to Customer of A/);
  });

  it('refuses changes once backups exist, and removal while chosen', async () => {
    const em = t.kernel.orm.em.fork();
    const repo = em.create(CatalogRepository, { id: crypto.randomUUID(), location: 'test', indexedAt: null });
    em.create(CatalogSnapshot, {
      id: 'a'.repeat(64),
      repository: repo,
      task: 't',
      entity: 'e',
      time: new Date(),
      parent: null,
      items: 0,
      bytes: 0,
    });
    await em.flush();
    await attachRepository(
      em,
      repo.id,
      await em.findOneOrFail(Organization, { id: partnerA.id }),
      await em.findOneOrFail(StorageLocation, { id: locationA }),
    );
    const path = `/organizations/${partnerA.id}/storage-locations/${locationA}`;
    const [patchStatus, patch] = await call(tokenA, 'PATCH', path, { name: 'Moved' });
    expect(patchStatus).toBe(409);
    expect(patch.error.code).toBe('location_in_use');
    expect((await call(tokenA, 'DELETE', path))[0]).toBe(409);
    const [moveStatus, move] = await call(tokenA, 'PUT', `/organizations/${partnerA.id}/storage`, {
      locationId: BUILTIN_LOCATION_ID,
    });
    expect(moveStatus).toBe(409);
    expect(move.error.code).toBe('storage_fixed');
  });

  it('removes an unused location, but not one chosen as a default', async () => {
    const [, created] = await call(tokenA, 'POST', `/organizations/${partnerA.id}/storage-locations`, {
      name: 'Short-lived',
      kind: 's3',
      settings: s3Settings(),
    });
    const path = `/organizations/${partnerA.id}/storage-locations/${created.location.id}`;
    await call(tokenA, 'PUT', `/organizations/${partnerA.id}/storage`, {
      defaultForNewAccountsId: created.location.id,
    });
    const [chosenStatus, chosen] = await call(tokenA, 'DELETE', path);
    expect(chosenStatus).toBe(409);
    expect(chosen.error.code).toBe('location_assigned');
    await call(tokenA, 'PUT', `/organizations/${partnerA.id}/storage`, { defaultForNewAccountsId: null });
    expect((await call(tokenA, 'DELETE', path))[0]).toBe(204);
    expect((await call(tokenA, 'GET', path))[0]).toBe(404);
  });

  it("answers 404 for another tenant's location on every route, and for its organization", async () => {
    const [, list] = await call(tokenB, 'GET', `/organizations/${partnerB.id}/storage-locations`);
    const foreignId = (list.items as Json[]).find((l) => l.owned)?.id as string;
    const rootLocation = BUILTIN_LOCATION_ID;
    for (const id of [foreignId, rootLocation]) {
      const base = `/organizations/${partnerA.id}/storage-locations/${id}`;
      for (const [method, path, body] of [
        ['GET', base],
        ['PATCH', base, { name: 'Taken over' }],
        ['DELETE', base],
        ['POST', `${base}/test`],
      ] as [string, string, unknown][]) {
        const [status, res] = await call(tokenA, method, path, body);
        expect({ path: `${method} ${path}`, status }).toEqual({ path: `${method} ${path}`, status: 404 });
        expect(res.error.code).toBe('not_found');
      }
    }
    for (const [method, path, body] of [
      ['GET', `/organizations/${partnerB.id}/storage-locations`],
      ['POST', `/organizations/${partnerB.id}/storage-locations`, { name: 'x', kind: 's3', settings: {} }],
      ['GET', `/organizations/${partnerB.id}/storage`],
      ['PUT', `/organizations/${partnerB.id}/storage`, { locationId: null }],
      ['GET', `/organizations/${root.id}/storage-locations`],
    ] as [string, string, unknown][]) {
      expect((await call(tokenA, method, path, body))[0]).toBe(404);
    }
    const em = t.kernel.orm.em.fork();
    expect((await em.findOneOrFail(StorageLocation, { id: foreignId })).name).toBe('Partner B bucket');
  });

  it('lets users who are not administrators read but not change', async () => {
    const headers = { cookie: viewerCookie, origin: ORIGIN };
    const list = await t.app.request(`/api/v1/organizations/${partnerA.id}/storage-locations`, { headers });
    expect(list.status).toBe(200);
    const put = await t.app.request(`/api/v1/organizations/${partnerA.id}/storage`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ defaultForNewAccountsId: null }),
    });
    expect(put.status).toBe(403);
    responses.push(await list.text());
  });

  it('never returned or logged a secret', () => {
    expect(responses.length).toBeGreaterThan(20);
    for (const body of responses) expect(body).not.toContain(SECRET);
    expect(t.logs.join('\n')).not.toContain(SECRET);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await json(await t.app.request('/api/v1/openapi.json'));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/organizations/{id}/storage-locations',
        '/organizations/{id}/storage-locations/{locationId}',
        '/organizations/{id}/storage-locations/{locationId}/test',
        '/organizations/{id}/storage',
      ]),
    );
    expect(rootToken).toMatch(/^hfat_/);
  });
});
