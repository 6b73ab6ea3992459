// One backup run of one Salesforce object. The snapshot is incremental (layered): each record is
// an item (key = its Id, content = the JSON of its fields, in describe order), and what a run does
// not mention stays as it was, without being read again.
//
// - First run (or the object's field set changed, or it has no SystemModstamp): every live row,
//   `ORDER BY Id`, so a run stopped by the API budget continues after the last Id it stored.
//   When it completes in one run over an earlier snapshot, keys no longer read are deleted.
// - Later runs: one Composite call (one API call) asks whether the describe changed since it was
//   read (If-Modified-Since), getDeleted of the window since the last run's start minus a safety
//   overlap (transactions that committed late), and the first `queryAll` page of the rows whose
//   SystemModstamp is in the window, ordered by SystemModstamp: changed rows are stored again, rows
//   with IsDeleted (recycle bin) and those getDeleted lists (purged, hard-deleted) are deleted. When
//   the window is older than Salesforce's delete log, a pass over every live Id deletes what is
//   gone. Many changed rows (the first page's totalSize) are read through a Bulk API queryAll job.
// - Blob fields (ContentVersion VersionData, Attachment/Document Body) are their own items
//   (`<Id>/<Field>`); a ContentVersion never changes, so its body is downloaded once, ever.
// - The API budget: before every call, the org's usage (Sforce-Limit-Info of the last answer) must
//   stay within the task's share; otherwise the run stops, commits what it has, is Partial with a
//   reason naming the limit, and its state says where the next run continues.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupOutcome, BackupRun } from '../../../core/plugins/service.ts';
import { API_VERSION, BudgetExhausted, type SalesforceApi } from './session.ts';

export interface SalesforceState {
  v: 1;
  /** The fields read (and blob fields downloaded): another set means a full read. */
  fields: string[];
  /** Org time the last completed read started (ISO): later runs read what changed after it. */
  since?: string;
  /**
   * A full read under way: the last Id stored (REST), or the Bulk API 2.0 job and the locator of
   * its next results page, and the org time it started.
   */
  full?: { afterId: string | null; startedAt: string; bulk?: { jobId: string; locator: string | null } };
  /**
   * The describe `fields` came from: the org time it was known current, whether getDeleted
   * serves the object, and the types a Bulk API CSV value needs (boolean, numbers, datetime).
   */
  described?: { at: string; replicateable: boolean; types: Record<string, string> };
  /** An incremental read through a Bulk API 2.0 job under way, and the org time it started. */
  changes?: { startedAt: string; bulk: { jobId: string; locator: string | null } };
}

/**
 * Full reads of objects with at least this many rows use a Bulk API 2.0 query job. A REST page
 * holds 2000 rows per call; a bulk job costs a create, a few status checks and one call per
 * results page (tens of thousands of rows), but takes seconds to start: below ~10 000 rows (5
 * REST calls) it saves no calls worth the wait.
 */
export const BULK_THRESHOLD = 10_000;

/*
 * Incremental reads use the same threshold, measured from the first REST page's totalSize (so no
 * COUNT() call): at 10 000 changed rows the job saves 4+ calls and its start-up wait is paid back;
 * below, the one page holding every change is the cheapest read there is.
 */

/** How far back a later run looks before the last run's start (late-committing transactions). */
export const SAFETY_OVERLAP_MS = 5 * 60_000;

/** Compound fields are read through their components. */
const SKIPPED_TYPES = new Set(['address', 'location']);

interface DescribeField {
  name: string;
  type: string;
}

interface Describe {
  fields: DescribeField[];
  replicateable?: boolean;
}

/** Types whose Bulk API CSV text is converted (typed()); strings need nothing. */
const TYPED = new Set(['boolean', 'datetime', 'int', 'double', 'currency', 'percent', 'long']);

type Row = Record<string, unknown> & { Id: string; attributes?: unknown };

interface Page {
  records: Row[];
  done: boolean;
  totalSize?: number;
  nextRecordsUrl?: string;
}

export interface ObjectBackupOptions {
  api: SalesforceApi;
  run: BackupRun<SalesforceState>;
  /** Default when the task has none: 75 %. */
  defaultLimitPercent?: number;
  /** Rows from which a full read uses the Bulk API (BULK_THRESHOLD). */
  bulkThreshold?: number;
  /** Wait between status checks of a bulk query job. */
  bulkPollMs?: number;
}

