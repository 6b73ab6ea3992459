// Salesforce record restores through the kernel's restore job against the stand-in: a deleted
// account hierarchy brought back with every child linked to the new ids (self-lookup, master-
// detail, polymorphic lookups), the per-record CSV report attached to the job; the three modes
// on records changed, unchanged and deleted since the backup; the restore options validated
// before a job starts; and the restore into another org, where none of the ids exist, matching
// the records it has by their External ID (a table per mode).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { planRestore } from '../../../core/recovery/plan.ts';
import { startRestore } from '../../../core/recovery/start.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND } from '../../../plugins/services/salesforce/index.ts';
import {
  type AccountHierarchy,
  defineHierarchyObjects,
  deleteAccountHierarchy,
  type Org,
  seedAccountHierarchy,
  seedDemoOrg,
} from '../../fakes/salesforce/index.ts';
import { ACTOR } from '../../helpers/jobs.ts';
import { completeSetupVia, ORIGIN, signIn } from '../../helpers/kernel.ts';
import { startContext } from '../../helpers/recovery.ts';
import { makeUser, TEST_PASSWORD } from '../../helpers/tenants.ts';
import {
  backup,
  createSalesforceHarness,
  discover,
  entity,
  type SalesforceHarness,
  salesforceTask,
} from './harness.ts';
import { discoveredTask, liveRecords, restoreInPlace, restoreReport } from './restore-harness.ts';

let s: SalesforceHarness;
let org: IOrganization;
let taskId: string;
let dataObjects: string[];

beforeAll(async () => {
  s = await createSalesforceHarness();
  seedDemoOrg(s.fake.org, { accounts: 2, contactsPerAccount: 1 });
  defineHierarchyObjects(s.fake.org);
  ({ taskId, org } = await discoveredTask(s));
  dataObjects = (await s.h.em().find(TaskEntity, { task: taskId, kind: 'data' })).map((e) => e.name);
});
afterAll(async () => {
  await s.close();
});

/** The live record of an object with this name (Name / Subject) at the stand-in. */
const live = liveRecords;

const restore = (keys: string[], options: Record<string, unknown>) => restoreInPlace(s, { taskId, org }, keys, options);

/** The job's attached report: one row per record, by source id. */
async function report(jobId: string): Promise<Map<string, Record<string, string>>> {
  const { name, rows } = await restoreReport(s, jobId);
  expect(name).toMatch(/^restore-report-\d{8}-\d{6}\.csv$/);
  return rows;
}

