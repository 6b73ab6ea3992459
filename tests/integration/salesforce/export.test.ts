// Salesforce exports through the kernel's export jobs (the plugin's `exportArchive`): each object as
// a Data Loader CSV, files named from their records, a metadata type as a deployable package,
// several objects (chosen records or whole snapshots) in one job and one ZIP, the
// deleted records option — and the round trip: the exported CSVs loaded through the stand-in's
// Bulk API 2.0 ingest with jsforce's own client into an empty second org recreate the records with
// equal field values. The encrypted export must open with GnuPG's `gpg --decrypt`.
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Connection } from '@jsforce/jsforce-node';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../core/errors.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { csvLine } from '../../../core/plugins/csv.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { type ExportRequest, startExport } from '../../../core/recovery/start.ts';
import { defineDemoObjects, type Org, seedDemoMetadata, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { parseCsv } from '../../helpers/csv.ts';
import { completeSetupVia, ORIGIN, signIn } from '../../helpers/kernel.ts';
import { readZip, startContext } from '../../helpers/recovery.ts';
import { flashOf } from '../../helpers/security.ts';
import { makeUser, TEST_PASSWORD } from '../../helpers/tenants.ts';
import {
  backup,
  createSalesforceHarness,
  discover,
  entity,
  type SalesforceHarness,
  salesforceTask,
} from './harness.ts';

let s: SalesforceHarness;
let org: IOrganization;
let taskId: string;
const HOUR = 3600_000;
const OBJECTS = ['Account', 'Contact', 'Opportunity', 'Project__c', 'Milestone__c'];

beforeAll(async () => {
  s = await createSalesforceHarness();
  seedDemoOrg(s.fake.org, { accounts: 4, contactsPerAccount: 2 });
  // Values Data Loader must carry exactly: a formula-like text, quotes, commas and a line break.
  s.fake.org.insert('Account', {
    Name: 'Quote "Co", Ltd',
    Description: '=HYPERLINK("x")\nsecond line',
    AnnualRevenue: -1250.5,
  });
  seedDemoMetadata(s.fake.metadata());
  s.clock.now += HOUR;
  const task = await salesforceTask(s);
  taskId = task.id;
  org = await s.h.em().findOneOrFail(Organization, { id: task.organization.id });
  await discover(s, taskId);
  const jobs = await backup(s, taskId, [...OBJECTS, 'ContentVersion', 'ApexClass']);
  expect(jobs.map((j) => [j.label, j.state])).toEqual(jobs.map((j) => [j.label, 'succeeded']));
});
afterAll(async () => {
  await s?.close();
});

/** Exports one entity's last snapshot; returns the archive's entries (and the result file). */
async function exportOf(name: string, extra: Partial<ExportRequest> = {}) {
  const e = await entity(s, taskId, name);
  const started = await startExport(startContext(s.h, org), {
    taskId,
    entityId: e.id,
    snapshotId: e.lastSnapshotId as string,
    ...extra,
  });
  await s.h.runner.runUntilIdle();
  const job = await s.h.em().findOneOrFail(Job, { id: started.id });
  expect([job.state, job.error]).toEqual(['succeeded', null]);
  const result = await s.h.em().findOneOrFail(ExportResult, { job: started.id });
  // Encrypted and TAR results are read by the test itself.
  const zip = (extra.encryption ?? 'none') === 'none' && (extra.format ?? 'zip') === 'zip';
  const entries = zip ? await readZip(result.filePath) : new Map<string, Buffer>();
  return { entries, result, job };
}

function csvOf(entries: Map<string, Buffer>, name: string): { header: string[]; rows: Record<string, string>[] } {
  const file = entries.get(name);
  if (!file) throw new Error(`${name} is not in the export: ${[...entries.keys()].join(', ')}`);
  const [header = [], ...rows] = parseCsv(file.toString('utf8'));
  return { header, rows: rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? '']))) };
}

