// The Salesforce restore's planning, without I/O: the action per record by mode, the insert
// order from the relationship graph (cycles broken at optional lookups), lookups remapped /
// deferred / kept / emptied, which fields are written, Duplicate's name suffix, the call count.
import { describe, expect, it } from 'vitest';
import { automaticLinks } from '../../../plugins/services/salesforce/restore-links.ts';
import {
  actionOf,
  duplicateSuffix,
  type FieldInfo,
  insertOrder,
  type ObjectInfo,
  planCounts,
  recordBody,
  type SourceRecord,
  writeCalls,
} from '../../../plugins/services/salesforce/restore-plan.ts';
import { reportCsv } from '../../../plugins/services/salesforce/restore-report.ts';
import { RestoreStore } from '../../../plugins/services/salesforce/restore-store.ts';

function field(name: string, extra: Partial<FieldInfo> = {}): FieldInfo {
  return {
    name,
    type: 'string',
    createable: true,
    updateable: true,
    calculated: false,
    nillable: true,
    defaultedOnCreate: false,
    referenceTo: [],
    relationshipName: null,
    cascadeDelete: false,
    ...extra,
  };
}

function lookup(name: string, to: string[], extra: Partial<FieldInfo> = {}): FieldInfo {
  return field(name, { type: 'reference', referenceTo: to, ...extra });
}

const masterDetail = { nillable: false, cascadeDelete: true, updateable: false };

function object(name: string, fields: FieldInfo[]): ObjectInfo {
  return {
    name,
    keyPrefix: null,
    createable: true,
    fields: [
      field('Id', { type: 'id', createable: false, updateable: false }),
      field('SystemModstamp', { type: 'datetime', createable: false, updateable: false, defaultedOnCreate: true }),
      ...fields,
    ],
    children: [],
  };
}

const schema = new Map<string, ObjectInfo>([
  ['Account', object('Account', [field('Name', { nillable: false }), lookup('ParentId', ['Account'])])],
  [
    'Contact',
    object('Contact', [field('LastName'), lookup('AccountId', ['Account']), lookup('ReportsToId', ['Contact'])]),
  ],
  ['Opportunity', object('Opportunity', [field('Name'), lookup('AccountId', ['Account'])])],
  ['OpportunityLineItem', object('OpportunityLineItem', [lookup('OpportunityId', ['Opportunity'], masterDetail)])],
  [
    'Task',
    object('Task', [
      field('Subject'),
      lookup('WhatId', ['Account', 'Opportunity']),
      lookup('WhoId', ['Contact']),
      field('Score__c', { type: 'double', calculated: true, createable: false, updateable: false }),
    ]),
  ],
  // A cycle: A looks up to B (optional), B to A (required).
  ['A__c', object('A__c', [lookup('B__c', ['B__c'])])],
  ['B__c', object('B__c', [lookup('A__c', ['A__c'], { nillable: false })])],
]);
const info = (name: string) => schema.get(name);

/** The restore's store (in memory) holding these records and live ids. */
function storeOf(records: readonly SourceRecord[], live: ReadonlySet<string>): RestoreStore {
  const store = new RestoreStore({ memory: true });
  for (const r of records) store.add(r);
  for (const id of live) store.live.add(id);
  return store;
}

