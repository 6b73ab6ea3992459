// Field values as the Salesforce export writes them into Data Loader CSVs, and the package.xml of a
// metadata export.
import { describe, expect, it } from 'vitest';
import { dataLoaderValue, packageXml } from '../../../plugins/services/salesforce/export.ts';

describe('dataLoaderValue', () => {
  it.each([
    [null, ''],
    [undefined, ''],
    [true, 'true'],
    [false, 'false'],
    [0, '0'],
    [-1250.5, '-1250.5'],
    ['2027-03-31', '2027-03-31'],
    // REST's datetime form and Bulk API's, and another offset: all the same UTC form.
    ['2026-12-01T08:00:00.000+0000', '2026-12-01T08:00:00.000Z'],
    ['2026-12-01T08:00:00Z', '2026-12-01T08:00:00.000Z'],
    ['2026-12-01T10:30:00.000+0230', '2026-12-01T08:00:00.000Z'],
    // Text is kept exactly, also when it starts like a formula.
    ['=SUM(A1)', '=SUM(A1)'],
    ['2026-12-01 08:00', '2026-12-01 08:00'],
    [{ street: 'Main St' }, '{"street":"Main St"}'],
  ])('%j → %j', (value, expected) => {
    expect(dataLoaderValue(value)).toBe(expected);
  });
});

describe('packageXml', () => {
  it('names each member once, sorted and escaped, with the type and the API version', () => {
    const xml = packageXml('Layout', ['Account-Account Layout', 'A&B <x>', 'Account-Account Layout']);
    expect(xml).toContain('<members>A&amp;B &lt;x&gt;</members>\n        <members>Account-Account Layout</members>');
    expect(xml.match(/<members>/g)).toHaveLength(2);
    expect(xml).toContain('<name>Layout</name>');
    expect(xml).toMatch(/<version>\d+\.\d<\/version>/);
  });
});
