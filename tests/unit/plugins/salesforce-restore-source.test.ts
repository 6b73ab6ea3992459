// The restore's view of the backup reads children in one streamed pass over the child object's
// snapshot, keeping only the records whose lookup names a parent being restored, and reads
// records by id through the snapshot's index without listing it.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RelatedSnapshot, RestoreItem } from '../../../core/plugins/service.ts';
import { snapshotSource } from '../../../plugins/services/salesforce/restore-source.ts';

function snapshot(records: Record<string, unknown>[]) {
  const counts = { listed: 0, read: 0 };
  const item = (r: Record<string, unknown>): RestoreItem => ({
    key: r.Id as string,
    kind: 'record',
    size: 0,
    content: () => {
      counts.read++;
      return Readable.from([Buffer.from(JSON.stringify(r))]);
    },
  });
  const related: RelatedSnapshot = {
    entity: { externalId: 'Contact', name: 'Contact', kind: 'data' } as never,
    time: '2026-01-01T00:00:00Z',
    get: async (key) => {
      const r = records.find((x) => x.Id === key);
      return r ? item(r) : undefined;
    },
    items: async function* () {
      counts.listed++;
      for (const r of records) yield item(r);
      yield { key: `${records[0]?.Id}/Body`, kind: 'blob', size: 3, content: () => Readable.from([]) };
    },
  };
  return { related, counts };
}

const contacts = Array.from({ length: 1000 }, (_, i) => ({
  Id: `003${String(i).padStart(12, '0')}AAA`,
  AccountId: `001${String(i % 100).padStart(12, '0')}AAA`,
  ReportsToId: i === 999 ? '003000000000001AAA' : null,
}));

async function collect(found: AsyncIterable<[string, Record<string, unknown>]>) {
  const out = new Map<string, Record<string, unknown>>();
  for await (const [id, values] of found) out.set(id, values);
  return out;
}

describe('the restore reading the backup', () => {
  it('keeps only the children of the parents restored, from one pass over the snapshot', async () => {
    const { related, counts } = snapshot(contacts);
    const learnt: string[] = [];
    const source = snapshotSource(
      async () => related,
      (object, id) => learnt.push(`${object}:${id.slice(0, 3)}`),
      new AbortController().signal,
    );
    const found = await collect(
      source.children('Contact', [
        { field: 'AccountId', parents: new Set(['001000000000007AAA']) },
        { field: 'ReportsToId', parents: new Set(['003000000000001AAA']) },
      ]),
    );
    expect([...found.keys()].sort()).toEqual(
      [...contacts.filter((c) => c.AccountId === '001000000000007AAA').map((c) => c.Id), contacts[999]?.Id].sort(),
    );
    expect(found.size).toBe(11);
    expect(counts.listed).toBe(1);
    expect(learnt).toEqual(['Contact:003']);
  });

  it('reads records by id without listing the snapshot', async () => {
    const { related, counts } = snapshot(contacts);
    const source = snapshotSource(
      async () => related,
      () => undefined,
      new AbortController().signal,
    );
    const found = await source.records('Contact', ['003000000000005AAA', '003999999999999AAA']);
    expect([...found.keys()]).toEqual(['003000000000005AAA']);
    expect(found.get('003000000000005AAA')).toMatchObject({ AccountId: '001000000000005AAA' });
    expect(counts).toEqual({ listed: 0, read: 1 });
  });

  it('finds nothing for an object without a snapshot', async () => {
    const source = snapshotSource(
      async () => undefined,
      () => undefined,
      new AbortController().signal,
    );
    expect((await collect(source.children('Case', [{ field: 'AccountId', parents: new Set(['x']) }]))).size).toBe(0);
    expect((await source.records('Case', ['500000000000001AAA'])).size).toBe(0);
  });
});
