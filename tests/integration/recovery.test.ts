// Recovery pages over real backups of the test service: tasks → entities → snapshots in a date
// range → a snapshot's folder tree, and item search; tenant scope (404) and permissions (403).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogSnapshot } from '../../core/catalog/entities.ts';
import type { IOrganization } from '../../core/identity/entities.ts';
import { Job } from '../../core/jobs/entities.ts';
import { ExportResult } from '../../core/recovery/entities.ts';
import { discoverEntities } from '../../core/tasks/discovery.ts';
import { BackupTask, type ITaskEntity, TaskEntity } from '../../core/tasks/entities.ts';
import { activateEntities, backupNow } from '../../core/tasks/entity-actions.ts';
import testServicePlugin, { changedAt, restoredRuns } from '../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../helpers/jobs.ts';
import { completeSetupVia, ORIGIN, signIn } from '../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../helpers/tenants.ts';

let h: JobsHarness;
let acme: IOrganization;
let taskId: string;
let entities: ITaskEntity[];
let otherTaskId: string;
let otherEntityId: string;
const cookies: Record<string, string> = {};

async function backedUpTask(org: IOrganization, name: string, runs: number, indexForSearch = true) {
  const task = await h.task(org, { entities: 2, items: 3, changesPerRun: 1 }, { name, indexForSearch });
  const em = h.em();
  const fresh = await em.findOneOrFail(BackupTask, { id: task.id });
  await discoverEntities(em, fresh, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  const list = await h.em().find(TaskEntity, { task: task.id }, { orderBy: { externalId: 'asc' } });
  await activateEntities(h.em(), fresh, [list[0]?.id as string], ACTOR);
  for (let run = 0; run < runs; run++) {
    const e = h.em();
    const t = await e.findOneOrFail(BackupTask, { id: task.id });
    await backupNow(e, t, [list[0]?.id as string], { kind: 'user', ...ACTOR }, h.clock.now, 3);
    await h.runner.runUntilIdle();
    // Snapshot times come from the real clock: keep them apart.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { task, list };
}

async function get(path: string, who: string): Promise<Response> {
  return h.app.app.request(path, { headers: { cookie: cookies[who] as string, origin: ORIGIN } });
}

async function post(path: string, who: string, fields: [string, string][]): Promise<Response> {
  return h.app.app.request(path, {
    method: 'POST',
    headers: {
      cookie: cookies[who] as string,
      origin: ORIGIN,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(fields).toString(),
  });
}

beforeAll(async () => {
  h = await createJobsHarness();
  await completeSetupVia(h.app.app);
  const em = h.em();
  const root = await rootOf(em);
  acme = await makeOrganization(em, root, 'customer', 'Acme');
  const other = await makeOrganization(em, root, 'customer', 'Other Tenant');
  await makeUser(em, acme, 'admin@bakery.example');
  await makeUser(em, acme, 'viewer@bakery.example', { role: 'custom', permissions: ['view_activity'] });
  await makeUser(em, acme, 'exporter@bakery.example', { role: 'custom', permissions: ['export_download'] });
  for (const who of ['admin', 'viewer', 'exporter']) {
    cookies[who] = await signIn(h.app.app, `${who}@bakery.example`, TEST_PASSWORD);
  }
  const mine = await backedUpTask(acme, 'Acme backup', 2);
  taskId = mine.task.id;
  entities = mine.list;
  const theirs = await backedUpTask(other, 'Other backup', 1);
  otherTaskId = theirs.task.id;
  otherEntityId = theirs.list[0]?.id as string;
}, 60_000);

afterAll(async () => {
  await h.close();
});

describe('Recovery', () => {
  it('lists the tasks, then their users with first and last backup, filterable by status and name', async () => {
    const home = await get('/recovery', 'admin');
    expect(home.status).toBe(200);
    const html = await home.text();
    expect(html).toContain(`href="/recovery/tasks/${taskId}"`);
    expect(html).toContain('1 of 2');
    expect(html).not.toContain('Other backup');

    const list = await (await get(`/recovery/tasks/${taskId}`, 'admin')).text();
    expect(list).toContain('2 items');
    const first = entities[0] as ITaskEntity;
    expect(list).toContain(`href="/recovery/tasks/${taskId}/entities/${first.id}"`);
    expect(list).toContain('No backup yet');
    const filtered = await (await get(`/recovery/tasks/${taskId}?status=scheduled`, 'admin')).text();
    expect(filtered).toContain('1 item matches the filters');
    expect(filtered).toContain(entities[1]?.name as string);
    const searched = await (
      await get(`/recovery/tasks/${taskId}?q=${encodeURIComponent(first.externalId)}`, 'admin')
    ).text();
    expect(searched).toContain('1 item matches the filters');
    expect(searched).toContain(first.name);
  });

  it('lists snapshots in a date range and refuses a malformed date with a field message', async () => {
    const first = entities[0] as ITaskEntity;
    const base = `/recovery/tasks/${taskId}/entities/${first.id}`;
    const snapshots = await h.em().find(CatalogSnapshot, { task: taskId }, { orderBy: { time: 'desc' } });
    expect(snapshots).toHaveLength(2);
    const page = await (await get(base, 'admin')).text();
    expect(page).toContain('2 snapshots.');
    for (const s of snapshots) expect(page).toContain(`${base}/snapshots/${s.id}`);
    const today = h.clock.now.toISOString().slice(0, 10);
    const inRange = await (await get(`${base}?from=${today}&to=${today}`, 'admin')).text();
    expect(inRange).toContain('2 snapshots in this range.');
    const empty = await (await get(`${base}?from=2001-01-01&to=2001-01-31`, 'admin')).text();
    expect(empty).toContain('No snapshots in this range');
    const bad = await get(`${base}?from=2026-02-30`, 'admin');
    expect(bad.status).toBe(422);
    expect(await bad.text()).toContain('Enter a date as YYYY-MM-DD.');
    const reversed = await get(`${base}?from=2026-03-02&to=2026-03-01`, 'admin');
    expect(await reversed.text()).toContain('The end date is before the start date.');
  });

  it('browses a snapshot’s folders and files and finds items by search', async () => {
    const first = entities[0] as ITaskEntity;
    const base = `/recovery/tasks/${taskId}/entities/${first.id}`;
    const [latest] = await h.em().find(CatalogSnapshot, { task: taskId }, { orderBy: { time: 'desc' } });
    const root = await (await get(`${base}/snapshots/${latest?.id}`, 'admin')).text();
    expect(root).toContain('1 entry in this folder.');
    expect(root).toContain(`href="${base}/snapshots/${latest?.id}?path=${first.externalId}"`);
    expect(root).toContain('3 items');
    const folder = await (await get(`${base}/snapshots/${latest?.id}?path=${first.externalId}`, 'admin')).text();
    expect(folder).toContain('3 entries in this folder.');
    for (const name of ['item-0.txt', 'item-1.txt', 'item-2.txt']) expect(folder).toContain(name);
    expect(folder).toContain('value="items/00000"');
    expect(folder).toContain('64 bytes');

    const search = await (await get(`${base}?mode=search&q=item`, 'admin')).text();
    expect(search).toContain('3 items found.');
    const byName = await (await get(`${base}?mode=search&name=item%202`, 'admin')).text();
    expect(byName).toContain('1 item found.');
    expect(byName).toContain(`value="${latest?.id} items/00002"`);
    const none = await (await get(`${base}?mode=search&q=nothing-like-this`, 'admin')).text();
    expect(none).toContain('Nothing found');
  });

  it('offers the search fields the service declares, filled from the metadata keys it names', async () => {
    const first = entities[0] as ITaskEntity;
    const base = `/recovery/tasks/${taskId}/entities/${first.id}`;
    const form = await (await get(`${base}?mode=search`, 'admin')).text();
    // The test service names its author "Owner" (meta `owner`) and its date "Changed" (meta `changed`).
    expect(form).toContain('>Owner</label>');
    expect(form).toContain('>Changed from</label>');
    expect(form).toContain('>Path</label>');
    expect(form).not.toContain('>Author</label>');
    expect(form).not.toContain('>File name</label>');
    const byOwner = await (await get(`${base}?mode=search&author=owner-1%40`, 'admin')).text();
    expect(byOwner).toContain('1 item found.');
    expect(byOwner).toContain('owner-1@test.example');
    expect(byOwner).toContain('<th scope="col">Owner</th>');
    // Items 1 and 2 changed on 2 and 3 January.
    const byDate = await (
      await get(`${base}?mode=search&modifiedFrom=2026-01-02&modifiedTo=2026-01-03`, 'admin')
    ).text();
    expect(byDate).toContain('2 items found.');
    expect(byDate).toContain(`datetime="${changedAt(1)}"`);
    expect(byDate).not.toContain(`datetime="${changedAt(0)}"`);
    const [latest] = await h.em().find(CatalogSnapshot, { task: taskId }, { orderBy: { time: 'desc' } });
    const folder = await (await get(`${base}/snapshots/${latest?.id}?path=${first.externalId}`, 'admin')).text();
    expect(folder).toContain(`datetime="${changedAt(2)}"`);
    expect(folder).toContain('owner-2@test.example');
  });

  it('offers no key search, item fields or flat list to a service without a presentation', async () => {
    const first = entities[0] as ITaskEntity;
    const base = `/recovery/tasks/${taskId}/entities/${first.id}`;
    const form = await (await get(`${base}?mode=search`, 'admin')).text();
    expect(form).not.toContain('name="keys"');
    expect(form).toContain('Include deleted items');
    // Keys typed anyway are not read: the search is by words alone.
    const typed = await (await get(`${base}?mode=search&q=item&keys=nothing`, 'admin')).text();
    expect(typed).toContain('3 items found.');
    const [latest] = await h.em().find(CatalogSnapshot, { task: taskId }, { orderBy: { time: 'desc' } });
    const view = await get(`${base}/snapshots/${latest?.id}/item?key=items%2F00000`, 'admin');
    expect(view.status).toBe(200);
    expect(await view.text()).toContain('This item has no fields to show');
    expect((await get(`${base}/snapshots/${latest?.id}/item?key=items%2Fnope`, 'admin')).status).toBe(404);
  });

  it('downloads the usage report of the task, and 404 for another tenant’s task', async () => {
    const res = await get(`/tasks/${taskId}/usage.csv`, 'admin');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await res.text())
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines).toHaveLength(entities.length + 1);
    const backedUp = lines.find((l) => l.includes(`,${(entities[0] as ITaskEntity).externalId},`))?.split(',');
    expect(backedUp?.[3]).toBe('Success');
    expect(backedUp?.[7]).toBe('2');
    expect((await get(`/tasks/${otherTaskId}/usage.csv`, 'admin')).status).toBe(404);
  });

  it('browses the backups of a task that does not index for search, and offers no item search there', async () => {
    const unindexed = await backedUpTask(acme, 'Unindexed backup', 2, false);
    const first = unindexed.list[0] as ITaskEntity;
    const list = await (await get(`/recovery/tasks/${unindexed.task.id}`, 'admin')).text();
    expect(list).toContain(`href="/recovery/tasks/${unindexed.task.id}/entities/${first.id}"`);
    const base = `/recovery/tasks/${unindexed.task.id}/entities/${first.id}`;
    const page = await (await get(base, 'admin')).text();
    expect(page).toContain('2 snapshots.');
    const [latest] = await h.em().find(CatalogSnapshot, { task: unindexed.task.id }, { orderBy: { time: 'desc' } });
    const folder = await (await get(`${base}/snapshots/${latest?.id}?path=${first.externalId}`, 'admin')).text();
    expect(folder).toContain('3 entries in this folder.');
    // The setting decides full-text search only: none is offered, and a typed search finds nothing.
    const search = await (await get(`${base}?mode=search&q=item`, 'admin')).text();
    expect(search).toContain('Item search is off for this task');
    expect(search).not.toContain('items found.');
    expect(search).not.toContain('name="q"');
  });

  it('answers 404 for another tenant’s task, entity or snapshot, and 403 without restore or export rights', async () => {
    const first = entities[0] as ITaskEntity;
    const otherSnapshot = await h.em().findOneOrFail(CatalogSnapshot, { task: otherTaskId });
    for (const path of [
      `/recovery/tasks/${otherTaskId}`,
      `/recovery/tasks/${otherTaskId}/entities/${otherEntityId}`,
      `/recovery/tasks/${taskId}/entities/${otherEntityId}`,
      `/recovery/tasks/${taskId}/entities/${first.id}/snapshots/${otherSnapshot.id}`,
    ]) {
      expect((await get(path, 'admin')).status, path).toBe(404);
    }
    expect((await get('/recovery', 'viewer')).status).toBe(403);
    expect((await get(`/recovery/tasks/${taskId}`, 'viewer')).status).toBe(403);
    const exporter = await (await get(`/recovery/tasks/${taskId}/entities/${first.id}`, 'exporter')).text();
    expect(exporter).toContain('>Download</button>');
    expect(exporter).not.toContain('>Restore</button>');
  });

  it('restores a browsed folder in place, through a confirmed form, as a job the test service receives', async () => {
    const first = entities[0] as ITaskEntity;
    const base = `/recovery/tasks/${taskId}/entities/${first.id}`;
    const [latest] = await h.em().find(CatalogSnapshot, { task: taskId }, { orderBy: { time: 'desc' } });
    const snapshot = latest?.id as string;
    const form = await get(`${base}/restore?snapshot=${snapshot}&folder=${first.externalId}`, 'admin');
    expect(form.status).toBe(200);
    const page = await form.text();
    expect(page).toContain('You are about to restore 1 folder from the backup of');
    expect(page).toContain(`<input type="hidden" name="folder" value="${first.externalId}">`);

    const tooLong = await post(`${base}/restore`, 'admin', [
      ['snapshot', snapshot],
      ['folder', first.externalId],
      ['mode', 'in_place'],
      ['label', 'x'.repeat(51)],
    ]);
    expect(tooLong.status).toBe(422);
    expect(await tooLong.text()).toContain('The job label is at most 50 characters.');

    const account = `acct-${acme.id.slice(0, 8)}`;
    const before = restoredRuns.get(account)?.length ?? 0;
    const started = await post(`${base}/restore`, 'admin', [
      ['snapshot', snapshot],
      ['folder', first.externalId],
      ['mode', 'in_place'],
      ['label', 'Folder back'],
    ]);
    expect(started.status).toBe(303);
    expect(started.headers.get('location')).toBe('/jobs');
    const job = await h.em().findOneOrFail(Job, { kind: 'restore', label: 'Folder back' });
    expect(job.params).toMatchObject({
      snapshotId: snapshot,
      mode: 'in_place',
      selection: { paths: [first.externalId] },
    });
    // The page queued it at the app's time; the runner's clock is moved past it.
    h.advance(60_000);
    await h.runner.runUntilIdle();
    expect((await h.em().findOneOrFail(Job, { id: job.id })).state).toBe('succeeded');
    const run = restoredRuns.get(account)?.[before];
    expect(run?.mode).toBe('in_place');
    expect(run?.written.map((w) => w.key)).toEqual(['items/00000', 'items/00001', 'items/00002']);
    // The banner travels in the one-time flash cookie set with the redirect.
    const flash = /holdfast_flash=[^;]*/.exec(started.headers.get('set-cookie') ?? '')?.[0];
    const jobs = await (
      await h.app.app.request('/jobs', { headers: { cookie: `${cookies.admin}; ${flash}`, origin: ORIGIN } })
    ).text();
    expect(jobs).toContain('The restore has started.');
  });

  it('exports search hits of two snapshots as one job per snapshot, and refuses a short passphrase at its field', async () => {
    const first = entities[0] as ITaskEntity;
    const base = `/recovery/tasks/${taskId}/entities/${first.id}`;
    const [newer, older] = await h.em().find(CatalogSnapshot, { task: taskId }, { orderBy: { time: 'desc' } });
    const picks: [string, string][] = [
      ['pick', `${newer?.id} items/00000`],
      ['pick', `${older?.id} items/00001`],
    ];
    const page = await (await get(`${base}/export?${new URLSearchParams(picks).toString()}`, 'exporter')).text();
    expect(page).toContain('You are about to export 2 items found by search');
    const short = await post(`${base}/export`, 'exporter', [
      ...picks,
      ['encryption', 'passphrase'],
      ['passphrase', 'short'],
    ]);
    expect(short.status).toBe(422);
    const refused = await short.text();
    expect(refused).toContain('Enter a passphrase of at least 8 characters.');
    expect(refused).not.toContain('value="short"');

    const before = await h.em().count(Job, { kind: 'export' });
    const started = await post(`${base}/export`, 'exporter', [...picks, ['format', 'zip'], ['encryption', 'none']]);
    expect(started.status).toBe(303);
    expect(started.headers.get('location')).toBe('/jobs');
    const jobs = await h.em().find(Job, { kind: 'export' }, { orderBy: { createdAt: 'asc' } });
    expect(jobs.length - before).toBe(2);
    expect(
      jobs
        .slice(-2)
        .map((j) => (j.params as { snapshotId: string }).snapshotId)
        .sort(),
    ).toEqual([newer?.id, older?.id].sort());
    h.advance(60_000);
    await h.runner.runUntilIdle();
    for (const job of jobs.slice(-2)) {
      expect((await h.em().findOneOrFail(Job, { id: job.id })).state).toBe('succeeded');
      expect(await h.em().count(ExportResult, { job: job.id })).toBe(1);
    }
  });

  it('refuses a restore or export whose selection matches nothing, naming it at the field', async () => {
    const first = entities[0] as ITaskEntity;
    const base = `/recovery/tasks/${taskId}/entities/${first.id}`;
    const [latest] = await h.em().find(CatalogSnapshot, { task: taskId }, { orderBy: { time: 'desc' } });
    const jobsBefore = await h.em().count(Job, {});
    const exported = await post(`${base}/export`, 'admin', [
      ['snapshot', latest?.id as string],
      ['folder', 'No such folder'],
      ['format', 'zip'],
      ['encryption', 'none'],
    ]);
    expect(exported.status).toBe(422);
    expect(await exported.text()).toContain(
      '<p class="field-error">Nothing in this snapshot matches the folder &quot;No such folder&quot;.</p>',
    );
    const restored = await post(`${base}/restore`, 'admin', [
      ['snapshot', latest?.id as string],
      ['key', 'items/99999'],
      ['mode', 'in_place'],
    ]);
    expect(restored.status).toBe(422);
    expect(await restored.text()).toContain('Nothing in this snapshot matches the item &quot;items/99999&quot;.');
    expect(await h.em().count(Job, {})).toBe(jobsBefore);
  });

  it('keeps the forms to their permissions and the entity’s own snapshots', async () => {
    const first = entities[0] as ITaskEntity;
    const base = `/recovery/tasks/${taskId}/entities/${first.id}`;
    const [latest] = await h.em().find(CatalogSnapshot, { task: taskId }, { orderBy: { time: 'desc' } });
    expect((await get(`${base}/restore?snapshot=${latest?.id}`, 'exporter')).status).toBe(403);
    expect((await get(`${base}/export?snapshot=${latest?.id}`, 'viewer')).status).toBe(403);
    const otherSnapshot = await h.em().findOneOrFail(CatalogSnapshot, { task: otherTaskId });
    expect((await get(`${base}/export?snapshot=${otherSnapshot.id}`, 'admin')).status).toBe(404);
    expect((await get(`${base}/export?pick=${otherSnapshot.id}%20items/00000`, 'admin')).status).toBe(404);
    const jobsBefore = await h.em().count(Job, {});
    const sneaky = await post(`${base}/restore`, 'admin', [
      ['snapshot', otherSnapshot.id],
      ['mode', 'in_place'],
    ]);
    expect(sneaky.status).toBe(404);
    expect(await h.em().count(Job, {})).toBe(jobsBefore);
    expect((await get(`${base}/export`, 'admin')).status).toBe(400);
  });
});
