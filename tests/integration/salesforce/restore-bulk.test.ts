// Restores by volume: past the threshold (lowered here to 2), an object's records are created, or
// updated, through a Bulk API 2.0 ingest job instead of sObject Collections, and the job's results
// come back to the per-record report: the new id of each created record (`sf__Id`), Salesforce's
// error code and message for a refused one (`sf__Error`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { TaskEntity } from '../../../core/tasks/entities.ts';
import { tuneSalesforce } from '../../../plugins/services/salesforce/index.ts';
import { seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { backup, createSalesforceHarness, type SalesforceHarness } from './harness.ts';
import { discoveredTask, liveRecords, restoreInPlace, restoreReport } from './restore-harness.ts';

let s: SalesforceHarness;
let org: IOrganization;
let taskId: string;

beforeAll(async () => {
  s = await createSalesforceHarness();
  tuneSalesforce({ retry: { attempts: 8, baseDelayMs: 1, maxDelayMs: 5 }, bulkPollMs: 1, bulkWriteThreshold: 2 });
  seedDemoOrg(s.fake.org, { accounts: 1, contactsPerAccount: 1 });
  ({ taskId, org } = await discoveredTask(s));
});
afterAll(async () => {
  await s.close();
});

const live = liveRecords;

const restore = (key: string, options: Record<string, unknown>) => restoreInPlace(s, { taskId, org }, [key], options);

/** The job's report rows by source id. */
const report = async (jobId: string) => (await restoreReport(s, jobId)).rows;

describe('Salesforce restore through the Bulk API by volume', () => {
  it('creates the children of a deleted account in a Bulk API job and reports each new id or error', async () => {
    const sf = s.fake.org;
    const account = sf.insert('Account', { Name: 'Bulk Co' });
    const contacts = [1, 2, 3, 4].map((n) =>
      sf.insert('Contact', {
        LastName: `Bulk ${n}`,
        Name: `Bulk ${n}`,
        Email: n === 4 ? null : `bulk${n}@example.com`,
        AccountId: account,
      }),
    );
    const names = (await s.h.em().find(TaskEntity, { task: taskId, kind: 'data' })).map((e) => e.name);
    await backup(s, taskId, names);
    for (const c of contacts) sf.delete('Contact', c);
    sf.delete('Account', account);
    // The org has required Email since: the contact backed up without one is refused.
    const email = sf.object('Contact')?.field('Email') as { required?: boolean };
    email.required = true;
    const collectionsBefore = s.fake.requests.get('collections') ?? 0;
    const jobsBefore = s.fake.requests.get('ingest/create') ?? 0;

    const job = await restore(account, { recordMode: 'bypass', hierarchyDepth: 1 });
    email.required = false;
    expect(job.error).toBeNull();
    expect(job.result?.counts).toEqual({ created: 4, updated: 0, skipped: 0, failed: 1 });
    // The account alone goes through a collection; its 4 contacts through one ingest job.
    expect((s.fake.requests.get('collections') ?? 0) - collectionsBefore).toBe(1);
    expect((s.fake.requests.get('ingest/create') ?? 0) - jobsBefore).toBe(1);

    const [restored] = live(sf, 'Account', (v) => v.Name === 'Bulk Co');
    const back = live(sf, 'Contact', (v) => v.AccountId === restored?.Id);
    expect(back.map((c) => c.Email).sort()).toEqual(['bulk1@example.com', 'bulk2@example.com', 'bulk3@example.com']);
    const rows = await report(job.id);
    for (const [n, source] of contacts.slice(0, 3).entries()) {
      const created = back.find((c) => c.Email === `bulk${n + 1}@example.com`);
      expect(rows.get(source)).toMatchObject({ Result: 'created', 'Restored Id': created?.Id });
    }
    expect(rows.get(contacts[3] as string)).toMatchObject({ Result: 'failed', 'Error Code': 'REQUIRED_FIELD_MISSING' });
    expect(rows.get(contacts[3] as string)?.Message).toContain('Email');
  });

  it('updates records in a Bulk API job in Overwrite, clearing a field emptied since', async () => {
    const sf = s.fake.org;
    const account = sf.insert('Account', { Name: 'Overwrite Co', Phone: null });
    const contacts = [1, 2, 3].map((n) =>
      sf.insert('Contact', { LastName: `Kept ${n}`, Name: `Kept ${n}`, Email: null, AccountId: account }),
    );
    await backup(s, taskId, ['Account', 'Contact']);
    for (const c of contacts) sf.update('Contact', c, { LastName: 'Changed', Email: 'set.since@example.com' });
    const jobsBefore = s.fake.requests.get('ingest/create') ?? 0;

    const job = await restore(account, { recordMode: 'overwrite', hierarchyDepth: 1 });
    expect(job.error).toBeNull();
    expect(job.result?.counts).toEqual({ created: 0, updated: 4, skipped: 0, failed: 0 });
    expect((s.fake.requests.get('ingest/create') ?? 0) - jobsBefore).toBe(1);
    expect(contacts.map((c) => sf.object('Contact')?.records.get(c)?.values)).toEqual(
      [1, 2, 3].map((n) => expect.objectContaining({ LastName: `Kept ${n}`, Email: null })),
    );
  });
});