describe('Salesforce export', () => {
  it('writes an object as one Data Loader CSV: field API names, ids, Salesforce date formats, true/false, empty for null', async () => {
    const { entries, job } = await exportOf('Account');
    expect([...entries.keys()]).toEqual(['Account.csv']);
    // The job counts the records exported, not the archive's entries.
    expect((job.result as { items: number }).items).toBe(5);
    const { header, rows } = csvOf(entries, 'Account.csv');
    // Every field of the describe, in its order (compound and blob fields are not record fields).
    expect(header).toEqual([
      'Id',
      'IsDeleted',
      'CreatedDate',
      'CreatedById',
      'LastModifiedDate',
      'LastModifiedById',
      'SystemModstamp',
      'Name',
      'Industry',
      'AnnualRevenue',
      'Phone',
      'Website',
      'Description',
    ]);
    expect(rows.length).toBe(5);
    const first = rows.find((r) => r.Name === 'Account 1') as Record<string, string>;
    expect(first.Id).toBe(s.fake.org.liveIds('Account')[0]);
    expect(first.CreatedDate).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);
    expect(first.CreatedDate).toBe('2026-12-01T08:00:00.000Z');
    expect(first.IsDeleted).toBe('false');
    expect(first.AnnualRevenue).toBe('100000');
    expect(first.Website).toBe('');
    const quoted = rows.find((r) => r.Name === 'Quote "Co", Ltd') as Record<string, string>;
    // Written exactly: no spreadsheet defusing, the line break inside its quoted cell.
    expect(quoted.Description).toBe('=HYPERLINK("x")\nsecond line');
    expect(quoted.AnnualRevenue).toBe('-1250.5');

    const opportunities = csvOf((await exportOf('Opportunity')).entries, 'Opportunity.csv').rows;
    expect(opportunities.map((o) => o.CloseDate)).toEqual(Array(4).fill('2027-03-31'));
    // Lookups are the referenced record's Id.
    expect(new Set(opportunities.map((o) => o.AccountId))).toEqual(new Set(rows.slice(0, 4).map((r) => r.Id)));
    const milestones = csvOf((await exportOf('Milestone__c')).entries, 'Milestone__c.csv').rows;
    expect(milestones.map((m) => m.Done__c)).toEqual(Array(8).fill('false'));
  });

  it('writes the same entries into a TAR (entries of unknown size measured first)', async () => {
    const zip = await exportOf('ContentVersion');
    const { result } = await exportOf('ContentVersion', { format: 'tar' });
    expect(result.fileName.endsWith('.tar')).toBe(true);
    const entries = await readTar(result.filePath);
    expect([...entries.keys()].sort()).toEqual([...zip.entries.keys()].sort());
    // The CSV (streamed, its size unknown until written) is among them.
    expect(csvOf(entries, 'ContentVersion.csv').rows.length).toBe(2);
    for (const [name, content] of entries) expect(content.toString()).toBe(zip.entries.get(name)?.toString());
    // Nothing of the measuring is left beside the results.
    expect(readdirSync(dirname(result.filePath)).filter((f) => f.endsWith('.spool'))).toEqual([]);
  });

  it('puts files in a folder of their object, named by record id and the file name', async () => {
    const { entries } = await exportOf('ContentVersion');
    const versions = s.fake.org.liveIds('ContentVersion');
    expect([...entries.keys()].sort()).toEqual(
      [
        'ContentVersion.csv',
        `ContentVersion files/${versions[0]} Price list.csv`,
        `ContentVersion files/${versions[1]} Contract.txt`,
      ].sort(),
    );
    expect(entries.get(`ContentVersion files/${versions[0]} Price list.csv`)?.toString()).toBe(
      'Widget,Price\nSmall,10\nLarge,25\n',
    );
    // The CSV's VersionData column names each file's path in the export (Data Loader's convention).
    const { header, rows } = csvOf(entries, 'ContentVersion.csv');
    expect(header.at(-1)).toBe('VersionData');
    expect(rows.map((r) => r.VersionData).sort()).toEqual(
      [`ContentVersion files/${versions[0]} Price list.csv`, `ContentVersion files/${versions[1]} Contract.txt`].sort(),
    );
  });

  it('brings a chosen record’s file along (an item-search hit names the record, not its file)', async () => {
    const versions = s.fake.org.liveIds('ContentVersion');
    const { entries } = await exportOf('ContentVersion', { keys: [versions[1] as string] });
    expect([...entries.keys()]).toEqual(['ContentVersion.csv', `ContentVersion files/${versions[1]} Contract.txt`]);
    const { rows } = csvOf(entries, 'ContentVersion.csv');
    expect(rows.map((r) => [r.Id, r.VersionData])).toEqual([
      [versions[1], `ContentVersion files/${versions[1]} Contract.txt`],
    ]);
    // Chosen with its file, the file is there once.
    const both = await exportOf('ContentVersion', { keys: [versions[1] as string, `${versions[1]}/VersionData`] });
    expect([...both.entries.keys()]).toEqual([
      'ContentVersion.csv',
      `ContentVersion files/${versions[1]} Contract.txt`,
    ]);
  });

  it('exports a metadata type as a deployable package zip (package.xml and the components in their folders)', async () => {
    const { entries } = await exportOf('ApexClass');
    expect([...entries.keys()]).toEqual(['ApexClass.package.zip']);
    const dir = mkdtempSync(join(tmpdir(), 'holdfast-sf-package-'));
    const file = join(dir, 'package.zip');
    writeFileSync(file, entries.get('ApexClass.package.zip') as Buffer);
    const inner = await readZip(file);
    expect([...inner.keys()].sort()).toEqual([
      'classes/AccountService.cls',
      'classes/AccountService.cls-meta.xml',
      'classes/ProjectRollup.cls',
      'classes/ProjectRollup.cls-meta.xml',
      'package.xml',
    ]);
    const manifest = inner.get('package.xml')?.toString() ?? '';
    expect(manifest).toContain('<members>AccountService</members>');
    expect(manifest).toContain('<members>ProjectRollup</members>');
    expect(manifest).toContain('<name>ApexClass</name>');
    expect(manifest).toMatch(/<version>\d+\.\d<\/version>/);
    expect(inner.get('classes/AccountService.cls')?.toString()).toContain('class AccountService');

    const loose = await exportOf('ApexClass', { options: { metadataPackage: false } });
    expect([...loose.entries.keys()].sort()).toEqual([
      'classes/AccountService.cls',
      'classes/AccountService.cls-meta.xml',
      'classes/ProjectRollup.cls',
      'classes/ProjectRollup.cls-meta.xml',
    ]);
  });

  it('exports several objects in one job: a CSV per object, files in their folder, the metadata package, one ZIP', async () => {
    const part = async (name: string, keys?: string[]) => {
      const e = await entity(s, taskId, name);
      return { entityId: e.id, snapshotId: e.lastSnapshotId as string, ...(keys ? { keys } : {}) };
    };
    const accounts = s.fake.org.liveIds('Account').slice(0, 2);
    const contacts = s.fake.org.liveIds('Contact').filter((id) => {
      const values = s.fake.org.object('Contact')?.records.get(id)?.values;
      return accounts.includes(String(values?.AccountId));
    });
    const versions = s.fake.org.liveIds('ContentVersion');
    // Search hits of two objects (chosen records), and two whole snapshots.
    const { entries, job } = await exportOf('Account', {
      keys: accounts,
      more: [await part('Contact', contacts), await part('ContentVersion'), await part('ApexClass')],
    });
    expect(job.label).toBe('Export of 4 objects');
    expect([...entries.keys()].sort()).toEqual(
      [
        'Account.csv',
        'Contact.csv',
        'ContentVersion.csv',
        `ContentVersion files/${versions[0]} Price list.csv`,
        `ContentVersion files/${versions[1]} Contract.txt`,
        'ApexClass.package.zip',
      ].sort(),
    );
    expect(csvOf(entries, 'Account.csv').rows.map((r) => r.Id)).toEqual(accounts);
    const contactCsv = csvOf(entries, 'Contact.csv');
    expect(contactCsv.header.slice(0, 2)).toEqual(['Id', 'IsDeleted']);
    expect(contactCsv.rows.map((r) => r.Id).sort()).toEqual([...contacts].sort());
    expect(contactCsv.rows.every((r) => accounts.includes(r.AccountId as string))).toBe(true);
    // Each part as a one-object export writes it.
    const alone = await exportOf('Contact', { keys: contacts });
    expect(entries.get('Contact.csv')?.toString()).toBe(alone.entries.get('Contact.csv')?.toString());
    expect(job.result).toMatchObject({ items: accounts.length + contacts.length + 2 * versions.length + 4 });
  });

  it('refuses a multi-object export naming an object twice, or another task’s object, before a job starts', async () => {
    const contact = await entity(s, taskId, 'Contact');
    const account = await entity(s, taskId, 'Account');
    const request = { taskId, entityId: account.id, snapshotId: account.lastSnapshotId as string };
    const twice = { entityId: contact.id, snapshotId: contact.lastSnapshotId as string };
    await expect(startExport(startContext(s.h, org), { ...request, more: [twice, twice] })).rejects.toMatchObject({
      fields: { more: 'Contact is chosen twice: choose each object once.' },
    });
    const other = await salesforceTask(s);
    await discover(s, other.id);
    const theirs = await entity(s, other.id, 'Contact');
    await expect(
      startExport(startContext(s.h, org), {
        ...request,
        more: [{ entityId: theirs.id, snapshotId: contact.lastSnapshotId as string }],
      }),
    ).rejects.toMatchObject({ name: 'NotFoundError' });
  });

  it('adds deleted records (in earlier snapshots, not in the chosen one) only when asked', async () => {
    const gone = s.fake.org.insert('Project__c', { Name: 'Retired project', Budget__c: 5 });
    s.clock.now += HOUR;
    await backup(s, taskId, ['Project__c']);
    s.fake.org.delete('Project__c', gone);
    s.clock.now += HOUR;
    await backup(s, taskId, ['Project__c']);

    const without = await exportOf('Project__c');
    expect([...without.entries.keys()]).toEqual(['Project__c.csv']);
    expect(csvOf(without.entries, 'Project__c.csv').rows.map((r) => r.Id)).not.toContain(gone);

    const withDeleted = await exportOf('Project__c', { options: { deletedRecords: true } });
    expect([...withDeleted.entries.keys()]).toEqual(['Project__c.csv', 'Project__c (deleted).csv']);
    const deleted = csvOf(withDeleted.entries, 'Project__c (deleted).csv');
    expect(deleted.header).toEqual(csvOf(withDeleted.entries, 'Project__c.csv').header);
    expect(deleted.rows.map((r) => [r.Id, r.Name, r.Budget__c])).toEqual([[gone, 'Retired project', '5']]);
  });

  it('refuses an export option the service does not offer, or a value of the wrong type, naming the field', async () => {
    const e = await entity(s, taskId, 'Account');
    const start = (options: Record<string, unknown>) =>
      startExport(startContext(s.h, org), { taskId, entityId: e.id, snapshotId: e.lastSnapshotId as string, options });
    await expect(start({ nope: true })).rejects.toSatisfy(
      (err: unknown) => err instanceof ValidationError && !!err.fields?.['options.nope'],
    );
    await expect(start({ deletedRecords: 'yes' })).rejects.toSatisfy(
      (err: unknown) => err instanceof ValidationError && !!err.fields?.['options.deletedRecords'],
    );
  });

  it('round trip: the CSVs loaded through Bulk API 2.0 (jsforce) into an empty org recreate the records', async () => {
    const target: Org = s.fake.addOrg('Empty Sandbox');
    defineDemoObjects(target);
    const conn = new Connection({
      instanceUrl: s.fake.url,
      accessToken: s.fake.grant(target).accessToken,
      version: '62.0',
    });
    conn.bulk2.pollInterval = 5;
    conn.bulk2.pollTimeout = 10_000;
    // Old id → new id per object, as a Data Loader user maps lookups (by a unique field here).
    const newIds = new Map<string, string>();
    const naturalKey: Record<string, string> = { Account: 'Name', Project__c: 'Name' };

    for (const object of OBJECTS) {
      const { header, rows } = csvOf((await exportOf(object)).entries, `${object}.csv`);
      const describe = await conn.sobject(object).describe();
      const createable = describe.fields.filter((f) => f.createable && header.includes(f.name));
      const lookups = new Set(createable.filter((f) => f.type === 'reference').map((f) => f.name));
      const columns = createable.map((f) => f.name);
      const load = rows.map((r) =>
        Object.fromEntries(
          columns.map((c) => [c, lookups.has(c) && r[c] ? (newIds.get(r[c] as string) ?? r[c]) : r[c]]),
        ),
      );
      const results = await conn.bulk2.loadAndWaitForResults({
        object,
        operation: 'insert',
        input: toCsv(columns, load),
      });
      expect(results.failedResults).toEqual([]);
      expect(results.successfulResults.length).toBe(rows.length);
      const key = naturalKey[object];
      if (key) {
        for (const ok of results.successfulResults as unknown as Record<string, string>[]) {
          const old = rows.find((r) => r[key] === ok[key]) as Record<string, string>;
          newIds.set(old.Id as string, ok.sf__Id as string);
        }
      }
      // Equal field values: every exported row has its record in the new org (ids differ).
      const soql = `SELECT ${columns.join(', ')} FROM ${object}`;
      const there = (await conn.query<Record<string, unknown>>(soql)).records.map((r) =>
        JSON.stringify(columns.map((c) => plain(r[c]))),
      );
      expect(there.sort()).toEqual(load.map((r) => JSON.stringify(columns.map((c) => r[c] ?? ''))).sort());
    }
    expect(target.liveIds('Contact').length).toBe(8);
    // Lookups point at the new org's records.
    const contact = await conn.query<{ AccountId: string }>('SELECT AccountId FROM Contact');
    for (const c of contact.records) expect(target.liveIds('Account')).toContain(c.AccountId);
  });

  it('encrypts the export so that GnuPG opens it with `gpg --decrypt` (fails without gpg)', async () => {
    const gpg = spawnSync('gpg', ['--version']);
    if (gpg.status !== 0) {
      throw new Error(
        `GnuPG (gpg) is needed to check that exports open with it, and it is not on PATH (${gpg.error?.message ?? `exit ${gpg.status}`}): apt-get install gnupg`,
      );
    }
    const plainExport = await exportOf('Contact');
    const passphrase = 'correct horse battery';
    const { result } = await exportOf('Contact', { encryption: 'passphrase', passphrase });
    expect(result.fileName.endsWith('.zip.gpg')).toBe(true);
    const home = mkdtempSync(join(tmpdir(), 'holdfast-sf-gpg-'));
    const zip = execFileSync(
      'gpg',
      [
        '--homedir',
        home,
        '--batch',
        '--quiet',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        passphrase,
        '--decrypt',
        result.filePath,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const file = join(home, 'export.zip');
    writeFileSync(file, zip);
    const entries = await readZip(file);
    expect([...entries.keys()]).toEqual(['Contact.csv']);
    expect(csvOf(entries, 'Contact.csv').rows.length).toBe(8);
    expect(entries.get('Contact.csv')?.toString()).toBe(plainExport.entries.get('Contact.csv')?.toString());
  });
});

describe('the task page’s Export… of several objects', () => {
  let cookie: string;
  const request = (url: string, fields?: [string, string][]) =>
    s.h.app.app.request(url, {
      ...(fields ? { method: 'POST', body: new URLSearchParams(fields).toString() } : { method: 'GET' }),
      headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    });

  beforeAll(async () => {
    await completeSetupVia(s.h.app.app);
    await makeUser(s.h.em(), org, 'exporter@acme.example');
    cookie = await signIn(s.h.app.app, 'exporter@acme.example', TEST_PASSWORD);
  });

  it('shows the chosen objects with the export choices, and starts one job for them all', async () => {
    const ids = [(await entity(s, taskId, 'Contact')).id, (await entity(s, taskId, 'Account')).id];
    const page = await request(`/recovery/tasks/${taskId}/export?ids=${ids[0]}&ids=${ids[1]}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('You are about to export 2 objects');
    expect([...html.matchAll(/<strong class="overflow-anywhere">([^<]+)<\/strong>/g)].map((m) => m[1])).toEqual([
      'Account',
      'Contact',
    ]);
    expect(html).toContain('name="options.deletedRecords"');

    const started = await request(`/recovery/tasks/${taskId}/export`, [
      ['ids', ids[0] as string],
      ['ids', ids[1] as string],
      ['format', 'zip'],
      ['encryption', 'none'],
      ['label', 'Two objects'],
    ]);
    expect([started.status, started.headers.get('location')]).toEqual([303, '/jobs']);
    await s.h.runner.runUntilIdle();
    const job = await s.h.em().findOneOrFail(Job, { label: 'Two objects' });
    expect([job.state, job.error]).toEqual(['succeeded', null]);
    const result = await s.h.em().findOneOrFail(ExportResult, { job: job.id });
    expect([...(await readZip(result.filePath)).keys()]).toEqual(['Account.csv', 'Contact.csv']);
  });

  it('refuses a bad choice on the form, naming it, and starts nothing', async () => {
    const id = (await entity(s, taskId, 'Contact')).id;
    const before = await s.h.em().count(Job, { kind: 'export' });
    const res = await request(`/recovery/tasks/${taskId}/export`, [
      ['ids', id],
      ['encryption', 'passphrase'],
      ['passphrase', 'short'],
    ]);
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('Enter a passphrase of at least');
    expect(await s.h.em().count(Job, { kind: 'export' })).toBe(before);
  });

  it('answers 404 for another task’s object, alone or among this task’s', async () => {
    const other = await salesforceTask(s);
    await discover(s, other.id);
    const theirs = (await entity(s, other.id, 'Contact')).id;
    const ours = (await entity(s, taskId, 'Contact')).id;
    expect((await request(`/recovery/tasks/${taskId}/export?ids=${theirs}`)).status).toBe(404);
    expect((await request(`/recovery/tasks/${taskId}/export?ids=${ours}&ids=${theirs}`)).status).toBe(404);
  });

  /** Two objects of the task that were never backed up, in name order. */
  async function neverBackedUp(): Promise<{ id: string; name: string }[]> {
    for (const name of ['Unsaved_One__c', 'Unsaved_Two__c']) {
      if (!s.fake.org.object(name)) s.fake.org.defineObject(name, [], { label: name });
    }
    await discover(s, taskId);
    return Promise.all(['Unsaved_One__c', 'Unsaved_Two__c'].map((name) => entity(s, taskId, name)));
  }

  it('names the ticked objects without a backup as left out, and exports the others', async () => {
    const missing = await neverBackedUp();
    const contact = (await entity(s, taskId, 'Contact')).id;
    const query = [contact, ...missing.map((e) => e.id)].map((id) => `ids=${id}`).join('&');
    const page = await request(`/recovery/tasks/${taskId}/export?${query}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('You are about to export 1 object from the backup');
    expect(html).toContain(
      'Left out: Unsaved_One__c and Unsaved_Two__c have no backup yet. Back them up first to export them.',
    );
    expect([...html.matchAll(/<input type="hidden" name="ids" value="([^"]+)">/g)].map((m) => m[1])).toEqual([contact]);
    // Posted with them all, the job still takes only the object with a backup.
    const started = await request(`/recovery/tasks/${taskId}/export`, [
      ['ids', contact],
      ...missing.map((e): [string, string] => ['ids', e.id]),
      ['format', 'zip'],
      ['encryption', 'none'],
      ['label', 'Contact and two without backup'],
    ]);
    expect(started.status).toBe(303);
    await s.h.runner.runUntilIdle();
    const job = await s.h.em().findOneOrFail(Job, { label: 'Contact and two without backup' });
    const result = await s.h.em().findOneOrFail(ExportResult, { job: job.id });
    expect([...(await readZip(result.filePath)).keys()]).toEqual(['Contact.csv']);
  });

  it('says so on the task page when none of the ticked objects has a backup', async () => {
    const missing = await neverBackedUp();
    const before = await s.h.em().count(Job, { kind: 'export' });
    const res = await request(`/recovery/tasks/${taskId}/export?${missing.map((e) => `ids=${e.id}`).join('&')}`);
    expect([res.status, res.headers.get('location')]).toEqual([303, `/tasks/${taskId}`]);
    const flash = flashOf(res);
    expect(flash).not.toBe('');
    const taskPage = await s.h.app.app.request(`/tasks/${taskId}`, {
      headers: { cookie: `${cookie}; ${flash}`, origin: ORIGIN },
    });
    expect(taskPage.status).toBe(200);
    const taskHtml = await taskPage.text();
    expect(taskHtml).toContain(
      'Nothing to export: Unsaved_One__c and Unsaved_Two__c have no backup yet. Back them up first (Backup now), then export them.',
    );
    expect(await s.h.em().count(Job, { kind: 'export' })).toBe(before);
  });
});

async function readTar(file: string): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: unknown) => parts.push(c as Buffer));
    stream.on('end', () => {
      entries.set(header.name, Buffer.concat(parts));
      next();
    });
  });
  await pipeline(createReadStream(file), extract);
  return entries;
}

/** A value read back through the REST API in the CSV's form. */
function plain(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value);
}

/** The rows as CSV text, what a Data Loader user uploads (the appliance's one CSV writer). */
function toCsv(columns: string[], rows: Record<string, string | undefined>[]): string {
  return [columns, ...rows.map((r) => columns.map((c) => r[c] ?? ''))]
    .map((cells) => csvLine(cells, { formulas: 'keep' }))
    .join('');
}
