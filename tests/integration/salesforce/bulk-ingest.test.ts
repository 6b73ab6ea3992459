// The stand-in's Bulk API 2.0 ingest, driven only through jsforce's `bulk2` client as a Data Loader
// or a restore would drive it: create a job, upload the CSV, UploadComplete, poll, then the
// successful, failed and unprocessed records. Rows Salesforce refuses (a required field missing,
// a field that cannot be written, a lookup to no record or of the wrong type, a value of the wrong
// type) fail on their own with Salesforce's error text; a column that is not a field fails the job.
// A finished job's results are kept in files of the stand-in's, not in its memory.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@jsforce/jsforce-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSalesforce, type Org, seedDemoOrg } from '../../fakes/salesforce/index.ts';

let sf: FakeSalesforce;
let org: Org;
let conn: Connection;

beforeAll(async () => {
  sf = await new FakeSalesforce().start();
  org = sf.org;
  seedDemoOrg(org, { accounts: 2, contactsPerAccount: 1 });
  conn = new Connection({ instanceUrl: sf.url, accessToken: sf.grant().accessToken, version: '62.0' });
  conn.bulk2.pollInterval = 5;
  conn.bulk2.pollTimeout = 10_000;
});
afterAll(async () => {
  await sf.stop();
});

type Row = Record<string, string>;

