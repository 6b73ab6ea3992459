// The Salesforce restore's writes against a scripted API (no HTTP): collections of 200, a refused
// record reported with Salesforce's code and message while the others go on, a self-lookup set by
// an update after the inserts, and the task's API budget reached half-way (the rest reported, the
// job not failed).
import { describe, expect, it } from 'vitest';
import type { FieldInfo, ObjectInfo, SourceRecord } from '../../../plugins/services/salesforce/restore-plan.ts';
import { writeRecords } from '../../../plugins/services/salesforce/restore-write.ts';
import { BudgetExhausted, type SalesforceApi } from '../../../plugins/services/salesforce/session.ts';

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

const account: ObjectInfo = {
  name: 'Account',
  keyPrefix: '001',
  createable: true,
  fields: [field('Name'), field('ParentId', { type: 'reference', referenceTo: ['Account'] })],
  children: [],
};

type Sent = { kind: 'create' | 'update'; records: Record<string, unknown>[] };

/** An API whose collections answer per record; `refuse` names refused records; calls past `budget` are refused. */
function scriptedApi(options: { refuse?: (r: Record<string, unknown>) => boolean; budget?: number } = {}) {
  const sent: Sent[] = [];
  let next = 1;
  let calls = 0;
  const answer = (kind: Sent['kind']) => async (records: Record<string, unknown>[]) => {
    sent.push({ kind, records });
    return records.map((r) =>
      options.refuse?.(r)
        ? { success: false, errors: [{ statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Name is banned' }] }
        : { success: true, id: kind === 'create' ? `001NEW${String(next++).padStart(12, '0')}` : r.Id, errors: [] },
    );
  };
  const api = {
    calls: 0,
    conn: { sobject: () => ({ create: answer('create'), update: answer('update') }) },
    async call<T>(_what: string, operation: () => Promise<T>): Promise<T> {
      if (options.budget !== undefined && calls >= options.budget) {
        throw new BudgetExhausted(
          "Stopped at the task's API usage limit (75 % of …): the next run continues from here.",
        );
      }
      calls++;
      return operation();
    },
  };
  return { api: api as unknown as SalesforceApi, sent };
}

function accounts(n: number, parentOf?: (i: number) => number | undefined): SourceRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const parent = parentOf?.(i);
    return {
      object: 'Account',
      id: `001OLD${String(i).padStart(12, '0')}`,
      values: {
        Name: `Account ${i}`,
        ParentId: parent === undefined ? null : `001OLD${String(parent).padStart(12, '0')}`,
      },
      depth: 0,
    };
  });
}

const base = {
  order: ['Account'],
  info: new Map([['Account', account]]),
  live: new Set<string>(),
  mode: 'bypass' as const,
  suffix: '20261207000000',
  signal: new AbortController().signal,
  step: () => undefined,
};

describe('Salesforce restore writes', () => {
  it('creates in collections of 200 and reports a refused record with Salesforce’s code while the others go on', async () => {
    const { api, sent } = scriptedApi({ refuse: (r) => r.Name === 'Account 3' });
    const rows = await writeRecords({ ...base, api, records: accounts(250) });
    expect(sent.map((s) => [s.kind, s.records.length])).toEqual([
      ['create', 200],
      ['create', 50],
    ]);
    expect(rows.filter((r) => r.result === 'created')).toHaveLength(249);
    expect(rows[3]).toMatchObject({
      result: 'failed',
      errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
      message: 'Name is banned',
      targetId: null,
    });
  });

  it('sets a self-lookup to a record of the same collection by one update after the inserts', async () => {
    const { api, sent } = scriptedApi();
    // 0 is the parent of 1 and 2, all three created in one call.
    const records = accounts(3, (i) => (i === 0 ? undefined : 0)).reverse();
    const rows = await writeRecords({ ...base, api, records });
    const created = new Map(rows.map((r) => [r.sourceId, r.targetId]));
    const parentNew = created.get('001OLD000000000000');
    expect(sent.map((s) => [s.kind, s.records.length])).toEqual([
      ['create', 3],
      ['update', 2],
    ]);
    // The parent is listed first (self-lookup depth); its children are created without the lookup.
    expect(sent[0]?.records.map((r) => [r.Name, r.ParentId ?? null])).toEqual([
      ['Account 0', null],
      ['Account 2', null],
      ['Account 1', null],
    ]);
    expect(sent[1]?.records).toEqual([
      { Id: created.get('001OLD000000000002'), ParentId: parentNew },
      { Id: created.get('001OLD000000000001'), ParentId: parentNew },
    ]);
  });

  it('defers a lookup cycle within an object and sets it afterwards', async () => {
    const { api, sent } = scriptedApi();
    // 0 → 1 and 1 → 0: one of them is inserted without its lookup, then updated.
    const records = accounts(2, (i) => (i === 0 ? 1 : 0));
    const rows = await writeRecords({ ...base, api, records });
    expect(sent.map((s) => s.kind)).toEqual(['create', 'update']);
    const ids = new Map(rows.map((r) => [r.sourceId, r.targetId]));
    const [update] = sent[1]?.records ?? [];
    expect(update).toEqual({ Id: ids.get('001OLD000000000000'), ParentId: ids.get('001OLD000000000001') });
    expect(rows.every((r) => r.result === 'created')).toBe(true);
  });

  it('stops at the task’s API budget: what is not written is reported, the rest stands', async () => {
    const { api } = scriptedApi({ budget: 1 });
    const rows = await writeRecords({ ...base, api, records: accounts(250) });
    expect(rows.filter((r) => r.result === 'created')).toHaveLength(200);
    const failed = rows.filter((r) => r.result === 'failed');
    expect(failed).toHaveLength(50);
    expect(failed[0]).toMatchObject({
      errorCode: 'API_USAGE_LIMIT',
      message: "Stopped at the task's API usage limit (75 % of …)",
    });
  });

  it('leaves records that live at the target untouched in Bypass and updates them in Overwrite', async () => {
    const records = accounts(1);
    const live = new Set([records[0]?.id as string]);
    const bypass = scriptedApi();
    expect(
      (await writeRecords({ ...base, api: bypass.api, records, live })).map((r) => [r.result, r.targetId]),
    ).toEqual([['skipped', records[0]?.id]]);
    expect(bypass.sent).toEqual([]);
    const overwrite = scriptedApi();
    const rows = await writeRecords({ ...base, mode: 'overwrite', api: overwrite.api, records, live });
    expect(rows[0]?.result).toBe('updated');
    expect(overwrite.sent).toEqual([
      { kind: 'update', records: [{ Id: records[0]?.id, Name: 'Account 0', ParentId: null }] },
    ]);
  });
});
