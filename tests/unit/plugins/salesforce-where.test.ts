// The replicate's per-parent filter (plugins/services/salesforce/where.ts): the safe SOQL subset
// evaluated on backed-up records, and a clear refusal of anything else.
import { describe, expect, it } from 'vitest';
import { parseWhere, WhereError } from '../../../plugins/services/salesforce/where.ts';

const rows = [
  { Id: '1', Name: 'Acme Corp', Industry: 'Energy', AnnualRevenue: 500, Active__c: true },
  { Id: '2', Name: 'Globex', Industry: 'Retail', AnnualRevenue: 2000, Active__c: false },
  { Id: '3', Name: 'Acme Labs', Industry: null, AnnualRevenue: null, Active__c: true },
];
const ids = (where: string) => rows.filter(parseWhere(where)).map((r) => r.Id);

describe('the replicate filter', () => {
  it('evaluates =, !=, <, >, LIKE, IN, null and booleans joined by AND / OR with parentheses', () => {
    expect(ids('')).toEqual(['1', '2', '3']);
    expect(ids("Industry = 'energy'")).toEqual(['1']);
    expect(ids("Industry != 'Energy'")).toEqual(['2', '3']);
    expect(ids('AnnualRevenue > 1000')).toEqual(['2']);
    expect(ids('AnnualRevenue < 1000')).toEqual(['1']);
    expect(ids("Name LIKE 'acme%'")).toEqual(['1', '3']);
    expect(ids("Industry IN ('Retail', 'Energy')")).toEqual(['1', '2']);
    expect(ids('Industry = null')).toEqual(['3']);
    expect(ids('Active__c = true AND AnnualRevenue > 100')).toEqual(['1']);
    expect(ids("(Name LIKE 'Acme%' AND Active__c = true) OR Industry = 'Retail'")).toEqual(['1', '2', '3']);
  });

  it('refuses anything else with a message naming what was not understood', () => {
    expect(() => parseWhere("Name = 'x'; DELETE")).toThrow(WhereError);
    expect(() => parseWhere("Name = 'x'; DELETE")).toThrow(/not understood at “;/);
    expect(() => parseWhere('Name = Other')).toThrow(/“Other” is not a value/);
    expect(() => parseWhere("NOT Name = 'x'")).toThrow(/A field name is expected/);
    expect(() => parseWhere("(Name = 'x'")).toThrow(/closing parenthesis/);
    expect(() => parseWhere("Name = 'x' LIMIT 5")).toThrow(/“LIMIT” is not understood here/);
    expect(() => parseWhere('Name INCLUDES (1)')).toThrow(/After Name an operator is expected/);
  });
});
