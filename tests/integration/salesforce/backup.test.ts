// Salesforce backups through the kernel's backup jobs against the stand-in: discovery (queryable
// objects only), a first full run and an incremental one with the calls counted at the stand-in,
// deletes through queryAll, a file body downloaded once, the API budget stop and continuation,
// random faults with nothing missing, an expired session refreshed once, a revoked grant
// (Disconnected), and re-authentication to another org refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupTask } from '../../../core/tasks/entities.ts';
import { reconnectTask } from '../../../core/tasks/tasks-service.ts';
import { seedDemoMetadata, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { ACTOR } from '../../helpers/jobs.ts';
import {
  backup,
  createSalesforceHarness,
  discover,
  entity,
  type SalesforceHarness,
  salesforceTask,
  snapshotItems,
} from './harness.ts';

let s: SalesforceHarness;
const HOUR = 3600_000;

beforeAll(async () => {
  s = await createSalesforceHarness();
  seedDemoOrg(s.fake.org, { accounts: 30, contactsPerAccount: 10 });
  seedDemoMetadata(s.fake.metadata());
  s.clock.now += HOUR;
});
afterAll(async () => {
  await s.close();
});

function records(items: Map<string, { kind: string; content: string }>): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const [key, item] of items) if (item.kind === 'record') out.set(key, JSON.parse(item.content));
  return out;
}