describe('Salesforce record restore', () => {
  let h: AccountHierarchy;

  it('brings a deleted account back with its hierarchy, every record linked to the new ids', async () => {
    h = seedAccountHierarchy(s.fake.org);
    await backup(s, taskId, dataObjects);
    deleteAccountHierarchy(s.fake.org, h);
    expect(live(s.fake.org, 'Invoice__c', (v) => v.Account__c === h.account)).toHaveLength(0);

    const job = await restore([h.account, h.parent], { recordMode: 'bypass', hierarchyDepth: 2 });
    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    expect(job.result?.counts).toEqual({ created: 13, updated: 0, skipped: 0, failed: 0 });

    const sf = s.fake.org;
    const [parent] = live(sf, 'Account', (v) => v.Name === 'Hierarchy Co Holdings');
    const [account] = live(sf, 'Account', (v) => v.Name === 'Hierarchy Co');
    expect(parent?.Id).not.toBe(h.parent);
    expect(account?.Id).not.toBe(h.account);
    expect(account?.Id).toMatch(/^001/);
    expect(account).toMatchObject({ ParentId: parent?.Id, Industry: 'Retail', AnnualRevenue: 900_000 });
    const contacts = live(sf, 'Contact', (v) => v.AccountId === account?.Id);
    expect(contacts.map((c) => c.Email).sort()).toEqual(['person1@hierarchy.example', 'person2@hierarchy.example']);
    const opportunities = live(sf, 'Opportunity', (v) => v.AccountId === account?.Id);
    expect(opportunities).toHaveLength(3);
    const items = live(sf, 'OpportunityLineItem', (v) => opportunities.some((o) => o.Id === v.OpportunityId));
    expect(items.map((i) => i.Quantity).sort()).toEqual([1, 2, 3]);
    expect(live(sf, 'Case', (v) => v.AccountId === account?.Id).map((c) => c.Subject)).toEqual([
      'Hierarchy Co question',
    ]);
    const [invoice] = live(sf, 'Invoice__c', (v) => v.Account__c === account?.Id);
    // Formula and read-only fields are not written: Salesforce computes them.
    expect(invoice).toMatchObject({ Amount__c: 1200, Amount_With_Tax__c: null, Invoice_Number__c: null });
    const deal1 = opportunities.find((o) => o.Name === 'Hierarchy Co deal 1');
    const person1 = contacts.find((c) => c.Email === 'person1@hierarchy.example');
    expect(live(sf, 'Task', (v) => v.Subject === 'Call about Hierarchy Co deal 1')).toEqual([
      expect.objectContaining({ WhatId: deal1?.Id, WhoId: person1?.Id }),
    ]);

    const rows = await report(job.id);
    expect(rows.size).toBe(13);
    expect(rows.get(h.account)).toMatchObject({ Object: 'Account', 'Restored Id': account?.Id, Result: 'created' });
    expect(rows.get(h.task)).toMatchObject({ Object: 'Task', Result: 'created' });
    for (const row of rows.values()) expect(row['Restored Id']).toMatch(/^\w{18}$/);
  });

  it('leaves a lookup to a record that exists nowhere empty, with a line in the report', async () => {
    const sf = s.fake.org;
    const gone = sf.insert('Account', { Name: 'Gone for good' });
    const orphan = sf.insert('Contact', { Name: 'Orphan', LastName: 'Orphan', AccountId: gone });
    await backup(s, taskId, ['Account', 'Contact']);
    sf.delete('Contact', orphan);
    sf.purge('Account', gone);
    const job = await restoreInPlace(s, { taskId, org }, [orphan], { recordMode: 'overwrite' }, 'Contact');
    expect(job.state).toBe('succeeded');
    const [restored] = live(sf, 'Contact', (v) => v.Name === 'Orphan');
    expect(restored?.AccountId).toBeNull();
    const row = (await report(job.id)).get(orphan);
    expect(row?.Result).toBe('created');
    expect(row?.Notes).toBe(`AccountId: ${gone} exists neither at the target nor in the restore; left empty`);
  });

  it('says before it starts what it will do: objects, records per object at the depth, mode, target, API calls', async () => {
    const sf = s.fake.org;
    const hierarchy = seedAccountHierarchy(sf, 'Planned Co');
    await backup(s, taskId, dataObjects);
    sf.delete('Account', hierarchy.parent);
    const account = await entity(s, taskId, 'Account');
    const before = { created: sf.liveIds('Account').length, calls: s.fake.calls, writes: s.fake.count('collections') };
    const work = () => ({
      storage: s.h.ctx.storage,
      services: servicePlugin,
      credentials: s.h.ctx.credentials,
      log: s.h.ctx.log,
      signal: AbortSignal.timeout(20_000),
    });
    const request = {
      taskId,
      entityId: account.id,
      snapshotId: account.lastSnapshotId as string,
      keys: [hierarchy.account, hierarchy.parent],
      mode: 'in_place' as const,
      options: { recordMode: 'bypass', hierarchyDepth: 1 },
    };
    const plan = await planRestore(work(), startContext(s.h, org), request);
    expect(plan?.columns).toEqual(['Object', 'Records', 'Create', 'Update', 'Skip']);
    const rows = new Map(plan?.rows.map((r) => [r[0], r.slice(1)]));
    // Depth 1: the accounts' own children, not the line items or the task under the opportunities.
    expect(Object.fromEntries(rows)).toEqual({
      Account: [2, 1, 0, 1],
      Contact: [2, 0, 0, 2],
      Opportunity: [3, 0, 0, 3],
      Case: [1, 0, 0, 1],
      Invoice__c: [1, 0, 0, 1],
    });
    expect(plan?.notes[0]).toBe('Mode: Bypass; hierarchy depth 1.');
    expect(plan?.notes[1]).toBe(`Target: Account in the org ${sf.id}.`);
    expect(plan?.notes[2]).toMatch(
      /^About \d+ API calls; the task may still use \d+ today \(its limit is 75 % of the org's 100000 daily requests\)\.$/,
    );
    // Reads only: nothing was written.
    expect(sf.liveIds('Account')).toHaveLength(before.created);
    expect(s.fake.count('collections')).toBe(before.writes);
    expect(s.fake.calls).toBeGreaterThan(before.calls);

    // With 3 calls left after its reads, the plan says the restore will stop at the limit.
    const reads = s.fake.calls - before.calls;
    const used = sf.api.used;
    sf.api.used = 75_000 - reads - 3;
    try {
      const tight = await planRestore(work(), startContext(s.h, org), request);
      expect(tight?.notes[2]).toMatch(/; the task may still use 3 today /);
      expect(tight?.notes[3]).toBe(
        'That is more than the task may still use today: the restore stops at the limit and reports the records it did not write.',
      );
    } finally {
      sf.api.used = used;
    }
  });

  it('stops at the task’s API usage limit: what it wrote stands, the rest is reported, the job partial', async () => {
    const sf = s.fake.org;
    const ids = Array.from({ length: 250 }, (_, i) => sf.insert('Account', { Name: `Budget ${i}` }));
    await backup(s, taskId, ['Account']);
    for (const id of ids) sf.delete('Account', id);
    const account = await entity(s, taskId, 'Account');
    const request = {
      taskId,
      entityId: account.id,
      snapshotId: account.lastSnapshotId as string,
      keys: ids,
      mode: 'in_place' as const,
      options: { recordMode: 'overwrite', hierarchyDepth: 0 },
    };
    // The restore reads what its plan reads: after those, one call is left (one collection of 200).
    const before = s.fake.calls;
    const work = {
      storage: s.h.ctx.storage,
      services: servicePlugin,
      credentials: s.h.ctx.credentials,
      log: s.h.ctx.log,
      signal: AbortSignal.timeout(20_000),
    };
    await planRestore(work, startContext(s.h, org), request);
    const reads = s.fake.calls - before;
    const used = sf.api.used;
    sf.api.used = 75_000 - reads - 1;
    try {
      const started = await startRestore(startContext(s.h, org), request);
      await s.h.runner.runUntilIdle();
      const job = await s.h.em().findOneOrFail(Job, { id: started.id });
      expect(job.state).toBe('partially_succeeded');
      expect(job.result?.counts).toEqual({ created: 200, updated: 0, skipped: 0, failed: 50 });
      expect(sf.api.used).toBe(75_000);
      const rows = [...(await report(job.id)).values()].filter((r) => r.Result === 'failed');
      expect(rows).toHaveLength(50);
      expect(rows[0]?.['Error Code']).toBe('API_USAGE_LIMIT');
      expect(rows[0]?.Message).toMatch(
        /^Stopped at the task's API usage limit \(75 % of the org's 100000 daily API requests = 75000; 75000 used\)$/,
      );
    } finally {
      sf.api.used = used;
    }
  });

  it('refuses a restore into a new folder: records restore in place only', async () => {
    const account = await entity(s, taskId, 'Account');
    await expect(
      startRestore(startContext(s.h, org), {
        taskId,
        entityId: account.id,
        snapshotId: account.lastSnapshotId as string,
        mode: 'non_destructive',
      }),
    ).rejects.toMatchObject({ fields: { mode: 'Salesforce restores in place only.' } });
  });

  it('refuses restore options the plugin does not accept before a job starts', async () => {
    const account = await entity(s, taskId, 'Account');
    await expect(
      startRestore(startContext(s.h, org), {
        taskId,
        entityId: account.id,
        snapshotId: account.lastSnapshotId as string,
        mode: 'in_place',
        options: { recordMode: 'merge', hierarchyDepth: -1 },
      }),
    ).rejects.toMatchObject({
      fields: {
        'options.recordMode': expect.stringContaining('overwrite'),
        'options.hierarchyDepth': 'The hierarchy depth is a whole number, 0 or more.',
      },
    });
  });
});

