// Scheduled verification of a storage location through the real kernel: a backup at the built-in
// location, then a flipped byte in one of its packs; the due run (clock moved) finds it, names the
// lost item, notifies the owner's exceptions recipients once (not again at the next run finding
// the same damage), writes a System Activity entry, and the verification page lists the lost item
// and the repair, and Recovery marks the snapshot "damaged" with the item named. The next backup of
// the same content heals it and the mark goes. The schedule form checks its values.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { workContext } from '../../../core/appliance.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { CatalogRepository, CatalogSnapshotDamage } from '../../../core/catalog/entities.ts';
import { indexSnapshot } from '../../../core/catalog/indexer.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { InlineExecutor } from '../../../core/jobs/executors.ts';
import { JobRunner } from '../../../core/jobs/runner.ts';
import { Notification } from '../../../core/notifications/entities.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import { BUILTIN_LOCATION_ID } from '../../../core/storage-locations/locations.ts';
import { runDueVerifications, verificationOf } from '../../../core/storage-locations/verification.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { withLock } from '../../../storage/locks.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { findItem } from '../../../storage/tree.ts';
import { getTokens, type Json, json, makeKey, withBearer } from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';
import { rootOf } from '../../helpers/tenants.ts';

let t: TestApp;
let cookie: string;
let root: IOrganization;
let taskId: string;
let entityId: string;
const em = (): EntityManager => t.kernel.orm.em.fork();
/** Runs queued jobs inline, as a job worker would. */
const runner = () => {
  const ctx = workContext(t.kernel);
  return new JobRunner(ctx, new InlineExecutor(ctx), t.kernel.deps.metrics);
};
const HOUR = 3_600_000;
const files: Record<string, Buffer> = {
  'Contracts/2026.pdf': Buffer.alloc(300_000, 7),
  'Contracts/2025.pdf': Buffer.alloc(200_000, 9),
};

async function backup(): Promise<string> {
  const opened = await t.kernel.storage.open({ id: taskId, organizationId: root.id, storageLocation: 'default' });
  try {
    return await withLock(
      opened.repo.sink,
      'shared',
      { purpose: 'backup' },
      async () => {
        const w = new SnapshotWriter(opened.repo, { task: taskId, entity: 'ana@acme.example' });
        for (const [key, body] of Object.entries(files)) await w.add({ key, kind: 'file' }, body);
        const id = (await w.commit()).id;
        // In the catalog, as a backup job leaves it (Recovery lists it).
        const e = em();
        if (!(await e.count(CatalogRepository, { id: opened.repo.id })))
          e.create(CatalogRepository, { id: opened.repo.id, location: opened.description, indexedAt: null });
        await e.flush();
        await indexSnapshot(e, opened.repo, { id, manifest: await opened.repo.loadSnapshot(id) }, undefined, {});
        return id;
      },
      opened.repo,
    );
  } finally {
    await opened.close();
  }
}