describe('Salesforce backups', () => {
  let taskId: string;

  it('discovers one entity per queryable object, and leaves out those that cannot be queried', async () => {
    const task = await salesforceTask(s);
    taskId = task.id;
    await discover(s, taskId);
    const names = (
      await s.h.em().find((await import('../../../core/tasks/entities.ts')).TaskEntity, { task: taskId })
    ).map((e) => e.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'Account',
        'Contact',
        'Opportunity',
        'Case',
        'Project__c',
        'Milestone__c',
        'ContentVersion',
      ]),
    );
    expect(names).not.toContain('AccountChangeEvent');
    // Queryable only with a filter on ids: an entity all the same, read through the files' ids.
    expect(names).toContain('ContentDocumentLink');
    // Metadata types are entities of their own kind.
    const apex = await entity(s, taskId, 'ApexClass');
    expect([apex.kind, apex.externalId]).toEqual(['metadata', 'metadata:ApexClass']);
  });

  it('backs up every link of every file through the files’ ids, and drops a link deleted since', async () => {
    const sf = s.fake.org;
    const [first, second] = sf.liveIds('ContentDocument') as [string, string];
    const [account1, account2] = sf.liveIds('Account') as [string, string];
    const contact = sf.liveIds('Contact')[0] as string;
    const links = [
      sf.insert('ContentDocumentLink', { ContentDocumentId: first, LinkedEntityId: account1, ShareType: 'V' }),
      sf.insert('ContentDocumentLink', { ContentDocumentId: first, LinkedEntityId: contact, ShareType: 'V' }),
      sf.insert('ContentDocumentLink', { ContentDocumentId: second, LinkedEntityId: account2, ShareType: 'I' }),
    ];
    const [job] = await backup(s, taskId, ['ContentDocumentLink']);
    expect([job?.state, job?.error]).toEqual(['succeeded', null]);
    const stored = records(await snapshotItems(s, taskId, 'ContentDocumentLink'));
    expect([...stored.keys()].sort()).toEqual([...links].sort());
    expect(stored.get(links[1] as string)).toMatchObject({
      ContentDocumentId: first,
      LinkedEntityId: contact,
      ShareType: 'V',
    });

    sf.delete('ContentDocumentLink', links[2] as string);
    await backup(s, taskId, ['ContentDocumentLink']);
    const after = records(await snapshotItems(s, taskId, 'ContentDocumentLink'));
    expect([...after.keys()].sort()).toEqual([links[0], links[1]].sort());
  });

  it('stores each metadata component as its own item and retrieves only changed ones', async () => {
    s.fake.resetCounters();
    const [first] = await backup(s, taskId, ['ApexClass']);
    expect([first?.state, first?.error]).toEqual(['succeeded', null]);
    // limits (the usage: SOAP answers do not report it), listMetadata, retrieve, checkRetrieveStatus.
    expect(s.fake.calls).toBe(4);
    const items = await snapshotItems(s, taskId, 'ApexClass');
    expect([...items.keys()].sort()).toEqual([
      'classes/AccountService.cls',
      'classes/AccountService.cls-meta.xml',
      'classes/ProjectRollup.cls',
      'classes/ProjectRollup.cls-meta.xml',
    ]);
    expect(items.get('classes/AccountService.cls')?.content).toContain('class AccountService');
    expect(items.get('classes/AccountService.cls')?.meta).toMatchObject({
      object: 'ApexClass',
      name: 'AccountService',
    });

    s.clock.now += HOUR;
    const store = s.fake.metadata();
    store.put('ApexClass', 'AccountService', 'public with sharing class AccountService { /* v2 */ }\n');
    store.remove('ApexClass', 'ProjectRollup');
    store.put('ApexClass', 'NewService', 'public class NewService {}\n');
    const retrieved = s.fake.metadataApi.retrievedComponents;
    await backup(s, taskId, ['ApexClass']);
    expect(s.fake.metadataApi.retrievedComponents - retrieved).toBe(2);
    const after = await snapshotItems(s, taskId, 'ApexClass');
    expect([...after.keys()].sort()).toEqual([
      'classes/AccountService.cls',
      'classes/AccountService.cls-meta.xml',
      'classes/NewService.cls',
      'classes/NewService.cls-meta.xml',
    ]);
    expect(after.get('classes/AccountService.cls')?.content).toContain('v2');

    // Nothing changed: limits and one listMetadata call, nothing retrieved.
    s.fake.resetCounters();
    await backup(s, taskId, ['ApexClass']);
    expect(s.fake.calls).toBe(2);
    expect(s.fake.count('metadata/listMetadata')).toBe(1);
  });

  it('reads every record first, then only what changed, deleting what was deleted', async () => {
    s.fake.pageSize = 100;
    s.fake.resetCounters();
    const [first] = await backup(s, taskId, ['Contact']);
    expect([first?.state, first?.error]).toEqual(['succeeded', null]);
    // describe, COUNT() (300 rows: below the Bulk API threshold), 3 REST pages of 100.
    expect(s.fake.count('describe')).toBe(1);
    expect(s.fake.count('query') + s.fake.count('queryMore')).toBe(4);
    expect(s.fake.calls).toBe(5);
    const stored = records(await snapshotItems(s, taskId, 'Contact'));
    expect(stored.size).toBe(300);
    const [changed, gone] = s.fake.org.liveIds('Contact') as [string, string];
    // Each record as the REST API answered it: every field, typed.
    expect(stored.get(changed)).toEqual(s.fake.org.object('Contact')?.records.get(changed)?.values);

    s.clock.now += HOUR;
    s.fake.org.update('Contact', changed, { Email: 'new.address@example.com' });
    s.fake.org.delete('Contact', gone);
    const added = s.fake.org.insert('Contact', { LastName: 'Newcomer', Name: 'Newcomer' });
    s.clock.now += 60_000;
    s.fake.resetCounters();
    const [second] = await backup(s, taskId, ['Contact']);
    expect(second?.state).toBe('succeeded');
    // One Composite call: the conditional describe (304: the fields stand), getDeleted and the
    // queryAll page holding the three changed rows. Nothing else is read.
    expect(s.fake.calls).toBe(1);
    expect(s.fake.count('composite')).toBe(1);
    expect(s.fake.count('composite/describe')).toBe(1);
    expect(s.fake.count('composite/deleted')).toBe(1);
    expect(s.fake.count('composite/queryAll')).toBe(1);
    const after = records(await snapshotItems(s, taskId, 'Contact'));
    expect(after.size).toBe(300);
    expect(after.get(changed)?.Email).toBe('new.address@example.com');
    expect(after.has(gone)).toBe(false);
    expect(after.get(added)?.LastName).toBe('Newcomer');
    const e = await entity(s, taskId, 'Contact');
    expect([e.lastAdded, e.lastUpdated, e.lastDeleted]).toEqual([1, 1, 1]);
  });

  it('stores a file body once, and does not download it again', async () => {
    s.fake.resetCounters();
    const [first] = await backup(s, taskId, ['ContentVersion']);
    expect(first?.state).toBe('succeeded');
    expect(s.fake.count('blob')).toBe(2);
    const items = await snapshotItems(s, taskId, 'ContentVersion');
    const bodies = [...items.values()].filter((i) => i.kind === 'file').map((i) => i.content);
    expect(bodies.some((b) => b.startsWith('Widget,Price'))).toBe(true);

    s.clock.now += HOUR;
    const doc = s.fake.org.liveIds('ContentDocument')[0] as string;
    const v2 = s.fake.org.addFileVersion(doc, 'Widget,Price\nSmall,12\n');
    s.clock.now += 60_000;
    s.fake.resetCounters();
    await backup(s, taskId, ['ContentVersion']);
    // The new version's body only; the old version's row changed (IsLatest) but its body is stored.
    expect(s.fake.count('blob')).toBe(1);
    const again = await snapshotItems(s, taskId, 'ContentVersion');
    expect(again.get(`${v2}/VersionData`)?.content).toBe('Widget,Price\nSmall,12\n');
    expect([...again.values()].filter((i) => i.kind === 'file')).toHaveLength(3);
  });

  it('reads a file body again when its download fails, never storing the error answer', async () => {
    s.clock.now += HOUR;
    const doc = s.fake.org.liveIds('ContentDocument')[1] as string;
    const version = s.fake.org.addFileVersion(doc, 'second contract version');
    s.clock.now += 60_000;
    s.fake.failRoute('blob', 'server', 1);
    const [job] = await backup(s, taskId, ['ContentVersion']);
    expect(job?.state).toBe('succeeded');
    const items = await snapshotItems(s, taskId, 'ContentVersion');
    expect(items.get(`${version}/VersionData`)?.content).toBe('second contract version');
  });

  it('deletes master-detail children deleted with their parent', async () => {
    await backup(s, taskId, ['Milestone__c']);
    const project = s.fake.org.liveIds('Project__c')[0] as string;
    const before = records(await snapshotItems(s, taskId, 'Milestone__c'));
    const children = [...before.values()].filter((r) => r.Project__c === project).map((r) => r.Id);
    expect(children).toHaveLength(2);
    s.clock.now += HOUR;
    s.fake.org.delete('Project__c', project);
    s.clock.now += 60_000;
    await backup(s, taskId, ['Milestone__c']);
    const after = records(await snapshotItems(s, taskId, 'Milestone__c'));
    expect(after.size).toBe(before.size - 2);
    for (const id of children) expect(after.has(id as string)).toBe(false);
  });

  it('reads the whole object again when its fields change', async () => {
    await backup(s, taskId, ['Case']);
    s.clock.now += HOUR;
    s.fake.org.addField('Case', { name: 'Severity__c', type: 'picklist', custom: true });
    s.fake.resetCounters();
    await backup(s, taskId, ['Case']);
    // COUNT() and one page.
    expect(s.fake.count('query')).toBe(2);
    const after = records(await snapshotItems(s, taskId, 'Case'));
    expect(after.size).toBe(30);
    for (const r of after.values()) expect(r).toHaveProperty('Severity__c', null);
  });
});