describe('Salesforce restore modes on records changed, unchanged and deleted since the backup', () => {
  type Expected = { changed: string; unchanged: string; deleted: string; copies: number };
  const table: [string, Expected][] = [
    // Overwrite: existing records get the backed-up values; the deleted one comes back as new.
    ['overwrite', { changed: 'updated', unchanged: 'updated', deleted: 'created', copies: 0 }],
    // Bypass: existing records are left as they are; the deleted one comes back.
    ['bypass', { changed: 'skipped', unchanged: 'skipped', deleted: 'created', copies: 0 }],
    // Duplicate: a copy of every record, named with the suffix; the deleted one comes back.
    ['duplicate', { changed: 'created', unchanged: 'created', deleted: 'created', copies: 2 }],
  ];

  it.each(table)('%s', async (mode, expected) => {
    const sf = s.fake.org;
    const changed = sf.insert('Account', { Name: `${mode} changed`, Industry: 'Energy' });
    const unchanged = sf.insert('Account', { Name: `${mode} unchanged`, Industry: 'Energy' });
    const deleted = sf.insert('Account', { Name: `${mode} deleted`, Industry: 'Energy' });
    await backup(s, taskId, ['Account']);
    sf.update('Account', changed, { Industry: 'Retail' });
    sf.delete('Account', deleted);

    const job = await restore([changed, unchanged, deleted], { recordMode: mode, hierarchyDepth: 0 });
    expect(job.state).toBe('succeeded');
    const rows = await report(job.id);
    expect({
      changed: rows.get(changed)?.Result,
      unchanged: rows.get(unchanged)?.Result,
      deleted: rows.get(deleted)?.Result,
    }).toEqual({ changed: expected.changed, unchanged: expected.unchanged, deleted: expected.deleted });

    const industry = sf.object('Account')?.records.get(changed)?.values.Industry;
    expect(industry).toBe(mode === 'overwrite' ? 'Energy' : 'Retail');
    const [back] = live(sf, 'Account', (v) => v.Name === `${mode} deleted`);
    expect(back?.Id).toBe(rows.get(deleted)?.['Restored Id']);
    expect(back?.Id).not.toBe(deleted);
    const copies = live(
      sf,
      'Account',
      (v) => /^\w+ (un)?changed \d{14}$/.test(String(v.Name)) && String(v.Name).startsWith(mode),
    );
    expect(copies).toHaveLength(expected.copies);
    if (mode === 'duplicate') expect(rows.get(changed)?.['Restored Id']).not.toBe(changed);
  });
});

