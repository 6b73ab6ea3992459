// Recovery of Salesforce backups through the pages, against the stand-in: an object's snapshot
// listed as its records (flat, paged, no folders), a record's fields read back from the
// repository, and item search by the plugin's fields (created by, updated by, record ids, include
// deleted). Everything here goes through the generic contract (searchFields, presentation).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reindexRepository } from '../../../core/catalog/indexer.ts';
import { itemFieldMap } from '../../../core/catalog/item-fields.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { TaskEntity } from '../../../core/tasks/entities.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND } from '../../../plugins/services/salesforce/index.ts';
import { seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { getTokens, json, makeKey } from '../../helpers/api.ts';
import { ACTOR } from '../../helpers/jobs.ts';
import { completeSetupVia, ORIGIN, signIn } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';
import { backup, createSalesforceHarness, discover, type SalesforceHarness } from './harness.ts';

let s: SalesforceHarness;
let org: IOrganization;
let cookie: string;
let taskId: string;
let contactEntityId: string;
let firstSnapshot: string;
let secondSnapshot: string;
let gone: string;
let goneName: string;
let changed: string;
const editorId = '005000000000042AAA';

async function get(path: string): Promise<Response> {
  return s.h.app.app.request(path, { headers: { cookie, origin: ORIGIN } });
}

async function page(path: string): Promise<string> {
  const res = await get(path);
  expect(res.status, path).toBe(200);
  return res.text();
}

beforeAll(async () => {
  s = await createSalesforceHarness(7);
  // 120 contacts: more than one page of the flat list (100 a page).
  seedDemoOrg(s.fake.org, { accounts: 30, contactsPerAccount: 4 });
  await completeSetupVia(s.h.app.app);
  const em = s.h.em();
  org = await makeOrganization(em, await rootOf(em), 'customer', 'Acme');
  await makeUser(em, org, 'admin@acme-sf.example');
  cookie = await signIn(s.h.app.app, 'admin@acme-sf.example', TEST_PASSWORD);
  const e = s.h.em();
  const task = await createTask(
    e,
    s.h.deps,
    e.getReference((await import('../../../core/identity/entities.ts')).Organization, org.id),
    {
      service: SALESFORCE_KIND,
      name: 'Acme Salesforce',
      connection: {
        environment: 'production',
        orgId: s.fake.org.id,
        orgName: s.fake.org.name,
        refreshToken: s.fake.grant(s.fake.org).refreshToken,
      },
      settings: {},
    },
    ACTOR,
  );
  taskId = task.id;
  await discover(s, taskId);
  const [first] = await backup(s, taskId, ['Contact']);
  expect(first?.state).toBe('succeeded');
  [changed, gone] = s.fake.org.liveIds('Contact') as [string, string];
  goneName = String(s.fake.org.object('Contact')?.records.get(gone)?.values.Name);
  s.clock.now += 3600_000;
  s.fake.org.update('Contact', changed, { LastModifiedById: editorId, Email: 'moved@example.com' });
  s.fake.org.delete('Contact', gone);
  const [second] = await backup(s, taskId, ['Contact']);
  expect(second?.state).toBe('succeeded');
  const contact = await s.h.em().findOneOrFail(TaskEntity, { task: taskId, name: 'Contact' });
  contactEntityId = contact.id;
  secondSnapshot = contact.lastSnapshotId as string;
  const snapshots = await s.h
    .em()
    .find(
      (await import('../../../core/catalog/entities.ts')).CatalogSnapshot,
      { task: taskId, entity: 'Contact' },
      { orderBy: { time: 'asc' } },
    );
  expect(snapshots.map((x) => x.id)).toHaveLength(2);
  firstSnapshot = snapshots[0]?.id as string;
}, 120_000);

afterAll(async () => {
  await s?.close();
});

const base = () => `/recovery/tasks/${taskId}/entities/${contactEntityId}`;

describe('Salesforce recovery', () => {
  it('lists the task’s objects by type (Data or Metadata) to recover from', async () => {
    const data = await page(`/recovery/tasks/${taskId}?kind=data&q=Contact`);
    expect(data).toContain('<option value="data" selected>Data</option>');
    expect(data).toContain(`href="${base()}"`);
    const metadata = await page(`/recovery/tasks/${taskId}?kind=metadata&q=Contact`);
    expect(metadata).not.toContain(`href="${base()}"`);
    // An unknown type is no filter.
    expect(await page(`/recovery/tasks/${taskId}?kind=nope&q=Contact`)).toContain(`href="${base()}"`);
  });

  it('lists an object’s snapshot as its records, paged, each opening its fields', async () => {
    const html = await page(`${base()}/snapshots/${firstSnapshot}`);
    expect(html).toContain('120 items in this snapshot');
    expect(html).toContain('Page 1 of 2');
    // Columns from the plugin: Record ID, Created by, Updated by; no folders.
    expect(html).toContain('<th scope="col">Record ID</th>');
    expect(html).toContain('<th scope="col">Updated by (user id)</th>');
    expect(html).not.toContain('folder-link');
    const second = await page(`${base()}/snapshots/${firstSnapshot}?page=2`);
    expect(second).toContain('Page 2 of 2');
    // Each record on exactly one of the two pages.
    const ids = [...`${html}${second}`.matchAll(/name="key" value="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(120);
    expect(ids).toContain(gone);
  });

  it('shows a record’s fields as they were backed up, and 404 for a record the snapshot does not hold', async () => {
    const html = await page(`${base()}/snapshots/${firstSnapshot}/item?key=${gone}`);
    const stored = s.fake.org.object('Contact')?.records.get(gone)?.values ?? {};
    expect(html).toContain(`<h1 class="overflow-anywhere">${goneName}</h1>`);
    expect(html).toMatch(
      new RegExp(`>LastName</th><td data-label="Value" class="overflow-anywhere">${stored.LastName}</td>`),
    );
    expect(html).toMatch(new RegExp(`>Id</th><td data-label="Value" class="overflow-anywhere">${gone}</td>`));
    // A null field is shown empty, not as "null".
    expect(html).not.toContain('>null</td>');
    expect((await get(`${base()}/snapshots/${secondSnapshot}/item?key=${gone}`)).status).toBe(404);
    expect((await get(`${base()}/snapshots/${firstSnapshot}/item?key=nope`)).status).toBe(404);
  });

  it('finds a deleted record by its id only when deleted items are included, in the snapshot before the deletion', async () => {
    const without = await page(`${base()}?mode=search&keys=${gone}`);
    expect(without).toContain('Nothing found');
    const withDeleted = await page(`${base()}?mode=search&keys=${gone}&deleted=include`);
    expect(withDeleted).toContain('1 item found');
    expect(withDeleted).toContain('Deleted at source');
    expect(withDeleted).toContain(`${base()}/snapshots/${firstSnapshot}/item?key=${gone}`);
    expect(withDeleted).toContain(`value="${firstSnapshot} ${gone}"`);
  });

  it('searches by updated-by and created-by user ids, and by several record ids', async () => {
    const byEditor = await page(`${base()}?mode=search&editor=${editorId.slice(3, 15)}`);
    expect(byEditor).toContain('1 item found');
    expect(byEditor).toContain(`value="${secondSnapshot} ${changed}"`);
    const byCreator = await page(`${base()}?mode=search&author=${s.fake.org.adminId}&deleted=include`);
    expect(byCreator).toContain('120 items found');
    const live = s.fake.org.liveIds('Contact').slice(2, 5);
    const byIds = await page(`${base()}?mode=search&keys=${encodeURIComponent(live.join(', '))}`);
    expect(byIds).toContain('3 items found');
    const tooMany = await get(
      `${base()}?mode=search&keys=${Array.from({ length: 101 }, (_, i) => `id${i}`).join('+')}`,
    );
    expect(tooMany.status).toBe(422);
    expect(await tooMany.text()).toContain('Enter at most 100 Record IDs.');
  });

  it('downloads the usage report: every object and metadata type with its status, records and last snapshot', async () => {
    const res = await get(`/tasks/${taskId}/usage.csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="Acme-Salesforce-usage-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    const lines = (await res.text())
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe(
      'Type,Name,Id at the service,Status,Items,Size (bytes),Last snapshot (UTC),Snapshots,Last backup (UTC),Added,Updated,Deleted,Last error',
    );
    const contact = lines.find((l) => l.startsWith('Data,Contact,Contact,'))?.split(',');
    expect(contact?.slice(0, 5)).toEqual(['Data', 'Contact', 'Contact', 'Success', '119']);
    expect(contact?.[7]).toBe('2');
    expect(contact?.slice(9, 12)).toEqual(['0', '1', '1']);
    // Objects not backed up are listed too, with their status.
    expect(lines.find((l) => l.startsWith('Data,Account,Account,'))?.split(',')[3]).toBe('Scheduled');
    const entities = await s.h.em().count(TaskEntity, { task: taskId, deletedAt: null });
    expect(lines).toHaveLength(entities + 1);
  });

  it('answers the same through the API: records listed flat, a record’s fields, search by editor, ids and deleted', async () => {
    const { access_token } = await getTokens(s.h.app.app, await makeKey(s.h.app, org));
    const api = async (path: string) =>
      s.h.app.app.request(`/api/v1${path}`, { headers: { authorization: `Bearer ${access_token}` } });
    const entity = `/tasks/${taskId}/entities/${contactEntityId}`;
    const listing = await json(await api(`${entity}/snapshots/${firstSnapshot}/items?pageSize=50`));
    expect(listing.total).toBe(120);
    expect(listing.items).toHaveLength(50);
    expect(listing.items.every((i: { folder: boolean }) => !i.folder)).toBe(true);
    const item = await json(await api(`${entity}/snapshots/${firstSnapshot}/item?key=${gone}`));
    expect(item.name).toBe(goneName);
    expect(item.fields).toEqual(expect.arrayContaining([{ label: 'Id', value: gone }]));
    expect((await api(`${entity}/snapshots/${secondSnapshot}/item?key=${gone}`)).status).toBe(404);
    const deleted = await json(await api(`${entity}/items?deleted=only`));
    expect(deleted.items.map((h: { key: string }) => h.key)).toEqual([gone]);
    expect(deleted.items[0].snapshot.id).toBe(firstSnapshot);
    const excluded = await json(await api(`${entity}/items?keys=${gone},${changed}&deleted=exclude`));
    expect(excluded.items.map((h: { key: string }) => h.key)).toEqual([changed]);
    const byEditor = await json(await api(`${entity}/items?editor=${editorId}`));
    expect(byEditor.items.map((h: { key: string; editor: string }) => [h.key, h.editor])).toEqual([
      [changed, editorId],
    ]);
    const usage = await api(`/tasks/${taskId}/usage.csv`);
    expect(usage.status).toBe(200);
    expect(await usage.text()).toContain('Data,Contact,Contact,Success,119,');
  });

  it('keeps who last changed a record through a reindex from the repository alone', async () => {
    const task = await s.h
      .em()
      .findOneOrFail(
        (await import('../../../core/tasks/entities.ts')).BackupTask,
        { id: taskId },
        { populate: ['organization'] },
      );
    const opened = await s.h.ctx.storage.open({
      id: task.id,
      organizationId: task.organization.id,
      storageLocation: task.storageLocation ?? null,
    });
    try {
      const fields = itemFieldMap(servicePlugin(SALESFORCE_KIND)?.searchFields ?? []);
      const report = await reindexRepository(s.h.em(), opened.repo, opened.description, () => fields);
      expect(report.snapshots).toBeGreaterThanOrEqual(2);
    } finally {
      await opened.close();
    }
    const byEditor = await page(`${base()}?mode=search&editor=${editorId}`);
    expect(byEditor).toContain('1 item found');
    expect(byEditor).toContain(`value="${secondSnapshot} ${changed}"`);
  });
});