const verifyDue = (at: Date) => runDueVerifications(t.kernel.orm, { storage: t.kernel.storage }, at);
const notifications = async () =>
  (await em().find(Notification, { eventKey: { $like: 'verification:%' } })).map((n) => n.payload.title);

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
  const e = em();
  root = await rootOf(e);
  const task = e.create(BackupTask, {
    organization: root.id,
    service: 'test-service',
    name: 'Files',
    connection: 'not-a-sealed-connection',
    storageLocation: 'default',
  });
  await e.flush();
  taskId = task.id;
  const entity = e.create(TaskEntity, {
    task,
    externalId: 'ana@acme.example',
    name: 'Ana',
    kind: 'user',
    pluginState: null,
  });
  await e.flush();
  entityId = entity.id;
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('scheduled verification of a location', () => {
  it('finds a flipped byte in one due run, notifies once, records activity, and the page names the lost item', async () => {
    const snapshot = await backup();
    const e = em();
    const location = await e.findOneOrFail(StorageLocation, { id: BUILTIN_LOCATION_ID });
    const schedule = await verificationOf(e, location);
    schedule.samplePercent = 100; // one run reads every pack
    await e.flush();

    expect(await verifyDue(new Date())).toBe(1);
    expect((await verificationOf(em(), location)).lastOk).toBe(true);

    // A byte flipped in the middle of the pack holding 2026.pdf's content.
    const opened = await t.kernel.storage.open({ id: taskId, organizationId: root.id, storageLocation: 'default' });
    await opened.repo.loadIndex();
    const item = await findItem(opened.repo, (await opened.repo.loadSnapshot(snapshot)).tree, 'Contracts/2026.pdf');
    const at = opened.repo.locate(item?.content?.[0] as string);
    await opened.close();
    if (!at) throw new Error('the item is not indexed');
    const folder = join(t.kernel.deps.config.storageDir, 'organizations', root.id, 'data');
    const path = join(folder, at.pack.slice(0, 2), at.pack);
    const bytes = readFileSync(path);
    const i = at.offset + Math.floor(at.length / 2);
    bytes[i] = (bytes[i] as number) ^ 0xff;
    writeFileSync(path, bytes);

    expect(await verifyDue(new Date(Date.now() + HOUR))).toBe(0); // not due yet
    expect(await verifyDue(new Date(Date.now() + 25 * HOUR))).toBe(1);
    const result = (await verificationOf(em(), location)).lastResult;
    expect(result?.ok).toBe(false);
    expect(result?.lost.map((l) => [l.snapshot, l.entity, l.items])).toEqual([
      [snapshot, 'ana@acme.example', ['Contracts/2026.pdf']],
    ]);
    expect(result?.repairs).toEqual(['repair snapshots']);
    expect(await notifications()).toEqual([`Verification found damage at ${location.name}`]);
    const activity = await em().find(ActivityEvent, { activity: 'Verification' });
    expect(activity.map((a) => [a.status, a.summary])).toEqual([
      [
        'failed',
        `Verification of the storage location ${location.name} found 1 problem(s); 1 item(s) of 1 snapshot(s) cannot be restored until a backup stores them again. Repairs: holdfast repo repair snapshots.`,
      ],
    ]);

    // The same damage found again: no second notification.
    expect(await verifyDue(new Date(Date.now() + 50 * HOUR))).toBe(1);
    expect(await notifications()).toHaveLength(1);

    const page = await (
      await t.app.request(`/settings/storage/${BUILTIN_LOCATION_ID}/verification`, { headers: { cookie } })
    ).text();
    expect(page).toContain('Damage found');
    expect(page).toContain('<li>Contracts/2026.pdf</li>');
    expect(page).toContain('<code>holdfast repo repair snapshots --forget --read-data</code>');
    expect(page).toContain('value="repair_snapshots"');
    expect(page).not.toContain('Contracts/2025.pdf');

    // Recovery: the snapshot is marked in its entity's list, and its page names the lost item.
    const recovery = `/recovery/tasks/${taskId}/entities/${entityId}`;
    const list = await (await t.app.request(`${recovery}?mode=snapshot`, { headers: { cookie } })).text();
    expect(list).toContain('damaged: 1 item lost');
    const browse = await (await t.app.request(`${recovery}/snapshots/${snapshot}`, { headers: { cookie } })).text();
    expect(browse).toContain('id="snapshot-damage"');
    expect(browse).toMatch(/<ul class="wrap-anywhere"><li>Contracts\/2026\.pdf<\/li><\/ul>/);
    // And the API's snapshot list says it too.
    const { access_token } = await getTokens(t.app, await makeKey(t, root));
    const listed = await json(
      await t.app.request(`/api/v1/tasks/${taskId}/entities/${entityId}/snapshots`, withBearer(access_token)),
    );
    expect((listed.items as Json[]).map((i) => [i.id, (i.damage as Json | null)?.items])).toEqual([
      [snapshot, ['Contracts/2026.pdf']],
    ]);
  });

  it('is healed by the next backup of the same content', async () => {
    await backup();
    await verifyDue(new Date(Date.now() + 75 * HOUR));
    const result = (await verificationOf(em(), await em().findOneOrFail(StorageLocation, { id: BUILTIN_LOCATION_ID })))
      .lastResult;
    expect(result?.lost).toEqual([]);
    expect(result?.problems.map((p) => p.message)).toEqual([expect.stringMatching(/a good copy in pack \w+ is used$/)]);
    // Whole again: the mark is gone, and Recovery no longer says "damaged".
    expect(await em().count(CatalogSnapshotDamage, {})).toBe(0);
    const list = await (
      await t.app.request(`/recovery/tasks/${taskId}/entities/${entityId}?mode=snapshot`, { headers: { cookie } })
    ).text();
    expect(list).not.toContain('damaged:');
  });

  it('checks the schedule form, saves it, and runs on request', async () => {
    const post = async (path: string, fields: Record<string, string>) => {
      const init = form(fields);
      return t.app.request(path, { ...init, headers: { ...init.headers, cookie } });
    };
    const bad = await post(`/settings/storage/${BUILTIN_LOCATION_ID}/verification`, {
      samplePercent: '0',
      intervalHours: 'often',
    });
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toContain('Enter a whole percentage from 1 to 100.');
    expect(html).toContain('Enter a whole number of hours from 1 to 744.');
    const saved = await post(`/settings/storage/${BUILTIN_LOCATION_ID}/verification`, {
      samplePercent: '20',
      intervalHours: '12',
    });
    expect(saved.status).toBe(303);
    const page = await (
      await t.app.request(`/settings/storage/${BUILTIN_LOCATION_ID}/verification`, { headers: { cookie } })
    ).text();
    expect(page).toContain('every pack is read once every 5 runs, that is at least every 3 days');
    const location = await em().findOneOrFail(StorageLocation, { id: BUILTIN_LOCATION_ID });
    const before = (await verificationOf(em(), location)).runs;
    // "Verify now" queues a job: the request itself verifies nothing.
    const ran = await post(`/settings/storage/${BUILTIN_LOCATION_ID}/verification/run`, {});
    expect(ran.headers.get('location')).toBe(`/settings/storage/${BUILTIN_LOCATION_ID}/verification`);
    expect((await verificationOf(em(), location)).runs).toBe(before);
    const queued = await em().find(Job, { kind: 'maintenance' });
    expect(queued.map((j) => [j.state, j.label, j.params])).toEqual([
      ['pending', `Verification of ${location.name}`, { operation: 'verify', locationId: BUILTIN_LOCATION_ID }],
    ]);
    // A second start while it waits: refused, said on the page.
    const again = await post(`/settings/storage/${BUILTIN_LOCATION_ID}/verification/run`, {});
    expect(again.status).toBe(303);
    expect(await em().count(Job, { kind: 'maintenance' })).toBe(1);
    const waiting = await (
      await t.app.request(`/settings/storage/${BUILTIN_LOCATION_ID}/verification/jobs`, { headers: { cookie } })
    ).text();
    expect(waiting).toContain('hx-trigger="every 2s"');
    expect(waiting).toContain('data-state="pending"');
    await runner().runUntilIdle();
    expect((await verificationOf(em(), location)).runs).toBe(before + 1);
    const done = await (
      await t.app.request(`/settings/storage/${BUILTIN_LOCATION_ID}/verification/jobs`, { headers: { cookie } })
    ).text();
    expect(done).not.toContain('hx-trigger');
    expect(done).toContain('data-state="succeeded"');
    expect(
      (await em().find(AuditEvent, { activity: 'Verification started' })).map((a) => a.description.split(' (job')[0]),
    ).toEqual([`Verification of the storage location ${location.name}`]);
  });

  it('repairs the snapshots from the page as a job, and the marks go', async () => {
    const post = async (path: string, fields: Record<string, string>) => {
      const init = form(fields);
      return t.app.request(path, { ...init, headers: { ...init.headers, cookie } });
    };
    const location = await em().findOneOrFail(StorageLocation, { id: BUILTIN_LOCATION_ID });
    const schedule = await verificationOf(em(), location);
    expect(schedule.samplePercent).toBe(20);
    const e = em();
    (await verificationOf(e, location)).samplePercent = 100;
    await e.flush();
    // Every copy of 2026.pdf's content damaged: each snapshot loses it.
    const opened = await t.kernel.storage.open({ id: taskId, organizationId: root.id, storageLocation: 'default' });
    await opened.repo.loadIndex();
    const ids = await opened.repo.snapshotIds();
    const item = await findItem(
      opened.repo,
      (await opened.repo.loadSnapshot(ids[0] as string)).tree,
      'Contracts/2026.pdf',
    );
    const at = opened.repo.locate(item?.content?.[0] as string);
    await opened.close();
    if (!at) throw new Error('the item is not indexed');
    const path = join(t.kernel.deps.config.storageDir, 'organizations', root.id, 'data', at.pack.slice(0, 2), at.pack);
    const bytes = readFileSync(path);
    const i = at.offset + Math.floor(at.length / 2);
    bytes[i] = (bytes[i] as number) ^ 0xff;
    writeFileSync(path, bytes);

    await post(`/settings/storage/${BUILTIN_LOCATION_ID}/verification/run`, {});
    await runner().runUntilIdle();
    const found = (await verificationOf(em(), location)).lastResult;
    expect(found?.lost.map((l) => l.items)).toEqual(ids.map(() => ['Contracts/2026.pdf']));
    expect(await em().count(CatalogSnapshotDamage, {})).toBe(ids.length);

    const bad = await post(`/settings/storage/${BUILTIN_LOCATION_ID}/verification/repair`, { operation: 'prune' });
    expect(bad.status).toBe(422);
    // Asked first: the page says what the repair does, nothing is queued.
    const asked = await post(`/settings/storage/${BUILTIN_LOCATION_ID}/verification/repair`, {
      operation: 'repair_snapshots',
    });
    expect(asked.status).toBe(200);
    expect(await asked.text()).toContain('Repair the snapshots?');
    expect(await em().count(Job, { label: `Snapshot repair of ${location.name}` })).toBe(0);
    const started = await post(`/settings/storage/${BUILTIN_LOCATION_ID}/verification/repair`, {
      operation: 'repair_snapshots',
      confirm: 'yes',
    });
    expect(started.status).toBe(303);
    await runner().runUntilIdle();
    const [repair] = await em().find(Job, { label: `Snapshot repair of ${location.name}` });
    expect(repair?.state).toBe('succeeded');
    expect(repair?.result?.repairs).toEqual([
      `${root.name}: ${ids.length} snapshot(s) checked, ${ids.length} replaced by copies without ${ids.length} lost item(s), 0 unreadable removed`,
    ]);
    // The verification that followed: nothing lost any more, no snapshot marked.
    const after = (await verificationOf(em(), location)).lastResult;
    expect(after?.lost).toEqual([]);
    expect(await em().count(CatalogSnapshotDamage, {})).toBe(0);
    expect((await em().find(AuditEvent, { activity: 'Repair started' })).map((a) => a.description)).toEqual([
      `Snapshot repair of the storage location ${location.name} (job ${repair?.id})`,
    ]);
  });

  it('answers 404 for a location of another organization', async () => {
    const other = await em().findOneOrFail(StorageLocation, { id: BUILTIN_LOCATION_ID });
    const e = em();
    const owner = e.create(Organization, { id: crypto.randomUUID(), kind: 'root', path: '/x/', name: 'Elsewhere' });
    const foreign = e.create(StorageLocation, { organization: owner, name: 'Theirs', kind: other.kind, settings: {} });
    await e.flush();
    for (const path of ['', '/jobs']) {
      const res = await t.app.request(`/settings/storage/${foreign.id}/verification${path}`, { headers: { cookie } });
      expect(res.status).toBe(404);
    }
    const init = form({ operation: 'rebuild_index', confirm: 'yes' });
    const res = await t.app.request(`/settings/storage/${foreign.id}/verification/repair`, {
      ...init,
      headers: { ...init.headers, cookie },
    });
    expect(res.status).toBe(404);
  });
});
