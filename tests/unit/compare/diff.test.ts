// The compare's building blocks: the item walk that tells unchanged items from their entries,
// field changes less the ignored fields, and the unified diff with its side-by-side pairing.
import { describe, expect, it } from 'vitest';
import { fieldChanges } from '../../../core/compare/field-diff.ts';
import { type DiffCounts, diffItems, sameContent } from '../../../core/compare/item-diff.ts';
import { sideBySide, unifiedDiff } from '../../../core/compare/line-diff.ts';
import { pointInTime } from '../../../core/routes/compare.ts';
import type { ItemEntry } from '../../../storage/tree.ts';

const item = (key: string, content: string[], size = 10): ItemEntry => ({ key, kind: 'record', size, content });

async function* list(items: ItemEntry[]) {
  yield* items;
}

describe('diffItems', () => {
  it('hands on only the keys unique to a side and those whose content ids differ, counting every item', async () => {
    const counts: DiffCounts = { left: 0, right: 0 };
    const left = [item('a', ['1']), item('b', ['2']), item('c', ['3']), item('d', ['4'])];
    const right = [item('b', ['2']), item('c', ['9']), item('d', ['4']), item('e', ['5'])];
    const out = [];
    for await (const d of diffItems(list(left), list(right), { oneRepository: true, counts }))
      out.push([d.key, d.side]);
    expect(out).toEqual([
      ['a', 'left'],
      ['c', 'both'],
      ['e', 'right'],
    ]);
    expect(counts).toEqual({ left: 4, right: 4 });
  });

  it('cannot tell blob ids of two repositories apart, so they are read; inline bytes and sizes still tell', () => {
    expect(sameContent(item('a', ['1']), item('a', ['1']), false)).toBeUndefined();
    expect(sameContent(item('a', ['1'], 5), item('a', ['1'], 6), false)).toBe(false);
    const inline = (text: string): ItemEntry => ({ key: 'a', kind: 'record', size: text.length, inline: text });
    expect(sameContent(inline('abc'), inline('abc'), false)).toBe(true);
    expect(sameContent(inline('abc'), inline('abd'), true)).toBe(false);
  });
});

describe('fieldChanges', () => {
  it('lists the fields that differ, leaving out the ignored ones', () => {
    const left = [
      { label: 'Name', value: 'Acme' },
      { label: 'Phone', value: '1' },
      { label: 'SystemModstamp', value: 'x' },
    ];
    const right = [
      { label: 'Name', value: 'Acme Ltd' },
      { label: 'Phone', value: '1' },
      { label: 'SystemModstamp', value: 'y' },
      { label: 'New__c', value: 'n' },
    ];
    expect(fieldChanges(left, right, new Set(['SystemModstamp']))).toEqual([
      { field: 'Name', left: 'Acme', right: 'Acme Ltd' },
      { field: 'New__c', left: '', right: 'n' },
    ]);
  });
});

describe('unifiedDiff', () => {
  it('writes diff -u hunks with three lines of context, and pairs them side by side', () => {
    const left = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].join('\n');
    const right = ['a', 'b', 'c', 'd', 'E', 'f', 'g', 'h', 'i', 'j', 'k'].join('\n');
    const diff = unifiedDiff('x.xml', left, right);
    // Changes 6 lines apart: their context windows touch, so one hunk.
    expect(diff).toBe('--- a/x.xml\n+++ b/x.xml\n@@ -2,9 +2,10 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n i\n j\n+k\n');
    expect(unifiedDiff('x', 'same\n', 'same\n')).toBe('');
    const rows = sideBySide(diff);
    expect(rows.find((r) => r.left?.op === '-')).toEqual({
      left: { op: '-', text: 'e' },
      right: { op: '+', text: 'E' },
    });
    expect(rows.filter((r) => r.hunk)).toHaveLength(1);
  });

  it('keeps a removed line that starts with dashes as content', () => {
    const rows = sideBySide(unifiedDiff('x', '-- note\nkeep\n', 'keep\n'));
    expect(rows).toContainEqual({ left: { op: '-', text: '-- note' } });
  });
});

describe('pointInTime', () => {
  it('reads a form minute as its end, a second as its end, and milliseconds as given', () => {
    expect(pointInTime('2026-12-01T08:15')).toBe('2026-12-01T08:15:59.999Z');
    expect(pointInTime('2026-12-01T08:15:30')).toBe('2026-12-01T08:15:30.999Z');
    expect(pointInTime('2026-12-01T08:15:30.250')).toBe('2026-12-01T08:15:30.250Z');
  });
});
