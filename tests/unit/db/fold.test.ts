// The folded form "contains" searches compare: normalization and case folding beyond A–Z.
import { describe, expect, it } from 'vitest';
import { foldText } from '../../../core/db/fold.ts';
import { containsPattern } from '../../../core/db/text-search.ts';

describe('foldText', () => {
  it('folds case beyond A–Z and unifies normalization forms', () => {
    expect(foldText('ÄÖÜ')).toBe(foldText('äöü'));
    expect(foldText('İSTANBUL')).toBe(foldText('İstanbul'));
    expect(foldText('ＡＢＣ')).toBe('abc');
    expect(foldText('cafe\u0301')).toBe(foldText('caf\u00e9'));
    expect(foldText('CAFÉ')).toBe('caf\u00e9');
    expect(foldText('Straße')).toBe('strasse');
    expect(foldText('ΟΔΟΣ')).toBe(foldText('οδος'));
  });

  it('builds LIKE patterns from the folded text, escaping the wildcards typed', () => {
    expect(containsPattern('ＡＢＣ_100%')).toBe('%abc\\_100\\%%');
  });
});