/** A Composite subrequest's answer. */
interface SubAnswer {
  referenceId: string;
  httpStatusCode: number;
  body: unknown;
}

interface DeletedAnswer {
  deletedRecords?: { id: string }[];
  earliestDateAvailable?: string;
}

/** The error code of a subrequest Salesforce refused (`[{errorCode, message}]`). */
function subError(answer: SubAnswer): string | undefined {
  return Array.isArray(answer.body) ? (answer.body[0] as { errorCode?: string })?.errorCode : undefined;
}

interface BulkJobInfo {
  id: string;
  state: string;
}

const NUMBER_TYPES = new Set(['int', 'double', 'currency', 'percent', 'long']);

/** A Bulk API CSV row (strings) in the form REST answers: typed values, null for empty, +0000 times. */
function typed(row: Record<string, string>, types: Map<string, string>): Row {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    const type = types.get(name);
    if (value === '' || value === undefined) out[name] = null;
    else if (type === 'boolean') out[name] = value === 'true';
    else if (type && NUMBER_TYPES.has(type)) out[name] = Number(value);
    else if (type === 'datetime') out[name] = value.replace(/Z$/, '+0000');
    else out[name] = value;
  }
  return out as Row;
}

function soqlTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function label(row: Row): string | undefined {
  for (const f of ['Name', 'Subject', 'Title', 'CaseNumber']) if (typeof row[f] === 'string') return row[f] as string;
  return undefined;
}

