// The recovery API an integrator uses without the browser: a partner's key follows a customer's
// backup run (backup-now's job ids answer GET /jobs/{id}, with progress), lists an entity's
// snapshots, browses a snapshot's folders and items page by page, searches items with the
// Recovery page's fields, and starts an export from those ids — all tenant-scoped and in the
// OpenAPI document. A selection matching nothing is a 422 naming it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogSnapshot } from '../../../core/catalog/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import type { ITaskEntity } from '../../../core/tasks/entities.ts';
import { getTokens, type Json, json, makeKey } from '../../helpers/api.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { completeSetupVia } from '../../helpers/kernel.ts';
import { type BackedUp, backedUpTask } from '../../helpers/recovery.ts';
import { makeOrganization, rootOf } from '../../helpers/tenants.ts';

let h: JobsHarness;
let customer: IOrganization;
let source: BackedUp;
let other: BackedUp;
let token: string;

async function call(path: string, method = 'GET', body?: unknown): Promise<Response> {
  return h.app.app.request(path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

async function ok(path: string, method = 'GET', body?: unknown, status = 200): Promise<Json> {
  const res = await call(path, method, body);
  const payload = await json(res);
  expect({ path, status: res.status, payload }).toMatchObject({ path, status });
  return payload;
}

beforeAll(async () => {
  h = await createJobsHarness();
  await completeSetupVia(h.app.app);
  const em = h.em();
  const root = await rootOf(em);
  const partner = await makeOrganization(em, root, 'partner', 'The MSP');
  customer = await makeOrganization(em, partner, 'customer', 'Leaving Co');
  const stranger = await makeOrganization(em, root, 'customer', 'Someone Else');
  source = await backedUpTask(h, customer, { items: 5 }, 2, 'Leaving backup');
  other = await backedUpTask(h, stranger, { items: 2 }, 1, 'Other backup');
  // The partner's own key, working on its customer's task.
  token = (await getTokens(h.app.app, await makeKey(h.app, partner))).access_token;
}, 60_000);

afterAll(async () => {
  await h.close();
});

function entityBase(b: BackedUp = source, entity = b.entities[0] as ITaskEntity): string {
  return `/api/v1/tasks/${b.task.id}/entities/${entity.id}`;
}

describe('the recovery API', () => {
  it('shows the backup jobs backup-now starts, with their progress, by id and in the list', async () => {
    const first = source.entities[0] as ITaskEntity;
    const started = await ok(`/api/v1/tasks/${source.task.id}/entities/backup-now`, 'POST', { ids: [first.id] });
    const [jobId] = started.jobIds as string[];
    const queued = await ok(`/api/v1/jobs/${jobId}`);
    expect(queued).toMatchObject({ id: jobId, kind: 'backup', state: 'pending', progress: { items: 0 } });
    h.advance(60_000);
    await h.runner.runUntilIdle();
    const done = await ok(`/api/v1/jobs/${jobId}`);
    expect(done).toMatchObject({ kind: 'backup', state: 'succeeded', account: first.name });
    expect(done.progress.items).toBeGreaterThan(0);
    const listed = await ok(`/api/v1/jobs?activity=backup&organization=${customer.id}`);
    expect(listed.items.map((j: Json) => j.id)).toContain(jobId);
    // Without activity=backup the list stays the Jobs page's restores and exports.
    const recoveries = await ok(`/api/v1/jobs?organization=${customer.id}`);
    expect(recoveries.items.map((j: Json) => j.id)).not.toContain(jobId);
  });

  it("lists an entity's snapshots newest first, as the catalog holds them", async () => {
    const first = source.entities[0] as ITaskEntity;
    const catalog = await h
      .em()
      .find(CatalogSnapshot, { task: source.task.id, entity: first.externalId }, { orderBy: { time: 'desc' } });
    const { items } = await ok(`${entityBase()}/snapshots`);
    expect(items.map((s: Json) => s.id)).toEqual(catalog.map((s) => s.id));
    expect(items[0]).toMatchObject({ items: 5, time: catalog[0]?.time.toISOString() });
    const bad = await call(`${entityBase()}/snapshots?from=2026-13-01`);
    expect(bad.status).toBe(422);
    expect((await json(bad)).error.fields).toEqual({ from: 'Enter a date as YYYY-MM-DD.' });
  });

  it("browses a snapshot's folders and items page by page", async () => {
    const first = source.entities[0] as ITaskEntity;
    const { items: snapshots } = await ok(`${entityBase()}/snapshots`);
    const snapshot = snapshots[0].id as string;
    const root = await ok(`${entityBase()}/snapshots/${snapshot}/items`);
    expect(root).toMatchObject({ path: '', total: 1, items: [{ name: first.externalId, folder: true, items: 5 }] });
    const folder = await ok(
      `${entityBase()}/snapshots/${snapshot}/items?path=${encodeURIComponent(first.externalId)}&pageSize=2&page=2`,
    );
    expect(folder.total).toBe(5);
    expect(folder.items.map((e: Json) => e.name)).toEqual(['item-2.txt', 'item-3.txt']);
    expect(folder.items[0]).toMatchObject({
      folder: false,
      key: 'items/00002',
      path: `${first.externalId}/item-2.txt`,
    });
  });

  it('searches items with the Recovery page’s fields, each hit naming its snapshot', async () => {
    const { items } = await ok(`${entityBase()}/items?name=item%203`);
    expect(items.map((i: Json) => i.key)).toEqual(['items/00003']);
    const byAuthor = await ok(`${entityBase()}/items?author=OWNER-4`);
    expect(byAuthor.items.map((i: Json) => i.key)).toEqual(['items/00004']);
    expect(items[0].snapshot.id).toMatch(/^[0-9a-f]{64}$/);
    const bad = await call(`${entityBase()}/items?modifiedFrom=yesterday`);
    expect(bad.status).toBe(422);
    expect((await json(bad)).error.fields).toEqual({ modifiedFrom: 'Enter a date as YYYY-MM-DD.' });
  });

  it('exports what browse returned, and refuses a selection matching nothing by naming it', async () => {
    const first = source.entities[0] as ITaskEntity;
    const { items: snapshots } = await ok(`${entityBase()}/snapshots`);
    const snapshotId = snapshots[0].id as string;
    const refused = await call('/api/v1/jobs', 'POST', {
      kind: 'export',
      taskId: source.task.id,
      entityId: first.id,
      snapshotId,
      paths: ['No such folder'],
    });
    expect(refused.status).toBe(422);
    expect((await json(refused)).error.fields).toEqual({
      selection: 'Nothing in this snapshot matches the folder "No such folder".',
    });
    const started = await ok(
      '/api/v1/jobs',
      'POST',
      { kind: 'export', taskId: source.task.id, entityId: first.id, snapshotId, keys: ['items/00001'] },
      202,
    );
    h.advance(60_000);
    await h.runner.runUntilIdle();
    const done = await ok(`/api/v1/jobs/${started.id}`);
    expect(done).toMatchObject({ kind: 'export', state: 'succeeded', progress: { items: 1 } });
    const file = await call(`/api/v1/jobs/${started.id}/download`);
    expect(file.status).toBe(200);
    expect((await file.arrayBuffer()).byteLength).toBeGreaterThan(22);
  });

  it('refuses restore options a service does not take, naming them', async () => {
    const first = source.entities[0] as ITaskEntity;
    const { items: snapshots } = await ok(`${entityBase()}/snapshots`);
    const refused = await call('/api/v1/jobs', 'POST', {
      kind: 'restore',
      taskId: source.task.id,
      entityId: first.id,
      snapshotId: snapshots[0].id,
      mode: 'in_place',
      options: { recordMode: 'overwrite' },
    });
    expect(refused.status).toBe(422);
    expect((await json(refused)).error.fields).toEqual({
      'options.recordMode': 'This service takes no restore options.',
    });
  });

  it("answers 404 for another tenant's task, entity and snapshot, even under its own task", async () => {
    const foreignSnapshot = other.snapshotId;
    const foreignEntity = other.entities[0] as ITaskEntity;
    for (const path of [
      `${entityBase(other)}/snapshots`,
      `${entityBase(other)}/items?name=item`,
      `${entityBase(other)}/snapshots/${foreignSnapshot}/items`,
      `${entityBase()}/snapshots/${foreignSnapshot}/items`,
      `/api/v1/tasks/${source.task.id}/entities/${foreignEntity.id}/snapshots`,
    ]) {
      const res = await call(path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
  });

  it('is in the OpenAPI document', async () => {
    const doc = await json(await h.app.app.request('/api/v1/openapi.json'));
    for (const path of [
      '/tasks/{id}/entities/{entityId}/snapshots',
      '/tasks/{id}/entities/{entityId}/snapshots/{snapshotId}/items',
      '/tasks/{id}/entities/{entityId}/items',
    ]) {
      expect(doc.paths[path]?.get?.security, path).toBeDefined();
    }
    expect(doc.components.schemas.Job.properties.kind.enum).toEqual(['backup', 'restore', 'export', 'compare']);
  });
});
