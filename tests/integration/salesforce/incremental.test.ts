// Salesforce incremental runs beyond queryAll: rows gone for good (purged from the recycle bin or
// hard-deleted) found through getDeleted, a pass over every Id when the last run is older than the
// delete log reaches, and many changed rows read through a Bulk API 2.0 queryAll job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoOrg } from '../../fakes/salesforce/index.ts';
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
const DAY = 24 * HOUR;

beforeAll(async () => {
  s = await createSalesforceHarness(7);
  // Months before today: getDeleted's window ends at the appliance's clock, as it would in use.
  s.clock.now = Date.parse('2026-06-01T08:00:00Z');
});

function addOrg(name: string) {
  const org = s.fake.addOrg(name);
  org.now = () => new Date(s.clock.now);
  return org;
}
afterAll(async () => {
  await s.close();
});

async function recordIds(taskId: string, name: string): Promise<string[]> {
  const items = await snapshotItems(s, taskId, name);
  return [...items]
    .filter(([, i]) => i.kind === 'record')
    .map(([key]) => key)
    .sort();
}

describe('hard deletes', () => {
  it('deletes rows purged from the recycle bin and hard-deleted ones, which queryAll no longer returns', async () => {
    const org = addOrg('Purging Org');
    seedDemoOrg(org, { accounts: 20, contactsPerAccount: 5 });
    s.clock.now += HOUR;
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    await backup(s, task.id, ['Contact']);
    expect(await recordIds(task.id, 'Contact')).toHaveLength(100);

    s.clock.now += HOUR;
    const [binned, hard, soft] = org.liveIds('Contact') as [string, string, string];
    org.delete('Contact', binned);
    org.purge('Contact', binned);
    org.purge('Contact', hard);
    org.delete('Contact', soft);
    s.clock.now += 60_000;
    s.fake.resetCounters();
    const [job] = await backup(s, task.id, ['Contact']);
    expect(job?.state).toBe('succeeded');
    expect(s.fake.count('composite/deleted')).toBe(1);
    expect(await recordIds(task.id, 'Contact')).toEqual(org.liveIds('Contact').sort());
    const e = await entity(s, task.id, 'Contact');
    expect(e.lastDeleted).toBe(3);
  });

  it('passes over every Id when the last run is older than the delete log reaches, then uses getDeleted again', async () => {
    const org = addOrg('Dormant Org');
    seedDemoOrg(org, { accounts: 30, contactsPerAccount: 1 });
    s.clock.now += HOUR;
    s.fake.pageSize = 10;
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    await backup(s, task.id, ['Case']);

    // 20 days later: getDeleted keeps 15 days, so what was purged before them is not listed.
    s.clock.now += 20 * DAY;
    const [early, late] = org.liveIds('Case') as [string, string];
    org.purge('Case', early);
    s.clock.now += 6 * DAY;
    org.purge('Case', late);
    s.clock.now += HOUR;
    s.fake.resetCounters();
    const [job] = await backup(s, task.id, ['Case']);
    expect(job?.state).toBe('succeeded');
    expect(await recordIds(task.id, 'Case')).toEqual(org.liveIds('Case').sort());
    // getDeleted answered that its log starts after the window, so every Id was read (28 rows, 10 a page).
    expect(s.fake.count('composite/deleted')).toBe(1);
    expect(s.fake.count('query') + s.fake.count('queryMore')).toBe(3);

    // 40 days later Salesforce refuses the window outright (more than 30 days ago): the same pass.
    s.clock.now += 40 * DAY;
    const [third] = org.liveIds('Case') as [string];
    org.purge('Case', third);
    s.clock.now += HOUR;
    const [again] = await backup(s, task.id, ['Case']);
    expect(again?.state).toBe('succeeded');
    expect(await recordIds(task.id, 'Case')).toEqual(org.liveIds('Case').sort());

    // The next day getDeleted covers the window again: no pass over every Id.
    s.clock.now += DAY;
    const [fourth] = org.liveIds('Case') as [string];
    org.purge('Case', fourth);
    s.clock.now += 60_000;
    s.fake.resetCounters();
    await backup(s, task.id, ['Case']);
    expect(await recordIds(task.id, 'Case')).toEqual(org.liveIds('Case').sort());
    expect(s.fake.count('query')).toBe(0);
    expect(s.fake.count('queryMore')).toBe(0);
    s.fake.pageSize = 2000;
  });
});

describe('many changed rows', () => {
  it('reads them through a Bulk API 2.0 queryAll job instead of REST pages', async () => {
    const org = addOrg('Busy Org');
    seedDemoOrg(org, { accounts: 120, contactsPerAccount: 10 });
    s.clock.now += HOUR;
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    await backup(s, task.id, ['Contact']);

    s.clock.now += HOUR;
    const ids = org.liveIds('Contact');
    for (const id of ids.slice(0, 1100)) org.update('Contact', id, { Email: `moved.${id}@example.com` });
    const gone = ids.slice(1100, 1105);
    for (const id of gone) org.delete('Contact', id);
    s.clock.now += 60_000;
    s.fake.pageSize = 200;
    s.fake.resetCounters();
    const [job] = await backup(s, task.id, ['Contact']);
    s.fake.pageSize = 2000;
    expect(job?.state).toBe('succeeded');
    // One REST page told the size (1105 changed rows, above the harness's threshold of 1000); the
    // rows came from one bulk job, not 6 REST pages.
    expect(s.fake.count('composite/queryAll')).toBe(1);
    expect(s.fake.count('queryMore')).toBe(0);
    expect(s.fake.count('bulk/create')).toBe(1);
    const items = await snapshotItems(s, task.id, 'Contact');
    const records = [...items].filter(([, i]) => i.kind === 'record');
    expect(records.map(([k]) => k).sort()).toEqual(org.liveIds('Contact').sort());
    const first = JSON.parse(items.get(ids[0] as string)?.content ?? '{}');
    // Typed as REST answers them, so an unchanged row read by either path stores the same bytes.
    expect(first).toEqual(org.object('Contact')?.records.get(ids[0] as string)?.values);
    const e = await entity(s, task.id, 'Contact');
    expect([e.lastUpdated, e.lastDeleted]).toEqual([1100, 5]);
  });
});