export async function backupObject({
  api,
  run,
  defaultLimitPercent = 75,
  bulkThreshold = BULK_THRESHOLD,
  bulkPollMs = 2000,
}: ObjectBackupOptions): Promise<BackupOutcome<SalesforceState>> {
  const object = run.entity.externalId;
  const { conn } = api;
  api.limitPercent = run.apiUsageLimitPercent ?? defaultLimitPercent;
  const writer = run.writer;
  let state = run.state;
  let stored = 0;
  let deleted = 0;

  const finish = (next: SalesforceState, stopped?: string): BackupOutcome<SalesforceState> => {
    run.log.info({ object, calls: api.calls, stored, deleted, stopped: !!stopped }, 'Salesforce object backed up');
    run.step(`${api.calls} API calls, ${stored} records stored, ${deleted} deleted`);
    const outcome = { state: next, changesBy: changesBy(), apiCalls: api.calls };
    return stopped ? { ...outcome, partialReason: stopped } : outcome;
  };

  // Who made the changes (smart alerts "by one user"): the creator of an added row, the last
  // modifier of an updated or deleted one (a deletion sets LastModifiedById; getDeleted names no
  // one, so a deletion only it lists stays unattributed unless queryAll also returns the row).
  // A row the last snapshot does not hold is "added" by its creator.
  const authors = new Map<string, { added: number; updated: number; deleted: number }>();
  const deletedBy = new Map<string, string>();
  const credit = (user: unknown, change: 'added' | 'updated') => {
    if (typeof user !== 'string' || !user) return;
    const counts = authors.get(user) ?? { added: 0, updated: 0, deleted: 0 };
    counts[change]++;
    authors.set(user, counts);
  };
  const changesBy = () => {
    const out = new Map([...authors].map(([user, c]) => [user, { ...c }]));
    for (const user of deletedBy.values()) {
      const counts = out.get(user) ?? { added: 0, updated: 0, deleted: 0 };
      counts.deleted++;
      out.set(user, counts);
    }
    return [...out].map(([user, c]) => ({ user, ...c }));
  };

  const prior = state;
  // Blob fields as the last run stored them (`<Id>/<Field>` keys to delete with their record).
  let blobs = (prior?.fields ?? []).filter((f) => f.endsWith(':blob')).map((f) => f.slice(0, -':blob'.length));
  const removed = new Set<string>();
  const remove = async (id: string, by?: unknown) => {
    // Only rows the last snapshot holds were deleted by this run (the overlap reads some again).
    if (typeof by === 'string' && by && (await writer.previous(id))) deletedBy.set(id, by);
    if (removed.has(id)) return;
    removed.add(id);
    await writer.delete(id);
    for (const b of blobs) await writer.delete(`${id}/${b}`);
    deleted++;
  };

  /**
   * getDeleted of the window from `from`: deletes what it lists; false when Salesforce's delete
   * log does not reach back to `from` (deletions before its start are not listed).
   */
  let deletionsRead = false;
  const applyDeleted = async (answer: DeletedAnswer, from: number): Promise<boolean> => {
    for (const r of answer.deletedRecords ?? []) await remove(r.id);
    const earliest = sfTime(answer.earliestDateAvailable);
    return Number.isNaN(earliest) || earliest <= from;
  };
  const readDeleted = async (from: number): Promise<boolean> => {
    deletionsRead = true;
    run.step(`reading ${object} records deleted since ${new Date(from).toISOString()}`);
    let answer: DeletedAnswer;
    try {
      answer = (await api.call(
        `deleted ${object}`,
        () => conn.request(`/sobjects/${object}/deleted/?${deletedWindow(from)}`),
        run.signal,
      )) as DeletedAnswer;
    } catch (err) {
      // A window starting more than 30 days ago, or (our clock behind) ending before it starts.
      if (err instanceof Error && err.message.includes('INVALID_REPLICATION_DATE')) return false;
      throw err;
    }
    return applyDeleted(answer, from);
  };
  /** getDeleted's window: from `from` to the org's clock as last seen. */
  const deletedWindow = (from: number) =>
    `start=${encodeURIComponent(soqlTime(from))}&end=${encodeURIComponent(soqlTime(api.serverTime))}`;

  /** Deletes what the last snapshot holds that is no longer live (every Id read). */
  const passOverIds = async () => {
    run.step(`reading every ${object} Id (deletions older than Salesforce's delete log)`);
    const live = new Set<string>();
    let page = await api.call(
      `Ids of ${object}`,
      async () => (await conn.query(`SELECT Id FROM ${object}`, { autoFetch: false })) as unknown as Page,
      run.signal,
    );
    for (;;) {
      for (const row of page.records) live.add(row.Id);
      if (page.done || !page.nextRecordsUrl) break;
      const next = page.nextRecordsUrl;
      page = await api.call(
        `Ids of ${object} (next page)`,
        async () => (await conn.queryMore(next)) as unknown as Page,
        run.signal,
      );
    }
    for await (const item of writer.previousItems?.() ?? []) {
      const id = item.key.split('/')[0] as string;
      if (!live.has(id)) await remove(id);
    }
  };

  // The window a later run reads (the last run's start minus the overlap); none for a full read.
  const window = prior && !prior.full && prior.since ? Date.parse(prior.since) - SAFETY_OVERLAP_MS : undefined;
  let passDue = false;
  let describe: Describe | undefined;
  let describedAt: number;
  /** The first page of changed rows, when the Composite call brought it. */
  let firstChanges: Page | undefined;
  try {
    if (window !== undefined && prior?.described) {
      // One Composite call (one API call) asks what an unchanged object needs: whether its describe
      // changed since it was read (If-Modified-Since: 304), what was deleted in the window
      // (getDeleted), and the first page of the rows changed in it (queryAll).
      run.step(`reading what changed in ${object}`);
      const base = `/services/data/v${API_VERSION}`;
      const priorFields = prior.fields.filter((f) => !f.endsWith(':blob'));
      const subrequests = [
        {
          method: 'GET',
          referenceId: 'describe',
          url: `${base}/sobjects/${object}/describe`,
          // HTTP dates name whole seconds: a change later in the second it was read has that
          // second as its Last-Modified, so ask from the second before (at worst one extra read).
          httpHeaders: { 'If-Modified-Since': new Date(Date.parse(prior.described.at) - 1000).toUTCString() },
        },
        ...(prior.described.replicateable
          ? [
              {
                method: 'GET',
                referenceId: 'deleted',
                url: `${base}/sobjects/${object}/deleted/?${deletedWindow(window)}`,
              },
            ]
          : []),
        {
          method: 'GET',
          referenceId: 'changes',
          url: `${base}/queryAll?q=${encodeURIComponent(changesSoql(object, priorFields, window))}`,
        },
      ];
      const answer = (await api.call(
        `changes of ${object}`,
        () =>
          conn.request({
            method: 'POST',
            url: '/composite',
            body: JSON.stringify({ allOrNone: false, compositeRequest: subrequests }),
            headers: { 'Content-Type': 'application/json' },
          }),
        run.signal,
      )) as { compositeResponse?: SubAnswer[] };
      describedAt = api.serverTime;
      const part = (id: string) => answer.compositeResponse?.find((r) => r.referenceId === id);
      const described = part('describe');
      if (described?.httpStatusCode === 200) describe = described.body as Describe;
      else if (described?.httpStatusCode !== 304) {
        describe = (await api.call(`describe ${object}`, () => conn.sobject(object).describe(), run.signal)) as never;
      }
      const deletions = part('deleted');
      if (deletions?.httpStatusCode === 200) passDue = !(await applyDeleted(deletions.body as DeletedAnswer, window));
      else if (deletions && subError(deletions) === 'INVALID_REPLICATION_DATE') passDue = true;
      else if (deletions) passDue = !(await readDeleted(window));
      deletionsRead = !!deletions;
      const changes = part('changes');
      if (changes?.httpStatusCode === 200) firstChanges = changes.body as Page;
    } else {
      run.step(`describing ${object}`);
      describe = (await api.call(`describe ${object}`, () => conn.sobject(object).describe(), run.signal)) as never;
      describedAt = api.serverTime;
    }
  } catch (err) {
    // Nothing read: the previous state stays as it was (none yet: the next run starts in full).
    if (err instanceof BudgetExhausted) return finish(prior ?? { v: 1, fields: [] }, err.message);
    throw err;
  }
  const startedAt = api.serverTime;
  let fields: string[];
  let types: Map<string, string>;
  let replicateable: boolean;
  if (describe) {
    fields = describe.fields.filter((f) => !SKIPPED_TYPES.has(f.type) && f.type !== 'base64').map((f) => f.name);
    blobs = describe.fields.filter((f) => f.type === 'base64').map((f) => f.name);
    types = new Map(describe.fields.filter((f) => TYPED.has(f.type)).map((f) => [f.name, f.type]));
    replicateable = describe.replicateable !== false;
  } else {
    const known = prior?.described as NonNullable<SalesforceState['described']>;
    fields = (prior?.fields ?? []).filter((f) => !f.endsWith(':blob'));
    types = new Map(Object.entries(known.types));
    replicateable = known.replicateable;
  }
  const described = { at: new Date(describedAt).toISOString(), replicateable, types: Object.fromEntries(types) };
  const fieldSet = [...fields, ...blobs.map((b) => `${b}:blob`)];
  const stamped = fields.includes('SystemModstamp');
  const sameFields = !!state && JSON.stringify(state.fields) === JSON.stringify(fieldSet);
  const immutableBlobs = object === 'ContentVersion';

  if (!state || !sameFields || !stamped) {
    state = { v: 1, fields: fieldSet, full: { afterId: null, startedAt: new Date(startedAt).toISOString() } };
  }
  const full = state.full;
  // A full read that completes in this run, over an earlier snapshot, removes what it did not see.
  const reconcile = !!full && full.afterId === null && !full.bulk && writer.hasParent;
  const seen = reconcile ? new Set<string>() : undefined;

  const store = async (row: Row) => {
    if (row.IsDeleted === true) {
      await remove(row.Id, row.LastModifiedById);
      return;
    }
    const before = writer.hasParent ? await writer.previous(row.Id) : undefined;
    if (!before) credit(row.CreatedById, 'added');
    // A row the overlap reads again unchanged (same SystemModstamp) is no change of this run.
    else if (before.meta?.modified !== row.SystemModstamp) credit(row.LastModifiedById, 'updated');
    seen?.add(row.Id);
    const values: Record<string, unknown> = {};
    for (const f of fields) values[f] = row[f] ?? null;
    const name = label(row);
    await writer.add(
      {
        key: row.Id,
        kind: 'record',
        meta: {
          object,
          ...(name !== undefined ? { name } : {}),
          ...(typeof row.CreatedById === 'string' ? { createdBy: row.CreatedById } : {}),
          ...(typeof row.LastModifiedById === 'string' ? { updatedBy: row.LastModifiedById } : {}),
          ...(typeof row.CreatedDate === 'string' ? { created: row.CreatedDate } : {}),
          ...(typeof row.SystemModstamp === 'string' ? { modified: row.SystemModstamp } : {}),
        },
      },
      Buffer.from(JSON.stringify(values)),
    );
    stored++;
    for (const b of blobs) {
      const key = `${row.Id}/${b}`;
      seen?.add(key);
      if (immutableBlobs && (await writer.previous?.(key))) continue;
      const bytes = await api.call(`${object} ${b} of ${row.Id}`, () => readBlob(api, object, row.Id, b), run.signal);
      await writer.add(
        {
          key,
          kind: 'file',
          meta: { object, record: row.Id, field: b, ...(name !== undefined ? { name } : {}) },
        },
        bytes,
      );
    }
  };

  /**
   * Reads every page of a query; `after(row)` notes progress after each stored row. With
   * `bulkFrom`, a first page telling at least that many rows is not read: false (use a bulk job).
   */
  const readAll = async (
    soql: string,
    scanAll: boolean,
    after: (row: Row) => void,
    bulkFrom = Number.POSITIVE_INFINITY,
    first?: Page,
  ): Promise<boolean> => {
    let page =
      first ??
      (await api.call(
        `query ${object}`,
        async () => (await conn.query(soql, { autoFetch: false, scanAll })) as unknown as Page,
        run.signal,
      ));
    if (!page.done && (page.totalSize ?? 0) >= bulkFrom) return false;
    for (;;) {
      const next = page.done ? undefined : page.nextRecordsUrl;
      const nextPage = (url: string) =>
        api.call(`query ${object} (next page)`, async () => (await conn.queryMore(url)) as unknown as Page, run.signal);
      // The next page is asked for while this one is stored, so the API's round trip and the
      // appliance's work overlap. Not for objects with blob fields: storing downloads bodies,
      // and their calls stay one at a time.
      const ahead = next && blobs.length === 0 ? nextPage(next) : undefined;
      ahead?.catch(() => undefined); // surfaces when awaited; storing may fail first
      for (const row of page.records) {
        await store(row);
        after(row);
      }
      if (!next) return true;
      page = await (ahead ?? nextPage(next));
    }
  };

  const select = `SELECT ${fields.join(', ')} FROM ${object}`;

  const changed = (from: number) => changesSoql(object, fields, from, false);

  /**
   * A Bulk API 2.0 query job: every live row, or (incremental) every row changed in the window,
   * deleted ones included (queryAll). Created, waited for, its results read page by page.
   */
  const bulkQuery = window === undefined || state.full ? select : changed(window);
  const bulkOperation = bulkQuery === select ? 'query' : 'queryAll';
  const openBulk = async (): Promise<{ jobId: string; locator: string | null }> => {
    const job = (await api.call(
      `bulk query of ${object}`,
      () =>
        conn.request({
          method: 'POST',
          url: '/jobs/query',
          body: JSON.stringify({ operation: bulkOperation, query: bulkQuery }),
          headers: { 'Content-Type': 'application/json' },
        }),
      run.signal,
    )) as BulkJobInfo;
    return { jobId: job.id, locator: null };
  };

  const readBulk = async (bulk: { jobId: string; locator: string | null }): Promise<void> => {
    for (;;) {
      let info: BulkJobInfo;
      try {
        info = (await api.call(
          `bulk query job of ${object}`,
          () => conn.request(`/jobs/query/${bulk.jobId}`),
          run.signal,
        )) as BulkJobInfo;
      } catch (err) {
        // A job a stopped run left is gone (Salesforce keeps them 7 days): start another.
        if (!(err instanceof Error) || !err.message.includes('NOT_FOUND')) throw err;
        Object.assign(bulk, await openBulk());
        continue;
      }
      if (info.state === 'JobComplete') break;
      if (info.state === 'Failed' || info.state === 'Aborted') {
        throw new Error(`Salesforce's Bulk API query job of ${object} ended ${info.state}`);
      }
      await sleep(bulkPollMs, undefined, { signal: run.signal });
    }
    do {
      const locator = bulk.locator;
      // jsforce's bulk2.query() mishandles several results pages (jsforce#1546): read them here.
      const page = await api.call(
        `bulk query results of ${object}`,
        async () => {
          const rows = (await conn.request({
            method: 'GET',
            url: `/jobs/query/${bulk.jobId}/results${locator ? `?locator=${encodeURIComponent(locator)}` : ''}`,
            headers: { Accept: 'text/csv' },
          })) as Record<string, string>[] | string;
          return { rows: Array.isArray(rows) ? rows : [], next: api.header('sforce-locator') ?? 'null' };
        },
        run.signal,
      );
      for (const row of page.rows) await store(typed(row, types));
      bulk.locator = page.next === 'null' ? null : page.next;
      if (page.next === 'null') return;
    } while (bulk.locator);
  };

  if (full) {
    run.step(`reading every ${object} record`);
    let afterId = full.afterId;
    let bulk = full.bulk;
    try {
      if (!bulk && afterId === null) {
        const count = await api.call(
          `count ${object}`,
          async () =>
            ((await conn.query(`SELECT COUNT() FROM ${object}`)) as unknown as { totalSize: number }).totalSize,
          run.signal,
        );
        if (count >= bulkThreshold) bulk = await openBulk();
      }
      if (bulk) {
        run.step(`reading every ${object} record (Bulk API)`);
        await readBulk(bulk);
      } else {
        await readAll(`${select}${afterId ? ` WHERE Id > ${quote(afterId)}` : ''} ORDER BY Id`, false, (row) => {
          afterId = row.Id;
        });
      }
    } catch (err) {
      if (err instanceof BudgetExhausted) {
        return finish(
          { ...state, described, full: { afterId, startedAt: full.startedAt, ...(bulk ? { bulk } : {}) } },
          err.message,
        );
      }
      throw err;
    }
    if (seen) {
      for await (const item of writer.previousItems?.() ?? []) {
        if (!seen.has(item.key)) {
          await writer.delete(item.key);
          deleted++;
        }
      }
    }
    // Rows changed while a stopped full read waited are read by the next run, from its start.
    return finish(
      stamped ? { v: 1, fields: fieldSet, described, since: full.startedAt } : { v: 1, fields: fieldSet, described },
    );
  }

  const since = Date.parse(state.since as string);
  const from = since - SAFETY_OVERLAP_MS;
  let reached = since;
  let bulk = state.changes?.bulk;
  const bulkStartedAt = state.changes?.startedAt ?? new Date(startedAt).toISOString();
  try {
    // A describe read in this run: getDeleted (or the pass it calls for) comes now.
    if (!deletionsRead && replicateable) passDue = !(await readDeleted(from));
    if (passDue) await passOverIds();
    run.step(`reading ${object} records changed since ${new Date(since).toISOString()}`);
    if (!bulk) {
      const read = await readAll(
        changesSoql(object, fields, from),
        true,
        (row) => {
          const t = sfTime(row.SystemModstamp);
          if (!Number.isNaN(t)) reached = Math.max(reached, t);
        },
        bulkThreshold,
        firstChanges,
      );
      if (!read) bulk = await openBulk();
    }
    if (bulk) {
      run.step(`reading ${object} records changed since ${new Date(since).toISOString()} (Bulk API)`);
      await readBulk(bulk);
    }
  } catch (err) {
    if (err instanceof BudgetExhausted) {
      // A bulk job continues from its next results page; REST rows are in stamp order, so the
      // next run continues from the last one stored (the overlap re-reads a few).
      const next: SalesforceState = bulk
        ? {
            v: 1,
            fields: fieldSet,
            described,
            since: state.since as string,
            changes: { startedAt: bulkStartedAt, bulk },
          }
        : { v: 1, fields: fieldSet, described, since: new Date(reached).toISOString() };
      return finish(next, err.message);
    }
    throw err;
  }
  // Rows changed while a stopped bulk read waited are read by the next run, from the job's start.
  return finish({ v: 1, fields: fieldSet, described, since: bulk ? bulkStartedAt : new Date(startedAt).toISOString() });
}