describe('Salesforce restore into another org', () => {
  it('restores to the same object of another task’s org (a Sandbox) with every lookup remapped', async () => {
    const sandbox = s.fake.addOrg('Acme Sandbox');
    seedDemoOrg(sandbox, { accounts: 0 });
    defineHierarchyObjects(sandbox);
    const h = seedAccountHierarchy(s.fake.org, 'Cross Org Co');
    await backup(s, taskId, dataObjects);
    // A second task of the same organization, connected to the Sandbox.
    const e = s.h.em();
    const sandboxTask = await createTask(
      e,
      s.h.deps,
      e.getReference(Organization, org.id),
      {
        service: SALESFORCE_KIND,
        name: 'Sandbox',
        connection: {
          environment: 'sandbox',
          orgId: sandbox.id,
          orgName: sandbox.name,
          refreshToken: s.fake.grant(sandbox).refreshToken,
        },
        settings: {},
      },
      ACTOR,
    );
    await discover(s, sandboxTask.id);
    const target = await entity(s, sandboxTask.id, 'Account');
    const account = await entity(s, taskId, 'Account');
    const sandboxCalls = sandbox.api.used;
    const started = await startRestore(startContext(s.h, org), {
      taskId,
      entityId: account.id,
      snapshotId: account.lastSnapshotId as string,
      keys: [h.account, h.parent],
      destinationEntityId: target.id,
      mode: 'in_place',
      options: { recordMode: 'overwrite', hierarchyDepth: 3 },
    });
    await s.h.runner.runUntilIdle();
    const job = await s.h.em().findOneOrFail(Job, { id: started.id });
    expect(job.error).toBeNull();
    expect(job.result?.counts).toEqual({ created: 13, updated: 0, skipped: 0, failed: 0 });
    expect(job.result?.destination).toBe('Account in Sandbox');
    // The Sandbox's budget paid for the writes; the source org was only read from its backup.
    expect(sandbox.api.used).toBeGreaterThan(sandboxCalls + 7);

    const [parent] = live(sandbox, 'Account', (v) => v.Name === 'Cross Org Co Holdings');
    const [account2] = live(sandbox, 'Account', (v) => v.Name === 'Cross Org Co');
    expect(account2?.ParentId).toBe(parent?.Id);
    const contacts = live(sandbox, 'Contact', (v) => v.AccountId === account2?.Id);
    const opportunities = live(sandbox, 'Opportunity', (v) => v.AccountId === account2?.Id);
    expect(contacts).toHaveLength(2);
    expect(opportunities).toHaveLength(3);
    expect(
      live(sandbox, 'OpportunityLineItem', (v) => opportunities.some((o) => o.Id === v.OpportunityId)),
    ).toHaveLength(3);
    expect(live(sandbox, 'Invoice__c', (v) => v.Account__c === account2?.Id)).toHaveLength(1);
    expect(live(sandbox, 'Case', (v) => v.AccountId === account2?.Id)).toHaveLength(1);
    const [taskRow] = live(sandbox, 'Task', () => true);
    expect(opportunities.map((o) => o.Id)).toContain(taskRow?.WhatId);
    expect(contacts.map((c) => c.Id)).toContain(taskRow?.WhoId);
    // Nothing in the Sandbox points at an id of the source org.
    const sourceIds = new Set([h.parent, h.account, ...h.contacts, ...h.opportunities, h.caseId, h.invoice, h.task]);
    for (const object of ['Account', 'Contact', 'Opportunity', 'OpportunityLineItem', 'Case', 'Invoice__c', 'Task']) {
      for (const v of live(sandbox, object, () => true)) {
        for (const value of Object.values(v)) expect(sourceIds.has(String(value))).toBe(false);
      }
    }
  });

  it('refuses another object, of this task or another, and another tenant’s task', async () => {
    const account = await entity(s, taskId, 'Account');
    const sandboxTask = await s.h.em().findOneOrFail(BackupTask, { name: 'Sandbox' });
    const contact = await entity(s, sandboxTask.id, 'Contact');
    const request = {
      taskId,
      entityId: account.id,
      snapshotId: account.lastSnapshotId as string,
      mode: 'in_place' as const,
    };
    await expect(
      startRestore(startContext(s.h, org), { ...request, destinationEntityId: contact.id }),
    ).rejects.toMatchObject({ name: 'NotFoundError' });
    // Nor another object of the same task: records go back to their own object.
    const ownContact = await entity(s, taskId, 'Contact');
    await expect(
      startRestore(startContext(s.h, org), { ...request, destinationEntityId: ownContact.id }),
    ).rejects.toMatchObject({ fields: { destinationEntityId: 'Salesforce restores Account only to Account.' } });
    const foreign = await salesforceTask(s);
    await discover(s, foreign.id);
    const theirs = await entity(s, foreign.id, 'Account');
    await expect(
      startRestore(startContext(s.h, org), { ...request, destinationEntityId: theirs.id }),
    ).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});

/** Regions with an External ID code, and stores in them: defined alike in both orgs. */
function defineRegions(sfOrg: Org): void {
  sfOrg.defineObject(
    'Region__c',
    [
      { name: 'Code__c', type: 'string', custom: true, externalId: true, unique: true },
      { name: 'Manager__c', type: 'string', custom: true },
    ],
    { label: 'Region' },
  );
  sfOrg.defineObject(
    'Store__c',
    [{ name: 'Region__c', type: 'reference', referenceTo: ['Region__c'], relationshipName: 'Region__r', custom: true }],
    { label: 'Store' },
  );
}

/** Parts keyed by a number External ID, a unique date and a date-time External ID: alike in both orgs. */
function defineParts(sfOrg: Org): void {
  sfOrg.defineObject(
    'Part__c',
    [
      { name: 'Part_Number__c', type: 'double', custom: true, externalId: true, unique: true },
      { name: 'Released__c', type: 'date', custom: true, unique: true },
      { name: 'Stamp__c', type: 'datetime', custom: true, externalId: true },
      { name: 'Note__c', type: 'string', custom: true },
    ],
    { label: 'Part' },
  );
}

describe('Salesforce restore into another org matching existing records by their External ID', () => {
  let sandbox: Org;
  let sandboxTaskId: string;

  beforeAll(async () => {
    defineRegions(s.fake.org);
    defineParts(s.fake.org);
    await discover(s, taskId);
    sandbox = s.fake.addOrg('Matching Sandbox');
    seedDemoOrg(sandbox, { accounts: 0 });
    defineRegions(sandbox);
    defineParts(sandbox);
    const e = s.h.em();
    const task = await createTask(
      e,
      s.h.deps,
      e.getReference(Organization, org.id),
      {
        service: SALESFORCE_KIND,
        name: 'Matching Sandbox',
        connection: {
          environment: 'sandbox',
          orgId: sandbox.id,
          orgName: sandbox.name,
          refreshToken: s.fake.grant(sandbox).refreshToken,
        },
        settings: {},
      },
      ACTOR,
    );
    sandboxTaskId = task.id;
    await discover(s, sandboxTaskId);
  });

  // The region exists in the Sandbox under another Id with the same code; its stores do not.
  type Expected = { result: string; sameRecord: boolean; manager: string; regions: number };
  const table: [string, Expected][] = [
    // Overwrite: the matched region takes the backed-up values; the stores come under it.
    ['overwrite', { result: 'updated', sameRecord: true, manager: 'Backed up', regions: 1 }],
    // Bypass: the matched region is left as it is; the stores come under it.
    ['bypass', { result: 'skipped', sameRecord: true, manager: 'Sandbox', regions: 1 }],
    // Duplicate: a copy (suffix, code left empty: it is unique); the stores come under the copy.
    ['duplicate', { result: 'created', sameRecord: false, manager: 'Sandbox', regions: 2 }],
  ];

  it.each(table)('%s', async (mode, expected) => {
    const code = `R-${mode}`;
    const region = s.fake.org.insert('Region__c', { Name: `North ${mode}`, Code__c: code, Manager__c: 'Backed up' });
    const stores = [1, 2].map((n) => s.fake.org.insert('Store__c', { Name: `Store ${mode} ${n}`, Region__c: region }));
    await backup(s, taskId, ['Region__c', 'Store__c']);
    const existing = sandbox.insert('Region__c', { Name: `North ${mode}`, Code__c: code, Manager__c: 'Sandbox' });

    const source = await entity(s, taskId, 'Region__c');
    const started = await startRestore(startContext(s.h, org), {
      taskId,
      entityId: source.id,
      snapshotId: source.lastSnapshotId as string,
      keys: [region],
      destinationEntityId: (await entity(s, sandboxTaskId, 'Region__c')).id,
      mode: 'in_place',
      options: { recordMode: mode, hierarchyDepth: 1 },
    });
    await s.h.runner.runUntilIdle();
    const job = await s.h.em().findOneOrFail(Job, { id: started.id });
    expect(job.error).toBeNull();
    const rows = await report(job.id);
    const restoredId = rows.get(region)?.['Restored Id'] as string;
    expect({ result: rows.get(region)?.Result, sameRecord: restoredId === existing }).toEqual({
      result: expected.result,
      sameRecord: expected.sameRecord,
    });
    expect(sandbox.object('Region__c')?.records.get(existing)?.values.Manager__c).toBe(expected.manager);
    expect(live(sandbox, 'Region__c', (v) => String(v.Name).startsWith(`North ${mode}`))).toHaveLength(
      expected.regions,
    );
    // Every store is created, under the region the restore ended on.
    expect(stores.map((id) => rows.get(id)?.Result)).toEqual(['created', 'created']);
    expect(live(sandbox, 'Store__c', (v) => v.Region__c === restoredId)).toHaveLength(2);
    if (mode === 'duplicate') {
      const copy = sandbox.object('Region__c')?.records.get(restoredId)?.values;
      expect(copy).toMatchObject({ Code__c: null, Manager__c: 'Backed up' });
      expect(copy?.Name).toMatch(new RegExp(`^North ${mode} \\d{14}$`));
    }
  });

  // A part in the backup and one in the Sandbox under another Id share one key value, spelled as
  // each org holds it; Overwrite finds the Sandbox's part by it and updates that one.
  const keys: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['a number External ID', { Part_Number__c: 1001 }, { Part_Number__c: 1001.0 }],
    ['a unique date', { Released__c: '2026-03-01' }, { Released__c: '2026-03-01' }],
    [
      'a date-time External ID',
      { Stamp__c: '2026-03-01T09:30:00.000+0000' },
      { Stamp__c: '2026-03-01T11:30:00.000+0200' },
    ],
  ];
  it.each(keys)('matches by %s', async (what, backedUp, atSandbox) => {
    const part = s.fake.org.insert('Part__c', { Name: `Part ${what}`, Note__c: 'Backed up', ...backedUp });
    await backup(s, taskId, ['Part__c']);
    const existing = sandbox.insert('Part__c', { Name: `Part ${what}`, Note__c: 'Sandbox', ...atSandbox });
    const source = await entity(s, taskId, 'Part__c');
    const started = await startRestore(startContext(s.h, org), {
      taskId,
      entityId: source.id,
      snapshotId: source.lastSnapshotId as string,
      keys: [part],
      destinationEntityId: (await entity(s, sandboxTaskId, 'Part__c')).id,
      mode: 'in_place',
      options: { recordMode: 'overwrite', hierarchyDepth: 0 },
    });
    await s.h.runner.runUntilIdle();
    const job = await s.h.em().findOneOrFail(Job, { id: started.id });
    expect(job.error).toBeNull();
    const row = (await report(job.id)).get(part);
    expect([row?.Result, row?.['Restored Id']]).toEqual(['updated', existing]);
    expect(sandbox.object('Part__c')?.records.get(existing)?.values.Note__c).toBe('Backed up');
    expect(live(sandbox, 'Part__c', (v) => v.Name === `Part ${what}`)).toHaveLength(1);
  });
});

describe('Salesforce restore dialog', () => {
  let cookie: string;
  let path: string;
  let query: string;
  let accountId: string;

  beforeAll(async () => {
    await completeSetupVia(s.h.app.app);
    await makeUser(s.h.em(), org, 'restorer@acme.example');
    cookie = await signIn(s.h.app.app, 'restorer@acme.example', TEST_PASSWORD);
    accountId = s.fake.org.insert('Account', { Name: 'Dialog Co' });
    s.fake.org.insert('Contact', { Name: 'Dialog Person', LastName: 'Person', AccountId: accountId });
    await backup(s, taskId, ['Account', 'Contact']);
    const account = await entity(s, taskId, 'Account');
    path = `/recovery/tasks/${taskId}/entities/${account.id}/restore`;
    query = `snapshot=${account.lastSnapshotId}&key=${accountId}`;
  });

  const get = (url: string, headers: Record<string, string> = {}) =>
    s.h.app.app.request(url, { headers: { cookie, origin: ORIGIN, ...headers } });
  const post = (fields: [string, string][]) =>
    s.h.app.app.request(path, {
      method: 'POST',
      headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  it('offers the plugin’s restore options, generated from its schema', async () => {
    const res = await get(`${path}?${query}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<select id="options.recordMode" name="options.recordMode"');
    expect(html).toMatch(
      /<option value="overwrite" selected>Overwrite<\/option><option value="bypass">Bypass<\/option><option value="duplicate">Duplicate<\/option>/,
    );
    expect(html).toMatch(/<input id="options.hierarchyDepth" name="options.hierarchyDepth" type="number" value="0"/);
    expect(html).toContain('Show what will happen');
    // Records go back to their object: no "new folder" method is offered.
    expect(html).toContain('<input type="hidden" name="mode" value="in_place">');
    expect(html).not.toContain('Restore method');
    // The same object of the organization's other Salesforce tasks (the two Sandbox tasks of the
    // tests above) is a destination.
    expect(html).toMatch(/<option value="[0-9a-f-]{36}">Account in Sandbox<\/option>/);
    expect(html).toMatch(/<option value="[0-9a-f-]{36}">Account in Matching Sandbox<\/option>/);
    expect(html.match(/<option value="[0-9a-f-]{36}"/g)).toHaveLength(3);
  });

  it('shows what will happen for the options chosen', async () => {
    const res = await get(`${path}/plan?${query}&mode=in_place&options.recordMode=duplicate&options.hierarchyDepth=1`, {
      'hx-request': 'true',
    });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<th scope="row">Account</th><td>1</td><td>1</td><td>0</td><td>0</td>');
    expect(html).toContain('<th scope="row">Contact</th><td>1</td><td>1</td><td>0</td><td>0</td>');
    expect(html).toContain('Mode: Duplicate; hierarchy depth 1.');
  });

  it('shows the plan only to those who may restore', async () => {
    await makeUser(s.h.em(), org, 'exporter@acme.example', { role: 'custom', permissions: ['export_download'] });
    const exporter = await signIn(s.h.app.app, 'exporter@acme.example', TEST_PASSWORD);
    const res = await s.h.app.app.request(`${path}/plan?${query}&mode=in_place`, {
      headers: { cookie: exporter, origin: ORIGIN, 'hx-request': 'true' },
    });
    expect(res.status).toBe(403);
  });

  it('refuses a bad option on the form, naming it, and starts nothing', async () => {
    const jobs = await s.h.em().count(Job, { kind: 'restore' });
    const res = await post([
      ['snapshot', query.split('&')[0]?.slice('snapshot='.length) as string],
      ['key', accountId],
      ['mode', 'in_place'],
      ['options.recordMode', 'bypass'],
      ['options.hierarchyDepth', '-3'],
    ]);
    expect(res.status).toBe(422);
    expect(await res.text()).toContain(
      '<p class="field-error" id="options.hierarchyDepth-error">The hierarchy depth is a whole number, 0 or more.</p>',
    );
    expect(await s.h.em().count(Job, { kind: 'restore' })).toBe(jobs);
  });

  it('starts the restore with the options chosen', async () => {
    const res = await post([
      ['snapshot', query.split('&')[0]?.slice('snapshot='.length) as string],
      ['key', accountId],
      ['mode', 'in_place'],
      ['options.recordMode', 'duplicate'],
      ['options.hierarchyDepth', '2'],
    ]);
    expect(res.status).toBe(303);
    const jobs = await s.h.em().find(Job, { kind: 'restore' });
    const job = jobs.find((j) => j.params.selection && JSON.stringify(j.params.selection).includes(accountId));
    expect(job?.params.options).toEqual({
      recordMode: 'duplicate',
      hierarchyDepth: 2,
      disableAutomation: false,
      activateInactiveUsers: false,
    });
  });
});