describe('Bulk API 2.0 ingest (stand-in)', () => {
  it('inserts rows, polls through InProgress, and answers successful results with the new ids', async () => {
    sf.ingest.checksInProgress = 2;
    const account = org.liveIds('Account')[0] as string;
    const results = await conn.bulk2.loadAndWaitForResults({
      object: 'Contact',
      operation: 'insert',
      input: `FirstName,LastName,Email,AccountId\nAda,Lovelace,ada@example.com,${account}\n"Grace ""Amazing""",Hopper,,${account}\n`,
    });
    sf.ingest.checksInProgress = 0;
    expect(results.failedResults).toEqual([]);
    expect(results.unprocessedRecords).toEqual([]);
    const ok = results.successfulResults as unknown as Row[];
    expect(ok.map((r) => [r.sf__Created, r.LastName])).toEqual([
      ['true', 'Lovelace'],
      ['true', 'Hopper'],
    ]);
    const created = await conn.query<Row>(
      `SELECT FirstName, Email, AccountId FROM Contact WHERE Id = '${ok[1]?.sf__Id}'`,
    );
    expect(created.records[0]).toMatchObject({ FirstName: 'Grace "Amazing"', Email: null, AccountId: account });
    expect(sf.count('ingest/create')).toBe(1);
    expect(sf.count('ingest/batches')).toBe(1);
  });

  it('fails rows Salesforce refuses, each with its error text, and writes the others', async () => {
    const before = org.liveIds('Account').length;
    const contact = org.liveIds('Contact')[0] as string;
    const results = await conn.bulk2.loadAndWaitForResults({
      object: 'Opportunity',
      operation: 'insert',
      input: [
        'Name,StageName,CloseDate,Amount,AccountId',
        'Good,Prospecting,2027-01-31,100,',
        ',Prospecting,2027-01-31,100,',
        'Bad date,Prospecting,31/01/2027,100,',
        'Bad amount,Prospecting,2027-01-31,lots,',
        `Wrong lookup,Prospecting,2027-01-31,1,${contact}`,
        'Gone lookup,Prospecting,2027-01-31,1,001AA0000009999AAA',
        'Malformed lookup,Prospecting,2027-01-31,1,not-an-id',
      ].join('\n'),
    });
    expect((results.successfulResults as unknown as Row[]).map((r) => r.Name)).toEqual(['Good']);
    expect((results.failedResults as unknown as Row[]).map((r) => [r.Name, r.sf__Error])).toEqual([
      ['', 'REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --'],
      ['Bad date', 'INVALID_TYPE_ON_FIELD_IN_RECORD:CloseDate: value not of required type: 31/01/2027:CloseDate --'],
      ['Bad amount', 'INVALID_TYPE_ON_FIELD_IN_RECORD:Amount: value not of required type: lots:Amount --'],
      ['Wrong lookup', `FIELD_INTEGRITY_EXCEPTION:AccountId: id value of incorrect type: ${contact}:AccountId --`],
      ['Gone lookup', 'INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:AccountId --'],
      ['Malformed lookup', 'MALFORMED_ID:AccountId: id value of incorrect type: not-an-id:AccountId --'],
    ]);
    expect(org.liveIds('Account').length).toBe(before);

    const system = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'insert',
      input: 'Name,CreatedDate\nBackdated,2020-01-01T00:00:00.000Z\n',
    });
    expect((system.failedResults as unknown as Row[])[0]?.sf__Error).toBe(
      'INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: CreatedDate. Please check the security settings of this field and verify that it is read/write for your profile or permission set.:CreatedDate --',
    );
  });

  it('fails the whole job on a column that is not a field, leaving its rows unprocessed', async () => {
    await expect(
      conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: 'Name,Colour__c\nX,red\n' }),
    ).rejects.toThrow('Ingest job failed to complete due to: InvalidBatch : Field name not found : Colour__c');
  });

  it('updates, upserts by an external id field and deletes', async () => {
    const [first, second] = org.liveIds('Account') as [string, string];
    const updated = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'update',
      input: `Id,Phone,Website\n${first},+1 555 0000,#N/A\n001AA0000009998AAA,+1,\n`,
    });
    expect((updated.successfulResults as unknown as Row[]).map((r) => [r.sf__Id, r.sf__Created])).toEqual([
      [first, 'false'],
    ]);
    expect((updated.failedResults as unknown as Row[])[0]?.sf__Error).toBe(
      'INVALID_CROSS_REFERENCE_KEY:invalid cross reference id: --',
    );
    expect(org.object('Account')?.records.get(first)?.values.Phone).toBe('+1 555 0000');

    const upserted = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'upsert',
      externalIdFieldName: 'Name',
      input: 'Name,Industry\nAccount 2,Energy\nBrand new,Retail\n',
    });
    expect((upserted.successfulResults as unknown as Row[]).map((r) => [r.Name, r.sf__Created])).toEqual([
      ['Account 2', 'false'],
      ['Brand new', 'true'],
    ]);
    expect(org.object('Account')?.records.get(second)?.values.Industry).toBe('Energy');

    const deleted = await conn.bulk2.loadAndWaitForResults({
      object: 'Account',
      operation: 'delete',
      input: `Id\n${first}\n`,
    });
    expect((deleted.successfulResults as unknown as Row[]).map((r) => r.sf__Id)).toEqual([first]);
    expect(org.liveIds('Account')).not.toContain(first);
  });

  it('keeps a finished job’s results in files, read again as often as asked, removed when it stops', async () => {
    const rows = Array.from({ length: 1200 }, (_, i) => `Spooled ${i},Prospecting,2026-01-01`);
    rows.push(',Prospecting,2026-01-01');
    const job = await conn.bulk2.loadAndWaitForResults({
      object: 'Opportunity',
      operation: 'insert',
      input: `Name,StageName,CloseDate\n${rows.join('\n')}\n`,
    });
    expect(job.successfulResults).toHaveLength(1200);
    expect(job.failedResults).toHaveLength(1);
    const listed = await conn.request<{ records: { id: string }[] }>('/services/data/v62.0/jobs/ingest');
    const id = listed.records.at(-1)?.id as string;
    const folder = sf.ingest.resultsFolder();
    const file = join(folder, `${id}.successful.csv`);
    const lines = readFileSync(file, 'utf8').trimEnd().split(/\r?\n/);
    expect(lines).toHaveLength(1201);
    expect(lines[0]).toBe('sf__Id,sf__Created,Name,StageName,CloseDate');
    expect(readFileSync(join(folder, `${id}.failed.csv`), 'utf8')).toContain('REQUIRED_FIELD_MISSING');
    // Asked again, the same rows.
    const again = await fetch(`${sf.url}/services/data/v62.0/jobs/ingest/${id}/successfulResults`, {
      headers: { Authorization: `Bearer ${conn.accessToken}` },
    }).then((r) => r.text());
    expect(again.trimEnd().split(/\r?\n/)).toEqual(lines);
    const other = await new FakeSalesforce().start();
    const otherFolder = other.ingest.resultsFolder();
    expect(readdirSync(otherFolder)).toEqual([]);
    await other.stop();
    expect(existsSync(otherFolder)).toBe(false);
  });
});
