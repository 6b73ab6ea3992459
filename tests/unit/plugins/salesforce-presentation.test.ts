// How Recovery shows a Salesforce record: its stored JSON as field names and values, in the
// stored order; null as empty, compound values (an address) as JSON; nothing for files,
// components, or content that is not a JSON object.
import { describe, expect, it } from 'vitest';
import { recordFields } from '../../../plugins/services/salesforce/presentation.ts';

const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('Salesforce record fields', () => {
  it('lists every field in the stored order, as text', () => {
    const fields = recordFields(
      { kind: 'record' },
      bytes({
        Id: '003000000000001AAA',
        Amount: 12.5,
        IsDeleted: false,
        Email: null,
        MailingAddress: { city: 'Oslo', country: 'NO' },
      }),
    );
    expect(fields).toEqual([
      { label: 'Id', value: '003000000000001AAA' },
      { label: 'Amount', value: '12.5' },
      { label: 'IsDeleted', value: 'false' },
      { label: 'Email', value: '' },
      { label: 'MailingAddress', value: '{"city":"Oslo","country":"NO"}' },
    ]);
  });

  it('has none for files and metadata components, or content that is not a JSON object', () => {
    expect(recordFields({ kind: 'file' }, bytes({ Id: 'x' }))).toBeUndefined();
    expect(recordFields({ kind: 'component' }, bytes('<ApexClass/>'))).toBeUndefined();
    expect(recordFields({ kind: 'record' }, bytes('not json'))).toBeUndefined();
    expect(recordFields({ kind: 'record' }, bytes([1, 2]))).toBeUndefined();
    expect(recordFields({ kind: 'record' }, bytes('null'))).toBeUndefined();
  });
});
