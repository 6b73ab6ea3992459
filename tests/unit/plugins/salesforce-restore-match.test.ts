// Matching restored records to the target's records by External ID or unique text fields
// (restore-match.ts): which fields count, one query per field, case-insensitive values, records
// already there by Id left alone, one target record standing for one restored record.
import { describe, expect, it } from 'vitest';
import { matchFields, matchRecords } from '../../../plugins/services/salesforce/restore-match.ts';
import type { FieldInfo, ObjectInfo, SourceRecord } from '../../../plugins/services/salesforce/restore-plan.ts';

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

const region: ObjectInfo = {
  name: 'Region__c',
  keyPrefix: 'a01',
  createable: true,
  fields: [
    field('Id', { type: 'id', createable: false, updateable: false }),
    field('Code__c', { externalId: true, unique: true }),
    field('Legacy__c', { unique: true }),
    field('Number__c', { type: 'double', externalId: true }),
    field('Name'),
  ],
  children: [],
};

const record = (id: string, values: Record<string, unknown>): SourceRecord => ({
  object: 'Region__c',
  id,
  values,
  depth: 0,
});

describe('matching records by unique fields', () => {
  it('matches by External ID and unique text fields, not by numbers or ordinary fields', () => {
    expect(matchFields(region)).toEqual(['Code__c', 'Legacy__c']);
  });

  it('finds the target record holding the same value, without case, one query per field with values', async () => {
    const asked: [string, string, readonly string[]][] = [];
    const target = {
      async holding(object: string, f: string, values: readonly string[]) {
        asked.push([object, f, values]);
        const at: Record<string, Map<string, string>> = {
          Code__c: new Map([['north', 'a01T0000000001']]),
          Legacy__c: new Map([['old-south', 'a01T0000000002']]),
        };
        return at[f] ?? new Map();
      },
    };
    const records = [
      record('a01S0000000001', { Code__c: 'NORTH', Legacy__c: 'x' }),
      record('a01S0000000002', { Code__c: 'SOUTH', Legacy__c: 'old-south' }),
      record('a01S0000000003', { Code__c: null, Legacy__c: null }),
    ];
    const matched = await matchRecords(
      records,
      new Map([['Region__c', region]]),
      new Set(),
      target,
      new AbortController().signal,
    );
    expect([...matched]).toEqual([
      ['a01S0000000001', 'a01T0000000001'],
      ['a01S0000000002', 'a01T0000000002'],
    ]);
    // Legacy__c is asked only for the record the code did not match.
    expect(asked).toEqual([
      ['Region__c', 'Code__c', ['NORTH', 'SOUTH']],
      ['Region__c', 'Legacy__c', ['old-south']],
    ]);
  });

  it('leaves records there by Id alone, and lets one target record stand for one restored record', async () => {
    const target = {
      async holding() {
        return new Map([['north', 'a01T0000000001']]);
      },
    };
    const records = [
      record('a01S0000000001', { Code__c: 'north' }),
      record('a01S0000000002', { Code__c: 'North' }),
      record('a01S0000000003', { Code__c: 'north' }),
    ];
    const matched = await matchRecords(
      records,
      new Map([['Region__c', region]]),
      new Set(['a01S0000000001']),
      target,
      new AbortController().signal,
    );
    expect([...matched]).toEqual([['a01S0000000002', 'a01T0000000001']]);
  });
});