describe('Salesforce restore planning', () => {
  it.each([
    ['overwrite', true, 'update'],
    ['overwrite', false, 'create'],
    ['bypass', true, 'skip'],
    ['bypass', false, 'create'],
    ['duplicate', true, 'create'],
    ['duplicate', false, 'create'],
  ] as const)('mode %s, record live at the target: %s → %s', (mode, live, action) => {
    expect(actionOf(mode, live)).toBe(action);
  });

  it('inserts parents before children, whatever order the objects come in', () => {
    const order = insertOrder(['Task', 'OpportunityLineItem', 'Contact', 'Opportunity', 'Account'], info);
    const precedes = (a: string, b: string) => order.indexOf(a) < order.indexOf(b);
    expect(precedes('Account', 'Contact')).toBe(true);
    expect(precedes('Account', 'Opportunity')).toBe(true);
    expect(precedes('Opportunity', 'OpportunityLineItem')).toBe(true);
    expect(precedes('Opportunity', 'Task')).toBe(true);
    expect(precedes('Contact', 'Task')).toBe(true);
  });

  it('breaks a cycle at the optional lookup, keeping the required one in order', () => {
    expect(insertOrder(['B__c', 'A__c'], info)).toEqual(['A__c', 'B__c']);
  });

  it('remaps lookups to new ids, defers ones to records not created yet, keeps live ones, empties the rest', () => {
    const targets = {
      remapped: new Map([['001OLD', '001NEW']]),
      pending: new Set(['003BOSS']),
      live: new Set(['006LIVE']),
    };
    const contact = recordBody(
      schema.get('Contact') as ObjectInfo,
      { Id: '003X', SystemModstamp: 'x', LastName: 'Doe', AccountId: '001OLD', ReportsToId: '003BOSS' },
      targets,
      { forUpdate: false },
    );
    expect(contact).toEqual({
      values: { LastName: 'Doe', AccountId: '001NEW' },
      deferred: [{ field: 'ReportsToId', id: '003BOSS' }],
      emptied: [],
    });
    const task = recordBody(
      schema.get('Task') as ObjectInfo,
      { Subject: 'Call', WhatId: '006LIVE', WhoId: '003GONE', Score__c: 3 },
      targets,
      { forUpdate: false },
    );
    expect(task).toEqual({
      values: { Subject: 'Call', WhatId: '006LIVE' },
      deferred: [],
      emptied: [{ field: 'WhoId', id: '003GONE' }],
    });
    // An update clears a lookup whose record exists nowhere, and writes only updateable fields.
    const updated = recordBody(schema.get('OpportunityLineItem') as ObjectInfo, { OpportunityId: '006LIVE' }, targets, {
      forUpdate: true,
    });
    expect(updated.values).toEqual({});
    expect(
      recordBody(schema.get('Task') as ObjectInfo, { Subject: null, WhoId: '003GONE' }, targets, { forUpdate: true })
        .values,
    ).toEqual({ Subject: null, WhoId: null });
  });

  it('names Duplicate’s copies with the restore’s date and time', () => {
    const suffix = duplicateSuffix(new Date('2023-04-01T00:05:25Z'));
    expect(suffix).toBe('20230401000525');
    const body = recordBody(
      schema.get('Account') as ObjectInfo,
      { Name: 'Acme' },
      { remapped: new Map(), pending: new Set(), live: new Set() },
      {
        forUpdate: false,
        suffix,
      },
    );
    expect(body.values.Name).toBe('Acme 20230401000525');
  });

  it('counts records per object and the API calls the writes take (200 records a call)', () => {
    const records = [
      ...Array.from({ length: 450 }, (_, i) => ({ object: 'Account', id: `001${i}`, values: {}, depth: 0 })),
      { object: 'Contact', id: '003LIVE', values: {}, depth: 1 },
    ];
    const counts = planCounts(records, ['Account', 'Contact'], new Set(['003LIVE', '0010']), 'overwrite');
    expect(counts).toEqual([
      { object: 'Account', records: 450, create: 449, update: 1, skip: 0 },
      { object: 'Contact', records: 1, create: 0, update: 1, skip: 0 },
    ]);
    expect(writeCalls(counts, 1)).toBe(3 + 1 + 1 + 1);
  });

  it('counts the file link Salesforce makes when a restored file is inserted as a skip, not a create', () => {
    const records = [
      { object: 'Account', id: '001A', values: {}, depth: 0 },
      {
        object: 'ContentVersion',
        id: '068A',
        values: { ContentDocumentId: '069A', FirstPublishLocationId: '001A', IsLatest: true },
        depth: 1,
      },
      // The link inserting the file makes (to where it was first published), and a share.
      {
        object: 'ContentDocumentLink',
        id: '06A1',
        values: { ContentDocumentId: '069A', LinkedEntityId: '001A' },
        depth: 1,
      },
      {
        object: 'ContentDocumentLink',
        id: '06A2',
        values: { ContentDocumentId: '069A', LinkedEntityId: '003B' },
        depth: 1,
      },
    ];
    const order = ['Account', 'ContentVersion', 'ContentDocumentLink'];
    const live = new Set<string>(['003B']);
    const store = storeOf(records, live);
    const skipped = automaticLinks(store, 'bypass');
    expect(records.filter((r) => skipped.has(r.id)).map((r) => r.id)).toEqual(['06A1']);
    expect(planCounts(records, order, live, 'bypass', skipped)).toEqual([
      { object: 'Account', records: 1, create: 1, update: 0, skip: 0 },
      { object: 'ContentVersion', records: 1, create: 1, update: 0, skip: 0 },
      { object: 'ContentDocumentLink', records: 2, create: 1, update: 0, skip: 1 },
    ]);
    // A file that stays at the target (Bypass leaves it) is not inserted: its links are no one's to make.
    const kept = automaticLinks(storeOf(records, new Set(['068A'])), 'bypass');
    expect(records.filter((r) => kept.has(r.id))).toEqual([]);
    // Duplicate inserts every file again, live or not: its link is Salesforce's to make.
    const copied = automaticLinks(storeOf(records, new Set(['068A'])), 'duplicate');
    expect(records.filter((r) => copied.has(r.id)).map((r) => r.id)).toEqual(['06A1']);
  });

  it('counts a Bulk API job (6 calls) per 10,000 records past 2,000 of one object', () => {
    const counts = [
      { object: 'Contact', records: 25_000, create: 25_000, update: 0, skip: 0 },
      { object: 'Account', records: 2_000, create: 0, update: 2_000, skip: 0 },
    ];
    expect(writeCalls(counts, 0)).toBe(3 * 6 + 10);
  });

  it('writes the report as CSV with formula-looking cells defused', () => {
    const csv = reportCsv([
      {
        object: 'Account',
        sourceId: '001A',
        targetId: '001B',
        action: 'create',
        result: 'failed',
        errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        message: '=HYPERLINK("x"), said the rule',
        notes: ['ParentId: 001Z exists neither at the target nor in the restore; left empty'],
      },
    ]);
    expect(csv).toBe(
      'Object,Source Id,Restored Id,Result,Error Code,Message,Notes\r\n' +
        `Account,001A,001B,failed,FIELD_CUSTOM_VALIDATION_EXCEPTION,"'=HYPERLINK(""x""), said the rule",ParentId: 001Z exists neither at the target nor in the restore; left empty\r\n`,
    );
  });
});
