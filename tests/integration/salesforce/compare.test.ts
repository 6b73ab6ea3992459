// Compare (seed 6.1/6.2) through the kernel's compare job: a stand-in org backed up, mutated by a
// known script (inserts, updates of chosen fields, deletes, a new custom object, a changed profile
// and Apex class), backed up again; the compare of the two points in time shows exactly those
// changes, reads only the changed items' content, and its CSV holds exactly those rows. The live
// org as the right side, read by the job after the same mutation, shows the very same; a finished
// compare is a System Activity row; its result is kept 7 days, then maintenance deletes it.
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../core/access/api-keys.ts';
import { principalForUser } from '../../../core/access/principal.ts';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { runCompareJob } from '../../../core/compare/compare-job.ts';
import { compareCsvRows } from '../../../core/compare/csv-rows.ts';
import {
  type CompareSummary,
  comparesFolder,
  type DifferenceLine,
  readDifferences,
  readSummary,
} from '../../../core/compare/result-store.ts';
import { startCompare } from '../../../core/compare/start.ts';
import { NotFoundError, ValidationError } from '../../../core/errors.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { runMaintenance } from '../../../core/maintenance.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND } from '../../../plugins/services/salesforce/index.ts';
import { METADATA_NS, seedDemoMetadata, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { getTokens, json, withBearer } from '../../helpers/api.ts';
import { ACTOR } from '../../helpers/jobs.ts';
import { completeSetupVia, ORIGIN, signIn } from '../../helpers/kernel.ts';
import { startContext } from '../../helpers/recovery.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';
import { backup, createSalesforceHarness, discover, type SalesforceHarness, salesforceTask } from './harness.ts';

const HOUR = 3600_000;
let s: SalesforceHarness;
let org: IOrganization;
let taskId: string;
let before: string;
let after: string;
const script = {} as {
  inserted: string;
  updated: string;
  deleted: string;
  renamedAccount: string;
  invoices: string[];
};

async function backupAll(): Promise<void> {
  const names = (await s.h.em().find(TaskEntity, { task: taskId })).map((e) => e.name);
  const jobs = await backup(s, taskId, names);
  expect(jobs.filter((j) => j.state !== 'succeeded').map((j) => [j.label, j.error])).toEqual([]);
}

/** The time of the task's newest snapshot: a point in time after the last backup. */
async function lastSnapshotTime(): Promise<string> {
  const opened = await s.h.ctx.storage.open({ id: taskId, organizationId: org.id, storageLocation: null });
  try {
    const times = (await opened.repo.listSnapshots()).map((snapshot) => snapshot.manifest.time);
    return times.sort().at(-1) as string;
  } finally {
    await opened.close();
  }
}

beforeAll(async () => {
  s = await createSalesforceHarness();
  seedDemoOrg(s.fake.org, { accounts: 10, contactsPerAccount: 5 });
  seedDemoMetadata(s.fake.metadata());
  s.clock.now += HOUR;
  const task = await salesforceTask(s);
  taskId = task.id;
  org = await s.h.em().findOneOrFail(Organization, { id: task.organization.id });
  await discover(s, taskId);
  await backupAll();
  before = await lastSnapshotTime();

  // The known script.
  s.clock.now += HOUR;
  const sf = s.fake.org;
  const [updated, deleted] = sf.liveIds('Contact') as [string, string];
  script.updated = updated;
  script.deleted = deleted;
  sf.update('Contact', updated, { Email: 'changed@example.com', LastName: 'Changed' });
  sf.delete('Contact', deleted);
  script.inserted = sf.insert('Contact', { LastName: 'Newcomer', Name: 'Newcomer', Email: 'new@example.com' });
  script.renamedAccount = sf.liveIds('Account')[3] as string;
  sf.update('Account', script.renamedAccount, { Name: 'Renamed Inc.', Phone: '+1 555 0100' });
  sf.defineObject('Invoice__c', [{ name: 'Total__c', type: 'currency', custom: true }], {
    label: 'Invoice',
    custom: true,
  });
  script.invoices = [
    sf.insert('Invoice__c', { Name: 'INV-1', Total__c: 10 }),
    sf.insert('Invoice__c', { Name: 'INV-2', Total__c: 20 }),
  ];
  const metadata = s.fake.metadata();
  metadata.put(
    'CustomObject',
    'Invoice__c',
    `<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="${METADATA_NS}"><label>Invoice</label></CustomObject>\n`,
  );
  metadata.put(
    'Profile',
    'Admin',
    `<?xml version="1.0" encoding="UTF-8"?>\n<Profile xmlns="${METADATA_NS}"><custom>false</custom><userLicense>Salesforce</userLicense></Profile>\n`,
  );
  metadata.put(
    'ApexClass',
    'AccountService',
    'public with sharing class AccountService {\n  public static void touch() {\n    update new Account();\n  }\n}\n',
  );
  s.clock.now += 60_000;
  await discover(s, taskId);
  await backupAll();
  after = await lastSnapshotTime();
});
afterAll(async () => {
  await s?.close();
});

async function runCompare(request: { leftTime: string; rightTime: string; entityIds?: string[]; rightLive?: boolean }) {
  const started = await startCompare(startContext(s.h, org), { taskId, ...request });
  await s.h.runner.runUntilIdle();
  const job = await s.h.em().findOneOrFail(Job, { id: started.id });
  expect([job.state, job.error]).toEqual(['succeeded', null]);
  const dataDir = s.h.ctx.settings.dataDir;
  const summary = await readSummary(dataDir, org.id, job.id);
  const lines: DifferenceLine[] = [];
  for await (const line of readDifferences(dataDir, org.id, job.id)) lines.push(line);
  return { job, summary, lines };
}

function differing(summary: CompareSummary) {
  return summary.objects
    .filter((o) => o.leftUnique + o.changed + o.rightUnique > 0 || o.inLeft !== o.inRight)
    .map((o) => [o.name, o.inLeft, o.inRight, o.leftUnique, o.changed, o.rightUnique]);
}

describe('Salesforce compare of two snapshots', () => {
  it('shows exactly the script’s changes, field by field, and nothing else', async () => {
    const { summary, lines } = await runCompare({ leftTime: before, rightTime: after });
    expect(differing(summary)).toEqual([
      ['Account', true, true, 0, 1, 0],
      ['ApexClass', true, true, 0, 1, 0],
      ['Contact', true, true, 1, 1, 1],
      ['CustomObject', true, true, 0, 0, 1],
      ['Invoice__c', false, true, 0, 0, 2],
      ['Profile', true, true, 0, 1, 0],
    ]);
    const contact = summary.objects.find((o) => o.name === 'Contact');
    expect([contact?.leftTotal, contact?.rightTotal]).toEqual([50, 50]);
    const byKey = new Map(lines.map((l) => [l.key, l]));
    // Only the chosen fields: the system fields that moved with the edit are left out.
    expect(byKey.get(script.updated)?.fields).toEqual([
      { field: 'LastName', left: expect.any(String), right: 'Changed' },
      { field: 'Email', left: expect.any(String), right: 'changed@example.com' },
    ]);
    expect(byKey.get(script.renamedAccount)?.fields?.map((f) => [f.field, f.right])).toEqual([
      ['Name', 'Renamed Inc.'],
      ['Phone', '+1 555 0100'],
    ]);
    expect([byKey.get(script.deleted)?.side, byKey.get(script.inserted)?.side]).toEqual(['left', 'right']);
    expect(script.invoices.map((id) => byKey.get(id)?.side)).toEqual(['right', 'right']);
    expect(byKey.get('objects/Invoice__c.object')?.side).toBe('right');
    const apex = byKey.get('classes/AccountService.cls');
    expect(apex?.diff).toContain('--- a/classes/AccountService.cls');
    expect(apex?.diff).toContain('-  public static void touch() {}');
    expect(apex?.diff).toContain('+    update new Account();');
    expect(byKey.get('profiles/Admin.profile')?.diff).toContain('<userLicense>Salesforce</userLicense>');
    expect(lines).toHaveLength(9);
    expect(summary.ignoredFields).toContain('SystemModstamp');
    // Content read: both versions of the four changed items; every unchanged item only listed.
    expect(summary.contentReads).toBe(8);
    // Started by someone: the security audit says who compared what.
    const audited = await s.h.em().find(AuditEvent, { activity: 'Compare started' });
    expect(audited.length).toBeGreaterThan(0);
  });

  it('writes the same differences as CSV rows, one per changed field', async () => {
    const { summary, lines } = await runCompare({ leftTime: before, rightTime: after });
    const rows: string[][] = [];
    for await (const row of compareCsvRows(
      summary,
      (async function* () {
        yield* lines;
      })(),
    ))
      rows.push(row);
    expect(rows.filter((r) => r[3] === 'Changed' && r[4] !== '').map((r) => [r[0], r[1], r[4]])).toEqual([
      ['Account', script.renamedAccount, 'Name'],
      ['Account', script.renamedAccount, 'Phone'],
      ['Contact', script.updated, 'LastName'],
      ['Contact', script.updated, 'Email'],
    ]);
    expect(rows).toHaveLength(11);
  });

  it('compares only the chosen objects, and a time with itself shows nothing', async () => {
    const contact = await s.h.em().findOneOrFail(TaskEntity, { task: taskId, name: 'Contact' });
    const chosen = await runCompare({ leftTime: before, rightTime: after, entityIds: [contact.id] });
    expect(chosen.summary.objects.map((o) => o.name)).toEqual(['Contact']);
    const same = await runCompare({ leftTime: after, rightTime: after });
    expect(differing(same.summary)).toEqual([]);
    expect(same.summary.contentReads).toBe(0);
  });

  it('serves the result, an object, a diff and the CSV to the organization, and none of it to another', async () => {
    const { job } = await runCompare({ leftTime: before, rightTime: after });
    await completeSetupVia(s.h.app.app);
    const em = s.h.em();
    await makeUser(em, org, 'owner@compare.example');
    const other = await makeOrganization(em, await rootOf(em), 'customer', 'Other');
    await makeUser(em, other, 'other@compare.example');
    const as = async (email: string) => {
      const cookie = await signIn(s.h.app.app, email, TEST_PASSWORD);
      return (path: string) => s.h.app.app.request(path, { headers: { cookie, origin: ORIGIN } });
    };
    const owner = await as('owner@compare.example');
    const form = await owner(`/tasks/${taskId}/compare`);
    expect(form.status, await form.clone().text()).toBe(200);
    const formHtml = await form.text();
    expect(formHtml).toContain('Left: Salesforce backup as of (UTC)');
    expect(formHtml).toContain('<span>Contact</span>');
    const refused = await s.h.app.app.request(`/tasks/${taskId}/compare`, {
      method: 'POST',
      headers: {
        cookie: await signIn(s.h.app.app, 'owner@compare.example', TEST_PASSWORD),
        origin: ORIGIN,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ leftTime: 'soon', rightTime: '2026-12-01T08:15' }).toString(),
    });
    expect(refused.status).toBe(422);
    expect(await refused.text()).toContain('Enter the date and time of the left side.');
    // The form's live choice: no right time needed; the job is queued to read the org now.
    expect(formHtml).toContain('Its live account, as it is now');
    const startedLive = await s.h.app.app.request(`/tasks/${taskId}/compare`, {
      method: 'POST',
      headers: {
        cookie: await signIn(s.h.app.app, 'owner@compare.example', TEST_PASSWORD),
        origin: ORIGIN,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        leftTime: before,
        rightSource: 'live',
        rightTaskId: taskId,
        rightTime: '',
      }).toString(),
    });
    expect([startedLive.status, startedLive.headers.get('location')]).toEqual([303, '/jobs?started=compare']);
    const queued = await s.h.em().find(Job, { kind: 'compare', state: 'pending' });
    expect(queued.map((j) => j.params.rightLive)).toEqual([true]);
    const result = await owner(`/compare/${job.id}`);
    expect(result.status).toBe(200);
    const html = await result.text();
    expect(html).toContain('Invoice__c');
    expect(html).toContain('Exists only in');
    const summary = await readSummary(s.h.ctx.settings.dataDir, org.id, job.id);
    const contact = summary.objects.findIndex((o) => o.name === 'Contact');
    const objectPage = await (await owner(`/compare/${job.id}/objects/${contact}`)).text();
    expect(objectPage).toContain('changed@example.com');
    expect(objectPage).toContain(script.deleted);
    const apex = summary.objects.findIndex((o) => o.name === 'ApexClass');
    const key = encodeURIComponent('classes/AccountService.cls');
    const diff = await owner(`/compare/${job.id}/objects/${apex}/diff?key=${key}&download=1`);
    expect(diff.headers.get('content-type')).toContain('text/x-diff');
    expect(await diff.text()).toContain('+    update new Account();');
    const csv = await owner(`/compare/${job.id}.csv`);
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename=".+\.csv"$/);
    const lines = (await csv.text())
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe('Object,Key,Name,Difference,Field,Left value,Right value');
    expect(lines).toHaveLength(12);
    const updatedRows = lines.filter((l) => l.startsWith(`Contact,${script.updated},`)).map((l) => l.split(','));
    expect(updatedRows.map((cells) => [cells[3], cells[4], cells[6]])).toEqual([
      ['Changed', 'LastName', 'Changed'],
      ['Changed', 'Email', 'changed@example.com'],
    ]);

    const stranger = await as('other@compare.example');
    for (const path of [`/compare/${job.id}`, `/compare/${job.id}.csv`, `/compare/${job.id}/objects/${contact}`]) {
      expect((await stranger(path)).status, path).toBe(404);
    }
  });

  it('with the live org on the right, after the same mutation, shows the same differences', async () => {
    const snapshots = await runCompare({ leftTime: before, rightTime: after });
    const live = await runCompare({ leftTime: before, rightTime: '', rightLive: true });
    expect(live.summary.right).toMatchObject({ taskId, live: true });
    expect(differing(live.summary)).toEqual(differing(snapshots.summary));
    const shape = (lines: DifferenceLine[]) =>
      lines
        .map((l) => [l.o, l.key, l.side, l.fields ?? null, l.diff ?? null])
        .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
    expect(shape(live.lines)).toEqual(shape(snapshots.lines));
    const totals = (summary: CompareSummary) => summary.objects.map((o) => [o.name, o.leftTotal, o.rightTotal]);
    expect(totals(live.summary)).toEqual(totals(snapshots.summary));
    // The scratch copy of the live org is gone once the job ends.
    const folder = await readdir(comparesFolder(s.h.ctx.settings.dataDir, org.id));
    expect(folder.filter((name) => name.endsWith('.live'))).toEqual([]);
  });

  it('with the live org, reads only the chosen objects and names the right side live in the CSV', async () => {
    const contact = await s.h.em().findOneOrFail(TaskEntity, { task: taskId, name: 'Contact' });
    const { summary, lines } = await runCompare({
      leftTime: before,
      rightTime: '',
      rightLive: true,
      entityIds: [contact.id],
    });
    expect(differing(summary)).toEqual([['Contact', true, true, 1, 1, 1]]);
    const rows: string[][] = [];
    for await (const row of compareCsvRows(
      summary,
      (async function* () {
        yield* lines;
      })(),
    ))
      rows.push(row);
    const inserted = rows.find((r) => r[1] === script.inserted);
    expect(inserted?.[3]).toBe(`Only in Salesforce backup (live, read at ${summary.right.time})`);
  });

  it('refuses a live compare with a disconnected task, on the right-side field', async () => {
    const em = s.h.em();
    const task = await em.findOneOrFail(BackupTask, { id: taskId });
    task.connectionState = 'disconnected';
    await em.flush();
    try {
      const refused = startCompare(startContext(s.h, org), {
        taskId,
        leftTime: before,
        rightTime: '',
        rightLive: true,
      });
      await expect(refused).rejects.toMatchObject({
        fields: {
          rightTaskId: 'Salesforce backup is disconnected: authenticate it again to compare with its live account.',
        },
      });
    } finally {
      task.connectionState = 'connected';
      await em.flush();
    }
  });

  it('compares with another org’s task, its snapshot or its live org, alike, and the result searches by object', async () => {
    // Another org (a Sandbox) with the same metadata but one class changed and one flow more.
    const other = s.fake.addOrg('Acme Sandbox');
    seedDemoOrg(other, { accounts: 1, contactsPerAccount: 1 });
    const store = s.fake.metadata(other);
    seedDemoMetadata(store);
    store.put(
      'ApexClass',
      'ProjectRollup',
      'public class ProjectRollup {\n  public static Decimal total() { return 42; }\n}\n',
    );
    store.put(
      'Flow',
      'Sandbox_Only',
      `<?xml version="1.0" encoding="UTF-8"?>\n<Flow xmlns="${METADATA_NS}"><label>Sandbox only</label></Flow>\n`,
    );
    const e = s.h.em();
    const otherTask = await createTask(
      e,
      s.h.deps,
      e.getReference(Organization, org.id),
      {
        service: SALESFORCE_KIND,
        name: 'Sandbox backup',
        connection: {
          environment: 'sandbox',
          orgId: other.id,
          orgName: other.name,
          refreshToken: s.fake.grant(other).refreshToken,
        },
        settings: {},
      },
      ACTOR,
    );
    await discover(s, otherTask.id);
    const jobs = await backup(s, otherTask.id, ['ApexClass', 'Flow']);
    expect(jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
    const chosen = await s.h.em().find(TaskEntity, { task: taskId, name: { $in: ['ApexClass', 'Flow'] } });
    const request = { taskId, leftTime: after, entityIds: chosen.map((c) => c.id), rightTaskId: otherTask.id };
    const run = async (extra: { rightTime: string; rightLive?: boolean }) => {
      const started = await startCompare(startContext(s.h, org), { ...request, ...extra });
      await s.h.runner.runUntilIdle();
      const job = await s.h.em().findOneOrFail(Job, { id: started.id });
      expect([job.state, job.error]).toEqual(['succeeded', null]);
      const summary = await readSummary(s.h.ctx.settings.dataDir, org.id, job.id);
      const lines: DifferenceLine[] = [];
      for await (const line of readDifferences(s.h.ctx.settings.dataDir, org.id, job.id)) lines.push(line);
      return { job, summary, lines };
    };
    const snapshot = await run({ rightTime: new Date(s.h.clock.now).toISOString() });
    const live = await run({ rightTime: '', rightLive: true });
    const shape = (lines: DifferenceLine[]) => lines.map((l) => [l.key, l.side]);
    // This org's changed AccountService and the Sandbox's changed ProjectRollup; the Sandbox's own flow.
    expect(shape(snapshot.lines)).toEqual([
      ['classes/AccountService.cls', 'both'],
      ['classes/ProjectRollup.cls', 'both'],
      ['flows/Sandbox_Only.flow', 'right'],
    ]);
    expect(shape(live.lines)).toEqual(shape(snapshot.lines));
    expect(live.summary.right).toMatchObject({ taskName: 'Sandbox backup', live: true });
    expect(snapshot.lines.find((l) => l.key === 'classes/ProjectRollup.cls')?.diff).toContain(
      '+  public static Decimal total() { return 42; }',
    );

    // Signed up by the result-pages test above.
    const cookie = await signIn(s.h.app.app, 'owner@compare.example', TEST_PASSWORD);
    const page = await s.h.app.app.request(`/compare/${live.job.id}?q=flo`, { headers: { cookie, origin: ORIGIN } });
    const html = await page.text();
    expect(html).toContain('Sandbox backup live, read at');
    expect(html).toContain('>Flow</a>');
    expect(html).not.toContain('>ApexClass</a>');
  });

  it('records a finished compare in System Activity', async () => {
    const { job } = await runCompare({ leftTime: before, rightTime: after });
    const row = await s.h.em().findOneOrFail(ActivityEvent, { jobId: job.id });
    expect([row.activity, row.status, row.taskName]).toEqual(['Compare', 'succeeded', 'Salesforce backup']);
    expect(row.summary).toBe(
      `Compare of Salesforce backup: completed (${job.result?.compared} objects compared, 6 differing).`,
    );
  });

  it('stops when canceled, leaving no result behind', async () => {
    const started = await startCompare(startContext(s.h, org), { taskId, leftTime: before, rightTime: after });
    const em = s.h.em();
    const job = await em.findOneOrFail(Job, { id: started.id }, { populate: ['task', 'organization'] });
    const controller = new AbortController();
    const progress = { items: 0, bytes: 0, step: null as string | null };
    // Canceled once the first object is done.
    const watched = new Proxy(progress, {
      set(target, name, value) {
        if (name === 'items' && value === 1) controller.abort(new Error('the job was canceled'));
        return Reflect.set(target, name, value);
      },
    });
    const run = runCompareJob({
      ctx: s.h.ctx,
      em,
      job,
      signal: controller.signal,
      progress: watched,
      log: s.h.ctx.log,
      // Run outside the queue (no claim to lose): the compare's outcome is the queue's to record.
      confirmHeld: () => Promise.resolve(),
      appendLog: () => Promise.resolve(false),
    });
    await expect(run).rejects.toThrow('the job was canceled');
    expect(progress.items).toBe(1);
    const left = await readdir(comparesFolder(s.h.ctx.settings.dataDir, org.id));
    expect(left.filter((name) => name.startsWith(job.id))).toEqual([]);
    await em.nativeDelete(Job, { id: job.id });
  });

  it('stops a live compare when canceled, removing the live org’s scratch copy', async () => {
    const started = await startCompare(startContext(s.h, org), {
      taskId,
      leftTime: before,
      rightTime: '',
      rightLive: true,
    });
    const em = s.h.em();
    const job = await em.findOneOrFail(Job, { id: started.id }, { populate: ['task', 'organization'] });
    const controller = new AbortController();
    const progress = { items: 0, bytes: 0, step: null as string | null };
    const steps: string[] = [];
    const watched = new Proxy(progress, {
      set(target, name, value) {
        if (name === 'step') steps.push(String(value));
        if (name === 'items' && value === 2) controller.abort(new Error('the job was canceled'));
        return Reflect.set(target, name, value);
      },
    });
    const run = runCompareJob({
      ctx: s.h.ctx,
      em,
      job,
      signal: controller.signal,
      progress: watched,
      log: s.h.ctx.log,
      // Run outside the queue (no claim to lose): the compare's outcome is the queue's to record.
      confirmHeld: () => Promise.resolve(),
      appendLog: () => Promise.resolve(false),
    });
    await expect(run).rejects.toThrow('the job was canceled');
    expect(progress.items).toBe(2);
    // Its progress named the live reads.
    expect(steps.some((step) => /^reading .+ from Salesforce backup \(live\)$/.test(step))).toBe(true);
    const left = await readdir(comparesFolder(s.h.ctx.settings.dataDir, org.id));
    expect(left.filter((name) => name.startsWith(job.id))).toEqual([]);
    await em.nativeDelete(Job, { id: job.id });
  });

  it('refuses another tenant’s task and times that are not dates', async () => {
    await expect(
      startCompare(startContext(s.h, org), { taskId: 'no-such-task', leftTime: before, rightTime: after }),
    ).rejects.toBeInstanceOf(NotFoundError);
    const refused = startCompare(startContext(s.h, org), { taskId, leftTime: 'yesterday-ish', rightTime: after });
    await expect(refused).rejects.toBeInstanceOf(ValidationError);
    await expect(refused).rejects.toMatchObject({ fields: { leftTime: expect.any(String) } });
  });

  it('fails a live compare the task’s API usage limit stops, naming the object and the limit', async () => {
    const em = s.h.em();
    const task = await em.findOneOrFail(BackupTask, { id: taskId });
    const sf = s.fake.org;
    const budget = { ...sf.api };
    const pageSize = s.fake.pageSize;
    // 10 % of 200 = 20 calls for the task, all spent already: the first answer says so.
    task.apiUsageLimitPercent = 10;
    await em.flush();
    sf.api.max = 200;
    sf.api.used = 20;
    s.fake.pageSize = 2;
    try {
      const started = await startCompare(startContext(s.h, org), {
        taskId,
        leftTime: before,
        rightTime: '',
        rightLive: true,
      });
      await s.h.runner.runUntilIdle();
      const job = await s.h.em().findOneOrFail(Job, { id: started.id });
      expect(job.state).toBe('failed');
      expect(job.error).toMatch(
        /^The live account could not be read whole, so the compare stopped: reading \w+ from Salesforce backup stopped early\. Stopped at the task's API usage limit \(10 % of the org's 200 daily API requests = 20; \d+ used\)\. Raise the task's API usage limit \(now 10 %\) or compare fewer objects\.$/,
      );
      const folder = await readdir(comparesFolder(s.h.ctx.settings.dataDir, org.id));
      expect(folder.filter((name) => name.startsWith(job.id))).toEqual([]);
    } finally {
      Object.assign(sf.api, budget);
      s.fake.pageSize = pageSize;
      task.apiUsageLimitPercent = null;
      await em.flush();
    }
  });

  it('starts a compare and reads its result through the API, within the tenant and permission rules', async () => {
    // Set up already when the whole file runs; a second call changes nothing.
    await completeSetupVia(s.h.app.app);
    const em = s.h.em();
    const owner = await makeUser(em, org, 'api-owner@compare.example');
    const made = await createApiKey(em, em.merge(org), principalForUser(owner), { label: owner.email });
    const token = (await getTokens(s.h.app.app, { clientId: made.key.id, secret: made.secret })).access_token;
    const api = (path: string, method = 'GET', body?: unknown) =>
      s.h.app.app.request(`/api/v1${path}`, withBearer(token, method, body));

    const started = await api(`/tasks/${taskId}/compare`, 'POST', { leftTime: before, rightTime: after });
    expect(started.status).toBe(202);
    const { id, url, resultUrl } = await json(started);
    expect([url, resultUrl]).toEqual([`/api/v1/jobs/${id}`, `/api/v1/jobs/${id}/compare`]);
    const pending = await json(await api(`/jobs/${id}/compare`));
    expect([pending.state, pending.result]).toEqual(['pending', null]);
    await s.h.runner.runUntilIdle();
    const done = await json(await api(`/jobs/${id}/compare`));
    expect([done.state, done.error]).toEqual(['succeeded', null]);
    const pages = await runCompare({ leftTime: before, rightTime: after });
    expect(done.result.objects).toEqual(pages.summary.objects);
    expect(done.result.left).toMatchObject({ taskId, time: pages.summary.left.time, live: false });
    expect(done.result.csvUrl).toBe(`/compare/${id}.csv`);

    // Field messages as on the form; another tenant's task and compare are not found.
    const refused = await api(`/tasks/${taskId}/compare`, 'POST', { leftTime: 'soon', rightTime: after });
    expect(refused.status).toBe(422);
    expect((await json(refused)).error.fields).toEqual({ leftTime: 'Enter the date and time of the left side.' });
    const other = await makeOrganization(em, await rootOf(em), 'customer', 'Other API tenant');
    const stranger = await makeUser(em, other, 'api-other@compare.example');
    const theirs = await createApiKey(em, em.merge(other), principalForUser(stranger), { label: stranger.email });
    const theirToken = (await getTokens(s.h.app.app, { clientId: theirs.key.id, secret: theirs.secret })).access_token;
    const foreign = (path: string, method = 'GET', body?: unknown) =>
      s.h.app.app.request(`/api/v1${path}`, withBearer(theirToken, method, body));
    expect((await foreign(`/tasks/${taskId}/compare`, 'POST', { leftTime: before, rightTime: after })).status).toBe(
      404,
    );
    expect((await foreign(`/jobs/${id}/compare`)).status).toBe(404);
    // A job that is not a compare is not found either.
    const backupJob = await em.findOneOrFail(Job, { kind: 'backup', organization: org.id }, { orderBy: { id: 'asc' } });
    expect((await api(`/jobs/${backupJob.id}/compare`)).status).toBe(404);
  });

  it('warns on the form that a live compare of all objects reads every object, with the calls its backups took', async () => {
    await completeSetupVia(s.h.app.app);
    const em = s.h.em();
    await makeUser(em, org, 'form-owner@compare.example');
    const cookie = await signIn(s.h.app.app, 'form-owner@compare.example', TEST_PASSWORD);
    const page = async (id: string) =>
      (await s.h.app.app.request(`/tasks/${id}/compare`, { headers: { cookie, origin: ORIGIN } })).text();
    const task = await em.findOneOrFail(BackupTask, { id: taskId });
    task.apiUsageLimitPercent = 75;
    await em.flush();
    try {
      // Per object, the most calls one backup run of it reported, summed.
      const entities = await em.find(TaskEntity, { task: taskId, deletedAt: null });
      const runs = await em.find(Job, { task: taskId, kind: 'backup', state: 'succeeded' });
      const most = new Map<string, number>();
      for (const run of runs) {
        const calls = (run.result as { apiCalls?: number } | null)?.apiCalls;
        const id = (run.entity as { id: string } | null)?.id;
        if (id && typeof calls === 'number') most.set(id, Math.max(most.get(id) ?? 0, calls));
      }
      const calls = [...most.values()].reduce((a, b) => a + b, 0);
      expect(calls).toBeGreaterThan(entities.length);
      const html = await page(taskId);
      expect(html).toContain(
        `reads <strong>every object the account lists</strong> (${entities.length} now), each in full, through the service's API: about <strong>${calls} API calls</strong> (the most one backup run of each object took)${most.size < entities.length ? `, more for the ${entities.length - most.size} objects not backed up yet` : ''}.`,
      );
      expect(html).toContain(
        "Past the task's API usage limit (75 % of the daily API requests) the compare stops and fails.",
      );
    } finally {
      task.apiUsageLimitPercent = null;
      await em.flush();
    }
    // A task never backed up: no estimate; and without a limit, no sentence about one.
    const fresh = s.fake.addOrg('Never Backed Up Org');
    seedDemoOrg(fresh, { accounts: 1, contactsPerAccount: 1 });
    const freshTask = await createTask(
      em,
      s.h.deps,
      em.getReference(Organization, org.id),
      {
        service: SALESFORCE_KIND,
        name: 'Never backed up',
        connection: {
          environment: 'production',
          orgId: fresh.id,
          orgName: fresh.name,
          refreshToken: s.fake.grant(fresh).refreshToken,
        },
        settings: { apiUsageLimitPercent: null },
      },
      ACTOR,
    );
    await discover(s, freshTask.id);
    const objects = await em.count(TaskEntity, { task: freshTask.id, deletedAt: null });
    const html = await page(freshTask.id);
    expect(html).toContain(
      `(${objects} now), each in full, through the service's API: as many API calls as a first full backup. Choose the objects below to read fewer.`,
    );
  });

  it('keeps a result 7 days; then maintenance deletes it and the page says so', async () => {
    const { job } = await runCompare({ leftTime: before, rightTime: after });
    const dataDir = s.h.ctx.settings.dataDir;
    const settings = { activityRetentionDays: 365, dataDir };
    const kept = await runMaintenance(s.h.ctx.orm, s.h.ctx.log, new Date(Date.now() + 6 * 24 * HOUR), settings);
    expect(kept.comparesDeleted).toBe(0);
    const later = await runMaintenance(s.h.ctx.orm, s.h.ctx.log, new Date(Date.now() + 8 * 24 * HOUR), settings);
    expect(later.comparesDeleted).toBeGreaterThan(0);
    const left = await readdir(comparesFolder(dataDir, org.id));
    expect(left.filter((name) => name.startsWith(job.id))).toEqual([]);
    const cookie = await signIn(s.h.app.app, 'owner@compare.example', TEST_PASSWORD);
    const page = await s.h.app.app.request(`/compare/${job.id}`, { headers: { cookie, origin: ORIGIN } });
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('The result of this compare is no longer kept.');
  });
});
