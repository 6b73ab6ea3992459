// The stand-in's record writes driven through jsforce as the restore drives them: sObject create,
// update and delete, sObject Collections (create/update ≤ 200, allOrNone), Salesforce's
// validation errors, new ids with the object's key prefix, SystemModstamp moved by writes,
// date-times kept to the second and answered as Salesforce writes them (…T03:04:05.000+0000), and
// every call counted against the daily API budget.
import { Connection, OAuth2 } from '@jsforce/jsforce-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSalesforce, seedDemoOrg } from '../../fakes/salesforce/index.ts';

let sf: FakeSalesforce;
let clock = Date.parse('2026-12-01T10:00:00Z');

beforeAll(async () => {
  sf = await new FakeSalesforce().start();
  sf.org.now = () => new Date(clock);
  seedDemoOrg(sf.org, { accounts: 2, contactsPerAccount: 1 });
  sf.org.addField('Account', { name: 'NumberOfProjects__c', type: 'int', readOnly: true, custom: true });
  sf.org.addField('Account', { name: 'Score__c', type: 'double', formula: true, custom: true });
  sf.org.addField('Contact', { name: 'ReportsToId', type: 'reference', referenceTo: ['Contact'] });
  sf.org.addField('Account', { name: 'Renewal__c', type: 'datetime', custom: true });
});
afterAll(async () => {
  await sf.stop();
});

function connection(): Connection {
  const { refreshToken, accessToken } = sf.grant();
  const oauth2 = new OAuth2({ loginUrl: sf.url, clientId: sf.clientId, clientSecret: sf.clientSecret });
  return new Connection({ oauth2, instanceUrl: sf.url, accessToken, refreshToken, version: '62.0' });
}

type Saved = { id?: string; success: boolean; errors: { statusCode: string; message: string; fields: string[] }[] };

