// CSV cells: RFC 4180 quoting, and formula injection defused for spreadsheets that split on
// commas or (in many locales) on semicolons.
import { describe, expect, it } from 'vitest';
import { csvCell, csvLine } from '../../../core/http/csv.ts';

describe('csvCell', () => {
  it.each([
    ['plain', 'plain'],
    ['a "quoted" word', '"a ""quoted"" word"'],
    ['a, b', '"a, b"'],
    ['say "hi", then', '"say ""hi"", then"'],
    ['two\nlines', '"two\nlines"'],
    ['=1+1', "'=1+1"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
    ['\rx', '"\'\rx"'],
    // A semicolon starts a new cell where it is the separator: defused at the start, and quoted
    // anywhere so "a;=cmd" stays one cell.
    [';=HYPERLINK("http://evil.example")', '"\';=HYPERLINK(""http://evil.example"")"'],
    [';plain', '"\';plain"'],
    ['a;=1+1', '"a;=1+1"'],
  ])('%j → %j', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it('ends a line with CRLF', () => {
    expect(csvLine(['a', '=b'])).toBe("a,'=b\r\n");
  });

  it('writes values exactly when asked to keep them (data a tool loads back), quoting only what RFC 4180 needs', () => {
    expect(csvLine(['-1250.5', '=HYPERLINK("x")', 'a;b', 'two\nlines', '@home'], { formulas: 'keep' })).toBe(
      '-1250.5,"=HYPERLINK(""x"")",a;b,"two\nlines",@home\r\n',
    );
  });
});