describe('the API budget', () => {
  it('stops before the task’s share of the daily budget, Partial with the reason; the next run completes the rest', async () => {
    const small = s.fake.addOrg('Budget Org');
    seedDemoOrg(small, { accounts: 40, contactsPerAccount: 10 });
    s.clock.now += HOUR;
    // 10 % of 200 = 20 calls a day for this task; 400 contacts at 25 a page need 17 calls.
    small.api.max = 200;
    s.fake.pageSize = 25;
    const task = await salesforceTask(s, { org: small, apiUsageLimitPercent: 10 });
    await discover(s, task.id);
    small.api.used = 8;
    const [first] = await backup(s, task.id, ['Contact']);
    expect(small.api.used).toBeLessThanOrEqual(20);
    expect(first?.state).toBe('partially_succeeded');
    const e = await entity(s, task.id, 'Contact');
    expect(e.lastError).toContain("API usage limit (10 % of the org's 200 daily API requests = 20");
    // A run-level reason, not an item that could not be read.
    expect(e.lastError).toMatch(/^Stopped at the task's API usage limit/);
    expect(first?.result).toMatchObject({ failedItems: 0, stoppedEarly: expect.stringMatching(/^Stopped at/) });
    const part = records(await snapshotItems(s, task.id, 'Contact'));
    expect(part.size).toBeGreaterThan(0);
    expect(part.size).toBeLessThan(400);

    // A new day: the budget is back; the next run continues after the last stored Id.
    small.api.used = 0;
    s.fake.resetCounters();
    const [second] = await backup(s, task.id, ['Contact']);
    expect(second?.state).toBe('succeeded');
    const whole = records(await snapshotItems(s, task.id, 'Contact'));
    expect([...whole.keys()].sort()).toEqual(small.liveIds('Contact').sort());
    // Only the rest was read: (400 − part) / 25 pages, rounded up, plus describe.
    expect(s.fake.calls).toBe(1 + Math.ceil((400 - part.size) / 25));
    expect(s.fake.count('bulk/create')).toBe(0);
  });
});

describe('an org out of API requests', () => {
  it('ends the first run Partial, naming the limit, when Salesforce refuses the very first call', async () => {
    const org = s.fake.addOrg('Exhausted Org');
    seedDemoOrg(org, { accounts: 2, contactsPerAccount: 1 });
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    org.api.used = org.api.max;
    const [first] = await backup(s, task.id, ['Account']);
    expect(first?.state).toBe('partially_succeeded');
    expect((await entity(s, task.id, 'Account')).lastError).toContain("the org's daily API request limit is reached");
    org.api.used = 0;
    const [second] = await backup(s, task.id, ['Account']);
    expect(second?.state).toBe('succeeded');
    expect(records(await snapshotItems(s, task.id, 'Account')).size).toBe(2);
  });
});

describe('the API budget in metadata runs', () => {
  it('counts SOAP calls from the usage /limits reported, stops at the limit, and retrieves the rest next time', async () => {
    const org = s.fake.addOrg('Metadata Budget Org');
    seedDemoOrg(org, { accounts: 1, contactsPerAccount: 1 });
    seedDemoMetadata(s.fake.metadata(org));
    s.clock.now += HOUR;
    const task = await salesforceTask(s, { org, apiUsageLimitPercent: 10 });
    await discover(s, task.id);
    org.api.max = 100;
    org.api.used = 8;
    // 10 allowed: /limits (9) and listMetadata (10); the retrieve would be the 11th.
    const [first] = await backup(s, task.id, ['Profile']);
    expect(first?.state).toBe('partially_succeeded');
    expect(org.api.used).toBe(10);
    expect((await entity(s, task.id, 'Profile')).lastError).toContain('API usage limit (10 %');
    org.api.used = 0;
    const [second] = await backup(s, task.id, ['Profile']);
    expect(second?.state).toBe('succeeded');
    const items = await snapshotItems(s, task.id, 'Profile');
    expect([...items.keys()].sort()).toEqual(['profiles/Admin.profile', 'profiles/Standard.profile']);
  });
});

describe('the Bulk API', () => {
  it('reads a large object in full through a Bulk API 2.0 job, page by page, records typed as REST answers them', async () => {
    const org = s.fake.addOrg('Large Org');
    seedDemoOrg(org, { accounts: 110, contactsPerAccount: 10 });
    s.clock.now += HOUR;
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    s.fake.bulkPageSize = 300;
    s.fake.bulkChecksInProgress = 1;
    s.fake.resetCounters();
    try {
      const [job] = await backup(s, task.id, ['Contact']);
      expect(job?.state).toBe('succeeded');
    } finally {
      s.fake.bulkPageSize = 50_000;
      s.fake.bulkChecksInProgress = 0;
    }
    // describe, COUNT(), the job, two status checks, ceil(1100 / 300) = 4 results pages.
    expect([
      s.fake.count('query'),
      s.fake.count('bulk/create'),
      s.fake.count('bulk/job'),
      s.fake.count('bulk/results'),
    ]).toEqual([1, 1, 2, 4]);
    expect(s.fake.count('queryMore')).toBe(0);
    const stored = records(await snapshotItems(s, task.id, 'Contact'));
    expect([...stored.keys()].sort()).toEqual(org.liveIds('Contact').sort());
    const some = org.liveIds('Contact')[17] as string;
    expect(stored.get(some)).toEqual(org.object('Contact')?.records.get(some)?.values);
  });

  it('continues a bulk read stopped by the budget from the next results page', async () => {
    const org = s.fake.addOrg('Large Budget Org');
    seedDemoOrg(org, { accounts: 110, contactsPerAccount: 10 });
    s.clock.now += HOUR;
    org.api.max = 100;
    s.fake.pageSize = 2000;
    const task = await salesforceTask(s, { org, apiUsageLimitPercent: 10 });
    await discover(s, task.id);
    s.fake.bulkPageSize = 200;
    try {
      // 10 calls allowed: describe, COUNT(), create, status, then pages until the limit.
      org.api.used = 2;
      const [first] = await backup(s, task.id, ['Contact']);
      expect(first?.state).toBe('partially_succeeded');
      expect(org.api.used).toBeLessThanOrEqual(10);
      const part = records(await snapshotItems(s, task.id, 'Contact'));
      expect(part.size).toBeGreaterThan(0);
      expect(part.size).toBeLessThan(1100);
      org.api.used = 0;
      s.fake.resetCounters();
      const [second] = await backup(s, task.id, ['Contact']);
      expect(second?.state).toBe('succeeded');
      // The same job: no new one, only the pages not read yet.
      expect(s.fake.count('bulk/create')).toBe(0);
      expect(s.fake.count('bulk/results')).toBe(Math.ceil((1100 - part.size) / 200));
      const whole = records(await snapshotItems(s, task.id, 'Contact'));
      expect([...whole.keys()].sort()).toEqual(org.liveIds('Contact').sort());
    } finally {
      s.fake.bulkPageSize = 50_000;
    }
  });
});

describe('faults', () => {
  it('completes with nothing missing when 5 % of calls fail with 5xx, throttling or timeouts', async () => {
    const org = s.fake.addOrg('Flaky Org');
    seedDemoOrg(org, { accounts: 50, contactsPerAccount: 8 });
    s.clock.now += HOUR;
    s.fake.pageSize = 5;
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    s.fake.faults.serverErrorRate = 0.03;
    s.fake.faults.throttleRate = 0.01;
    s.fake.faults.queryTimeoutRate = 0.01;
    s.fake.resetCounters();
    try {
      const jobs = await backup(s, task.id, ['Contact', 'ContentVersion']);
      expect(jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
    } finally {
      s.fake.faults.serverErrorRate = 0;
      s.fake.faults.throttleRate = 0;
      s.fake.faults.queryTimeoutRate = 0;
    }
    expect([...s.fake.injected.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const contacts = records(await snapshotItems(s, task.id, 'Contact'));
    expect([...contacts.keys()].sort()).toEqual(org.liveIds('Contact').sort());
    const files = await snapshotItems(s, task.id, 'ContentVersion');
    expect([...files.values()].filter((i) => i.kind === 'file')).toHaveLength(2);
  });
});

describe('faults in bulk reads', () => {
  it('completes a Bulk API read with nothing missing when 5 % of calls fail', async () => {
    const org = s.fake.addOrg('Flaky Large Org');
    seedDemoOrg(org, { accounts: 110, contactsPerAccount: 10 });
    s.clock.now += HOUR;
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    s.fake.bulkPageSize = 20;
    s.fake.faults.serverErrorRate = 0.03;
    s.fake.faults.throttleRate = 0.02;
    s.fake.resetCounters();
    try {
      const [job] = await backup(s, task.id, ['Contact']);
      expect(job?.state).toBe('succeeded');
    } finally {
      s.fake.bulkPageSize = 50_000;
      s.fake.faults.serverErrorRate = 0;
      s.fake.faults.throttleRate = 0;
    }
    expect([...s.fake.injected.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const contacts = records(await snapshotItems(s, task.id, 'Contact'));
    expect([...contacts.keys()].sort()).toEqual(org.liveIds('Contact').sort());
  });
});

describe('sessions and orgs', () => {
  it('renews an expired session once and goes on', async () => {
    const org = s.fake.addOrg('Session Org');
    seedDemoOrg(org, { accounts: 2, contactsPerAccount: 1 });
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    const tokens = s.fake.count('oauth/token');
    s.fake.failNext('session');
    const [job] = await backup(s, task.id, ['Account']);
    expect(job?.state).toBe('succeeded');
    // The first token of the job, and one renewal.
    expect(s.fake.count('oauth/token')).toBe(tokens + 2);
  });

  it('marks the task Disconnected when the session is refused again right after a renewal', async () => {
    const org = s.fake.addOrg('Refused Org');
    seedDemoOrg(org, { accounts: 2, contactsPerAccount: 1 });
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    s.fake.failNext('session', 2);
    const [job] = await backup(s, task.id, ['Account']);
    expect(job?.state).toBe('failed');
    const fresh = await s.h.em().findOneOrFail(BackupTask, { id: task.id });
    expect(fresh.connectionState).toBe('disconnected');
  });

  it('marks the task Disconnected when the grant is revoked', async () => {
    const org = s.fake.addOrg('Revoked Org');
    seedDemoOrg(org, { accounts: 2, contactsPerAccount: 1 });
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    s.fake.oauth.revokeAll();
    const [job] = await backup(s, task.id, ['Account']);
    expect(job?.state).toBe('failed');
    const fresh = await s.h.em().findOneOrFail(BackupTask, { id: task.id });
    expect(fresh.connectionState).toBe('disconnected');
  });

  it('refuses re-authentication that reaches another org', async () => {
    const task = await salesforceTask(s);
    const other = s.fake.addOrg('Other Org');
    const em = s.h.em();
    const fresh = await em.findOneOrFail(BackupTask, { id: task.id });
    await expect(
      reconnectTask(
        em,
        s.h.deps,
        fresh,
        {
          environment: 'production',
          orgId: other.id,
          orgName: other.name,
          refreshToken: s.fake.grant(other).refreshToken,
        },
        ACTOR,
      ),
    ).rejects.toThrow(/another account/);
  });

  it('refuses a connection whose credentials reach another org than the task’s', async () => {
    const other = s.fake.addOrg('Elsewhere Org');
    const plugin = (await import('../../../core/plugins/registry.ts')).servicePlugin('salesforce');
    await expect(
      plugin?.connect(
        { environment: 'production', orgId: s.fake.org.id, refreshToken: s.fake.grant(other).refreshToken } as never,
        { signal: AbortSignal.timeout(10_000), log: s.h.ctx.log },
      ),
    ).rejects.toThrow(/not the task's org/);
  });
});