describe('Salesforce stand-in: record writes', () => {
  it('creates a record with a new id of the object’s key prefix, counted against the budget', async () => {
    const conn = connection();
    const before = sf.org.api.used;
    const saved = (await conn.sobject('Account').create({ Name: 'Globex', Industry: 'Energy' })) as Saved;
    expect(saved.success).toBe(true);
    expect(saved.id).toMatch(/^001\w{15}$/);
    expect(sf.org.api.used).toBe(before + 1);
    const row = await conn.sobject('Account').retrieve(saved.id as string);
    expect(row).toMatchObject({ Name: 'Globex', Industry: 'Energy', IsDeleted: false });
  });

  it('creates and updates up to 200 records a call through sObject Collections, each result on its own', async () => {
    const conn = connection();
    const calls = sf.count('collections');
    const records = Array.from({ length: 200 }, (_, i) => ({ Name: `Bulk ${i}` }));
    records[7] = { Name: '' };
    const created = (await conn.sobject('Account').create(records, { allOrNone: false })) as Saved[];
    expect(sf.count('collections')).toBe(calls + 1);
    expect(created).toHaveLength(200);
    expect(created.filter((r) => r.success)).toHaveLength(199);
    expect(created[7]).toEqual({
      success: false,
      errors: [
        { statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Name]', fields: ['Name'] },
      ],
    });
    const first = created[0]?.id as string;
    const stampBefore = sf.org.object('Account')?.records.get(first)?.values.SystemModstamp;
    clock += 60_000;
    const updated = (await conn
      .sobject('Account')
      .update([{ Id: first, Phone: '+1 555 0100' }], { allOrNone: false })) as Saved[];
    expect(updated).toEqual([{ id: first, success: true, errors: [] }]);
    const stored = sf.org.object('Account')?.records.get(first)?.values;
    expect(stored?.Phone).toBe('+1 555 0100');
    expect(stored?.SystemModstamp).not.toBe(stampBefore);
  });

  it('keeps date-times to the second and answers them as Salesforce writes them, whatever form was sent', async () => {
    const conn = connection();
    clock += 60_123;
    const saved = (await conn
      .sobject('Account')
      .create({ Name: 'Timely', Renewal__c: '2024-01-02T03:04:05.123Z' })) as Saved;
    const id = saved.id as string;
    const read = async () =>
      ((await conn.query(`SELECT Renewal__c, CreatedDate, SystemModstamp FROM Account WHERE Id = '${id}'`))
        .records[0] ?? {}) as Record<string, unknown>;
    const created = await read();
    expect(created.Renewal__c).toBe('2024-01-02T03:04:05.000+0000');
    expect(created.CreatedDate).toBe(`${new Date(clock - 123).toISOString().slice(0, 19)}.000+0000`);
    expect(created.SystemModstamp).toBe(created.CreatedDate);
    await conn
      .sobject('Account')
      .update([{ Id: id, Renewal__c: '2024-01-02T05:04:06.987+02:00' }], { allOrNone: false });
    expect((await read()).Renewal__c).toBe('2024-01-02T03:04:06.000+0000');
  });

  it('refuses more than 200 records a call', async () => {
    const conn = connection();
    const records = Array.from({ length: 201 }, (_, i) => ({ Name: `Too many ${i}` }));
    await expect(conn.sobject('Account').create(records, { allOrNone: false })).rejects.toMatchObject({
      errorCode: 'EXCEEDED_ID_LIMIT',
    });
  });

  it('refuses fields the describe says are not createable or updateable', async () => {
    const conn = connection();
    const describe = await conn.sobject('Account').describe();
    const field = (n: string) => describe.fields.find((f) => f.name === n);
    expect(field('NumberOfProjects__c')).toMatchObject({ createable: false, updateable: false, calculated: false });
    expect(field('Score__c')).toMatchObject({ createable: false, updateable: false, calculated: true });
    expect(field('Name')).toMatchObject({ nillable: false, createable: true });
    const [result] = (await conn
      .sobject('Account')
      .create([{ Name: 'X', Score__c: 3 }, { Name: 'Y' }], { allOrNone: false })) as Saved[];
    expect(result?.errors[0]?.statusCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
    expect(result?.errors[0]?.fields).toEqual(['Score__c']);
    const milestone = await conn.sobject('Milestone__c').describe();
    expect(milestone.fields.find((f) => f.name === 'Project__c')).toMatchObject({
      nillable: false,
      createable: true,
      updateable: false,
    });
  });

  it('refuses lookups to missing, wrongly typed or deleted records', async () => {
    const conn = connection();
    const accountId = sf.org.insert('Account', { Name: 'Soon gone' });
    const contactId = sf.org.insert('Contact', { Name: 'C', LastName: 'C' });
    sf.org.delete('Account', accountId);
    const results = (await conn.sobject('Contact').create(
      [
        { Name: 'A', AccountId: accountId },
        { Name: 'B', AccountId: '001000000000000AAA' },
        { Name: 'C', AccountId: contactId },
        { Name: 'D', ReportsToId: contactId },
      ],
      { allOrNone: false },
    )) as Saved[];
    expect(results.map((r) => r.errors[0]?.statusCode ?? 'ok')).toEqual([
      'ENTITY_IS_DELETED',
      'INVALID_CROSS_REFERENCE_KEY',
      'INVALID_CROSS_REFERENCE_KEY',
      'ok',
    ]);
    const project = sf.org.liveIds('Project__c')[0] as string;
    const [milestone] = (await conn
      .sobject('Milestone__c')
      .create([{ Name: 'No parent' }, { Name: 'With parent', Project__c: project }], { allOrNone: false })) as Saved[];
    expect(milestone?.errors[0]).toMatchObject({ statusCode: 'REQUIRED_FIELD_MISSING', fields: ['Project__c'] });
  });

  it('with allOrNone writes nothing when one record fails', async () => {
    const conn = connection();
    const before = sf.org.liveIds('Account').length;
    const results = (await conn
      .sobject('Account')
      .create([{ Name: 'Kept?' }, { Name: '' }], { allOrNone: true })) as Saved[];
    expect(results.map((r) => r.errors[0]?.statusCode)).toEqual([
      'ALL_OR_NONE_OPERATION_ROLLED_BACK',
      'REQUIRED_FIELD_MISSING',
    ]);
    expect(sf.org.liveIds('Account')).toHaveLength(before);
  });

  it('updates and deletes one record by id; a deleted one answers ENTITY_IS_DELETED', async () => {
    const conn = connection();
    const id = sf.org.insert('Account', { Name: 'Single' });
    await conn.sobject('Account').update({ Id: id, Name: 'Single, renamed' });
    expect(sf.org.object('Account')?.records.get(id)?.values.Name).toBe('Single, renamed');
    await conn.sobject('Account').destroy(id);
    expect(sf.org.liveIds('Account')).not.toContain(id);
    await expect(conn.sobject('Account').update({ Id: id, Name: 'Again' })).rejects.toMatchObject({
      errorCode: 'ENTITY_IS_DELETED',
    });
  });
});