describe('the API budget in a bulk read of changes', () => {
  it('stops between results pages, Partial with the reason; the next run continues the same job', async () => {
    const org = addOrg('Busy Budget Org');
    seedDemoOrg(org, { accounts: 120, contactsPerAccount: 10 });
    s.clock.now += HOUR;
    const task = await salesforceTask(s, { org, apiUsageLimitPercent: 10 });
    await discover(s, task.id);
    await backup(s, task.id, ['Contact']);

    s.clock.now += HOUR;
    const ids = org.liveIds('Contact');
    for (const id of ids.slice(0, 1100)) org.update('Contact', id, { Email: `moved.${id}@example.com` });
    s.clock.now += 60_000;
    // 10 % of 1000 = 100 calls; 95 used: the Composite call, the job, its status and two of its six
    // results pages fit.
    org.api.max = 1000;
    org.api.used = 95;
    s.fake.bulkPageSize = 200;
    s.fake.pageSize = 200;
    s.fake.resetCounters();
    const [first] = await backup(s, task.id, ['Contact']);
    expect(first?.state).toBe('partially_succeeded');
    expect(org.api.used).toBeLessThanOrEqual(100);
    expect((await entity(s, task.id, 'Contact')).lastError).toMatch(/^Stopped at the task's API usage limit/);
    expect(s.fake.count('bulk/results')).toBe(2);

    org.api.used = 0;
    s.fake.resetCounters();
    const [second] = await backup(s, task.id, ['Contact']);
    s.fake.bulkPageSize = 50_000;
    s.fake.pageSize = 2000;
    expect(second?.state).toBe('succeeded');
    expect(s.fake.count('bulk/create')).toBe(0);
    expect(s.fake.count('bulk/results')).toBe(4);
    const items = await snapshotItems(s, task.id, 'Contact');
    for (const id of ids.slice(0, 1100)) {
      expect(JSON.parse(items.get(id)?.content ?? '{}').Email).toBe(`moved.${id}@example.com`);
    }
  });
});

describe('faults in later runs', () => {
  it('completes a run of changes with nothing missing when 5 % of calls fail with 5xx, throttling or timeouts', async () => {
    const org = addOrg('Flaky Changing Org');
    seedDemoOrg(org, { accounts: 60, contactsPerAccount: 5 });
    s.clock.now += HOUR;
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    const names = ['Account', 'Contact', 'Opportunity', 'Case', 'Milestone__c'];
    await backup(s, task.id, names);

    s.clock.now += HOUR;
    const contacts = org.liveIds('Contact');
    for (const id of contacts.slice(0, 250)) org.update('Contact', id, { Email: `new.${id}@example.com` });
    org.delete('Contact', contacts[50] as string);
    org.purge('Contact', contacts[51] as string);
    org.delete('Project__c', org.liveIds('Project__c')[0] as string);
    org.insert('Case', { Subject: 'New question', Status: 'New' });
    s.clock.now += 60_000;
    s.fake.pageSize = 5;
    s.fake.faults.serverErrorRate = 0.03;
    s.fake.faults.throttleRate = 0.01;
    s.fake.faults.queryTimeoutRate = 0.01;
    s.fake.resetCounters();
    try {
      const jobs = await backup(s, task.id, names);
      expect(jobs.map((j) => j.state)).toEqual(names.map(() => 'succeeded'));
    } finally {
      s.fake.faults.serverErrorRate = 0;
      s.fake.faults.throttleRate = 0;
      s.fake.faults.queryTimeoutRate = 0;
      s.fake.pageSize = 2000;
    }
    expect([...s.fake.injected.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    for (const name of names) expect(await recordIds(task.id, name)).toEqual(org.liveIds(name).sort());
    const stored = await snapshotItems(s, task.id, 'Contact');
    expect(JSON.parse(stored.get(contacts[0] as string)?.content ?? '{}').Email).toBe(`new.${contacts[0]}@example.com`);
  });
});

describe('a describe that changed in the second it was read', () => {
  it('is read again: the next run stores the new field on every record', async () => {
    const org = addOrg('Same Second Org');
    seedDemoOrg(org, { accounts: 10, contactsPerAccount: 2 });
    // The first run reads the describe at hh:mm:ss.100; the field comes 500 ms later, in the same
    // whole second an HTTP date (If-Modified-Since) can name.
    s.clock.now = Math.floor((s.clock.now + HOUR) / 1000) * 1000 + 100;
    const task = await salesforceTask(s, { org });
    await discover(s, task.id);
    await backup(s, task.id, ['Contact']);
    s.clock.now += 500;
    org.addField('Contact', { name: 'Region__c', type: 'picklist', custom: true });

    s.clock.now += HOUR;
    const [job] = await backup(s, task.id, ['Contact']);
    expect(job?.state).toBe('succeeded');
    const items = await snapshotItems(s, task.id, 'Contact');
    const records = [...items.values()].filter((i) => i.kind === 'record');
    expect(records).toHaveLength(20);
    for (const r of records) expect(JSON.parse(r.content)).toHaveProperty('Region__c', null);
  });
});