/** The rows of `fields` changed after `from`, in stamp order (REST) or any order (Bulk API). */
function changesSoql(object: string, fields: string[], from: number, ordered = true): string {
  const soql = `SELECT ${fields.join(', ')} FROM ${object} WHERE SystemModstamp > ${soqlTime(from)}`;
  return ordered ? `${soql} ORDER BY SystemModstamp, Id` : soql;
}

/** A Salesforce datetime (`…+0000`) in ms; NaN when absent. */
function sfTime(value: unknown): number {
  return Date.parse(String(value ?? '').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

/**
 * A blob field's bytes (a ContentVersion's VersionData). jsforce's `record().blob()` streams an
 * error answer as if it were the body and rejects only its promise, so both are awaited: a failed
 * download throws (and is retried) instead of storing Salesforce's error JSON as the file.
 */
async function readBlob(api: SalesforceApi, object: string, id: string, field: string): Promise<Buffer> {
  const answer = api.conn.request(`/sobjects/${object}/${id}/${field}`);
  const parts: Buffer[] = [];
  const streamed = new Promise<void>((resolve, reject) => {
    const stream = answer.stream();
    stream.on('data', (chunk: Buffer | string) => parts.push(Buffer.from(chunk)));
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  await Promise.all([answer, streamed]);
  return Buffer.concat(parts);
}
