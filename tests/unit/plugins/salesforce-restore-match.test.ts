// Matching restored records to the target's records by External ID or unique fields
// (restore-match.ts): which fields count (text, number, date and date-time), one query per field,
// the key each type compares by and its SOQL literal (a table), records already there by Id left
// alone, one target record standing for one restored record.
import { describe, expect, it } from 'vitest';
import {
  matchFields,
  matchKey,
  matchRecords,
  soqlLiteral,
} from '../../../plugins/services/salesforce/restore-match.ts';
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
    field('Opened__c', { type: 'date', unique: true }),
    field('Stamp__c', { type: 'datetime', externalId: true }),
    field('Active__c', { type: 'boolean', unique: true }),
    field('Notes__c', { type: 'textarea', externalId: true }),
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
  it('matches by External ID and unique text, number, date and date-time fields, not by others', () => {
    expect(matchFields(region)).toEqual([
      { name: 'Code__c', type: 'string' },
      { name: 'Legacy__c', type: 'string' },
      { name: 'Number__c', type: 'double' },
      { name: 'Opened__c', type: 'date' },
      { name: 'Stamp__c', type: 'datetime' },
    ]);
  });

  // type, backed-up value, key it matches by, SOQL literal (undefined: never matches, not asked).
  const table: [string, unknown, string | undefined, string | undefined][] = [
    ['string', 'NORTH', 'north', "'NORTH'"],
    ['email', "O'Hara@Example.com", "o'hara@example.com", "'O\\'Hara@Example.com'"],
    ['string', '', undefined, undefined],
    ['double', 42, '42', '42'],
    ['double', 42.5, '42.5', '42.5'],
    ['double', '42.0', '42', '42'],
    ['int', -7, '-7', '-7'],
    ['currency', 1e21, '1e+21', '1000000000000000000000'],
    ['percent', 0.000001, '0.000001', '0.000001'],
    ['double', 'n/a', undefined, undefined],
    ['double', null, undefined, undefined],
    ['date', '2026-12-07', '2026-12-07', '2026-12-07'],
    ['date', '7.12.2026', undefined, undefined],
    ['datetime', '2026-12-07T03:00:00.000+0000', '2026-12-07T03:00:00.000Z', '2026-12-07T03:00:00Z'],
    ['datetime', '2026-12-07T05:00:00.000+0200', '2026-12-07T03:00:00.000Z', '2026-12-07T03:00:00Z'],
    ['datetime', 'soon', undefined, undefined],
    ['boolean', true, undefined, undefined],
  ];
  it.each(table)('a %s field: %j matches by %j, asked as %s', (type, value, key, literal) => {
    expect(matchKey(type, value)).toBe(key);
    if (literal === undefined) expect(() => soqlLiteral(type, value)).toThrow(`not a ${type} value`);
    else expect(soqlLiteral(type, value)).toBe(literal);
  });

  it('matches by a number and a date field, by value, once each text field found nothing', async () => {
    const asked: [string, unknown[]][] = [];
    const target = {
      async holding(_object: string, f: { name: string; type: string }, values: readonly unknown[]) {
        asked.push([f.name, [...values]]);
        const at: Record<string, Map<string, string>> = {
          Number__c: new Map([['42', 'a01T0000000042']]),
          Opened__c: new Map([['2026-12-07', 'a01T0000001207']]),
        };
        return at[f.name] ?? new Map();
      },
    };
    const records = [
      record('a01S0000000001', { Code__c: 'x1', Number__c: 42 }),
      record('a01S0000000002', { Code__c: 'x2', Number__c: 42.0 }),
      record('a01S0000000003', { Code__c: 'x3', Number__c: 7, Opened__c: '2026-12-07' }),
    ];
    const matched = await matchRecords(
      records,
      new Map([['Region__c', region]]),
      new Set(),
      target,
      new AbortController().signal,
    );
    expect([...matched]).toEqual([
      ['a01S0000000001', 'a01T0000000042'],
      ['a01S0000000003', 'a01T0000001207'],
    ]);
    // 42 and 42.0 are one value, asked once; the date is asked only for the record still open.
    expect(asked).toEqual([
      ['Code__c', ['x1', 'x2', 'x3']],
      ['Number__c', [42, 7]],
      ['Opened__c', ['2026-12-07']],
    ]);
  });

  it('finds the target record holding the same value, without case, one query per field with values', async () => {
    const asked: [string, string, readonly string[]][] = [];
    const target = {
      async holding(object: string, f: { name: string }, values: readonly unknown[]) {
        asked.push([object, f.name, values as string[]]);
        const at: Record<string, Map<string, string>> = {
          Code__c: new Map([['north', 'a01T0000000001']]),
          Legacy__c: new Map([['old-south', 'a01T0000000002']]),
        };
        return at[f.name] ?? new Map();
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
