// Carrying out a restore plan at the target through sObject Collections (200 records a call,
// allOrNone false so one refused record does not stop the others; a Bulk API 2.0 job past
// restore-bulk's threshold; one create with its content for a record with blob fields): creates object by object in
// insert order with lookups remapped to the new ids, then one pass of updates — Overwrite's
// records, and the lookups created records had to leave out (self-lookups, cycles). Every record
// gets a report row; a refused one carries Salesforce's error code and message. Records, ids and
// rows live in the restore's store (restore-store): a page of records is in memory at a time.

import { ServiceAuthError } from '../../../core/plugins/service.ts';
import { bulkSave } from './restore-bulk.ts';
import {
  type BlobSource,
  BlobTooLarge,
  blobFields,
  blobValues,
  createMultipart,
  fileBodyFixes,
  isEarlierVersion,
  largeBlob,
} from './restore-files.ts';
import { LINK, prepareLinks } from './restore-links.ts';
import {
  type Action,
  actionOf,
  BULK_JOB_MAX,
  BULK_WRITE_THRESHOLD,
  COLLECTION_SIZE,
  type LookupTargets,
  mapLookup,
  type ObjectInfo,
  type RecordMode,
  recordBody,
  type SourceRecord,
} from './restore-plan.ts';
import { RestoreStore, type StoredRow } from './restore-store.ts';
import { BudgetExhausted, type SalesforceApi } from './session.ts';

export type Result = 'created' | 'updated' | 'skipped' | 'failed';

export interface ReportRow {
  object: string;
  sourceId: string;
  /** The id at the target: new for a created record, the same for an updated or skipped one. */
  targetId: string | null;
  action: Action;
  result: Result;
  errorCode: string;
  message: string;
  notes: string[];
}

export interface WriteInput {
  api: SalesforceApi;
  order: readonly string[];
  info: ReadonlyMap<string, ObjectInfo>;
  mode: RecordMode;
  /** Duplicate's name suffix. */
  suffix: string;
  signal: AbortSignal;
  step(text: string): void;
  /** The backup's blob items: records with blob fields are created one by one with their content. */
  blob?: BlobSource;
  /** More records than this of one object to create (or update) go through a Bulk API 2.0 job. */
  bulkThreshold?: number;
  /** Wait between a bulk job's status checks. */
  bulkPollMs?: number;
  /** Applied to each page of records before it is written (a replicate's anonymization). */
  transform?: (records: SourceRecord[]) => SourceRecord[];
}

/** The in-memory form (unit tests, small restores): records, live ids and matches as collections. */
export interface WriteRecordsInput extends Omit<WriteInput, 'transform'> {
  records: readonly SourceRecord[];
  live: ReadonlySet<string>;
  /** Source id → the target record it matched by a unique field: updated, skipped or copied as if live. */
  matched?: ReadonlyMap<string, string>;
}

interface SaveResult {
  id?: string;
  success: boolean;
  errors?: { statusCode?: string; errorCode?: string; message?: string }[];
}

/** `writeStored` over records in memory: the rows in record order. */
export async function writeRecords(input: WriteRecordsInput): Promise<ReportRow[]> {
  const store = new RestoreStore({ memory: true });
  try {
    for (const r of input.records) store.add(r);
    for (const id of input.live) store.live.add(id);
    for (const [id, to] of input.matched ?? []) {
      store.matched.set(id, to);
      store.live.add(id);
    }
    await writeStored(store, input);
    const rows: ReportRow[] = [];
    for (const page of store.rowPages('1')) {
      for (const r of page) {
        const { object, sourceId, targetId, action, result, errorCode, message, notes } = r;
        rows.push({ object, sourceId, targetId, action, result, errorCode, message, notes });
      }
    }
    return rows;
  } finally {
    store.close();
  }
}

/**
 * Writes the store's records (those of `order`'s objects) and leaves a report row per record in
 * it. Object by object, a page of records at a time, each page read from the store when it is
 * written: creates in insert order, then the updates.
 */
export async function writeStored(store: RestoreStore, input: WriteInput): Promise<void> {
  const { api, order, info, mode, signal } = input;
  const { live } = store;
  const transform = input.transform ?? ((page: SourceRecord[]) => page);
  // A report row per record, with what will be done to it.
  const known = [...info.keys()];
  const inOrder = `object in (${known.map(() => '?').join(',')})`;
  if (known.length) {
    for (const page of store.pages(inOrder, ...known)) {
      store.db.transaction(() => {
        for (const r of page) {
          const earlier = isEarlierVersion(r);
          const action = earlier ? 'skip' : actionOf(mode, live.has(r.id));
          const match = store.matched.get(r.id);
          // Lookups to a record updated or left in place at the target follow the record it matched.
          if (match && action !== 'create') store.remapped.set(r.id, match);
          store.addRow(
            {
              object: r.object,
              sourceId: r.id,
              targetId: action === 'create' ? null : (match ?? r.id),
              action,
              result: action === 'skip' ? 'skipped' : 'failed',
              errorCode: '',
              message: earlier
                ? 'an earlier version of the file: its latest version is restored'
                : action === 'skip'
                  ? 'exists at the target: left untouched (Bypass)'
                  : '',
              notes: match ? [`matched ${match} at the target by a unique field`] : [],
            },
            action === 'create',
          );
        }
      })();
    }
  }
  const targets: LookupTargets = { remapped: store.remapped, pending: store.pending, live };
  const noteEmptied = (row: StoredRow, emptied: { field: string; id: string }[]) => {
    for (const e of emptied) {
      row.notes.push(`${e.field}: ${e.id} exists neither at the target nor in the restore; left empty`);
    }
  };
  const threshold = input.bulkThreshold ?? BULK_WRITE_THRESHOLD;

  try {
    for (const object of order) {
      const objectInfo = info.get(object) as ObjectInfo;
      const total = (
        store.db.prepare('select count(*) as n from row where object = ? and pending = 1').get(object) as {
          n: number;
        }
      ).n;
      if (!total) continue;
      const blobs = input.blob ? blobFields(objectInfo) : [];
      // Records with blob fields go one by one (one file's content in memory at a time).
      const bulk = !blobs.length && total > threshold;
      const size = blobs.length ? 1 : bulk ? Math.min(BULK_JOB_MAX, store.pageSize) : COLLECTION_SIZE;
      let createdVersions: { sourceDocument: string; targetId: string }[] | undefined;
      if (object === LINK) {
        input.step(`linking the restored files (${total} links)`);
        createdVersions = [];
        for (const page of store.pages(
          `object = 'ContentVersion' and id in (select id from row where result = 'created')`,
        )) {
          for (const r of page) {
            createdVersions.push({
              sourceDocument: String(r.values.ContentDocumentId ?? ''),
              targetId: store.row(r.id).targetId as string,
            });
          }
        }
      }
      let done = 0;
      // Pending rows of this object, a page at a time: each page leaves pending as it is written.
      for (const page of store.pages(`object = ? and id in (select id from row where pending = 1)`, object)) {
        let creates = withinObjectOrder(transform(page), objectInfo);
        if (createdVersions) {
          const skip = await prepareLinks(
            api,
            creates,
            createdVersions,
            { ...targets, remapped: store.remapped },
            signal,
          );
          createdVersions = [];
          for (const [id, message] of skip) {
            const row = store.row(id);
            store.putRow({ ...row, action: 'skip', result: 'skipped', message });
          }
          creates = creates.filter((r) => !skip.has(r.id));
        }
        for (let i = 0; i < creates.length; i += size) {
          signal.throwIfAborted();
          const chunk = creates.slice(i, i + size);
          done += chunk.length;
          input.step(`creating ${object} records (${done} of ${total})${bulk ? ' (Bulk API)' : ''}`);
          const bodies = chunk.map((r) =>
            recordBody(objectInfo, r.values, targets, {
              forUpdate: false,
              ...(mode === 'duplicate' && live.has(r.id) ? { suffix: input.suffix } : {}),
            }),
          );
          for (const b of bodies) fileBodyFixes(object, b.values, b.emptied);
          const rows = chunk.map((r) => store.row(r.id));
          if (mode === 'duplicate') {
            // A copy cannot hold the unique values of the record it copies (DUPLICATE_VALUE).
            chunk.forEach((r, n) => {
              if (!live.has(r.id)) return;
              for (const field of uniqueFields(objectInfo)) {
                const values = bodies[n]?.values ?? {};
                if (values[field] === undefined || values[field] === null) continue;
                delete values[field];
                rows[n]?.notes.push(
                  `${field}: identifies the record copied (External ID or unique); left empty on the copy`,
                );
              }
            });
          }
          const results = blobs.length
            ? [await createWithBlobs(api, chunk[0] as SourceRecord, bodies[0]?.values ?? {}, blobs, input, signal)]
            : await save(
                api,
                object,
                'create',
                bodies.map((b) => b.values),
                signal,
                bulk ? (input.bulkPollMs ?? 2000) : undefined,
              );
          store.db.transaction(() => {
            chunk.forEach((r, n) => {
              const body = bodies[n] as (typeof bodies)[number];
              const result = results[n] as SaveResult;
              const row = rows[n] as StoredRow;
              noteEmptied(row, body.emptied);
              if (result.success && result.id) {
                store.remapped.set(r.id, result.id);
                Object.assign(row, { targetId: result.id, result: 'created' });
                if (body.deferred.length) row.deferred = body.deferred;
              } else fail(row, result);
              store.putRow(row);
            });
          })();
        }
      }
    }

    // Updates: Overwrite's live records, then the lookups left out while creating.
    for (const object of order) {
      const objectInfo = info.get(object) as ObjectInfo;
      const total = (
        store.db
          .prepare(
            `select count(*) as n from row where object = ? and (action = 'update' or (deferred is not null and target_id is not null))`,
          )
          .get(object) as { n: number }
      ).n;
      if (!total) continue;
      const bulk = total > threshold;
      const size = bulk ? Math.min(BULK_JOB_MAX, store.pageSize) : COLLECTION_SIZE;
      let done = 0;
      for (const page of store.pages(
        `object = ? and id in (select id from row where action = 'update' or (deferred is not null and target_id is not null))`,
        object,
      )) {
        const updates: { row: StoredRow; id: string; values: Record<string, unknown> }[] = [];
        for (const r of transform(page)) {
          const current = store.row(r.id);
          if (current.action === 'update') {
            const body = recordBody(objectInfo, r.values, targets, { forUpdate: true });
            noteEmptied(current, body.emptied);
            updates.push({ row: current, id: current.targetId ?? r.id, values: body.values });
          }
          if (current.deferred.length && current.targetId) {
            const values: Record<string, unknown> = {};
            for (const d of current.deferred) {
              const field = objectInfo.fields.find((f) => f.name === d.field);
              const mapped = mapLookup(d.id, targets);
              if (!field?.updateable) {
                current.notes.push(`${d.field}: cannot be set after the insert (not updateable); left empty`);
              } else if ('to' in mapped) values[d.field] = mapped.to;
              else current.notes.push(`${d.field}: ${d.id} was not restored; left empty`);
            }
            current.deferred = [];
            if (Object.keys(values).length) updates.push({ row: current, id: current.targetId, values });
          }
          store.putRow(current);
        }
        for (let i = 0; i < updates.length; i += size) {
          signal.throwIfAborted();
          const chunk = updates.slice(i, i + size);
          done += chunk.length;
          input.step(`updating ${object} records (${done} of ${total})${bulk ? ' (Bulk API)' : ''}`);
          const results = await save(
            api,
            object,
            'update',
            chunk.map((u) => ({ Id: u.id, ...u.values })),
            signal,
            bulk ? (input.bulkPollMs ?? 2000) : undefined,
          );
          store.db.transaction(() => {
            chunk.forEach((u, n) => {
              const result = results[n] as SaveResult;
              const current = store.row(u.row.sourceId);
              if (current.action === 'update' && u.row.action === 'update' && current.result !== 'updated') {
                if (result.success) current.result = 'updated';
                else fail(current, result);
              } else if (!result.success) {
                const [code, message] = errorOf(result);
                current.notes.push(`lookups set after the insert were refused: ${code}: ${message}`);
              }
              store.putRow(current);
            });
          })();
        }
      }
    }
  } catch (err) {
    if (!(err instanceof BudgetExhausted)) throw err;
    // The task's API budget is reached: what is not written yet is reported, not retried.
    store.db
      .prepare(
        `update row set error_code = 'API_USAGE_LIMIT', message = ?, pending = 0 where result = 'failed' and error_code = ''`,
      )
      .run(err.message.replace(/: the next run continues from here\.$/, ''));
  }
}

/** Fields no two records may share. */
function uniqueFields(info: ObjectInfo): string[] {
  return info.fields.filter((f) => f.unique || f.externalId).map((f) => f.name);
}

/** Within one object, records whose self-lookup parent is created before them come after it. */
function withinObjectOrder(records: SourceRecord[], info: ObjectInfo): SourceRecord[] {
  const selfLookups = info.fields.filter((f) => f.type === 'reference' && f.referenceTo.includes(info.name));
  if (!selfLookups.length) return records;
  const byId = new Map(records.map((r) => [r.id, r]));
  const depth = new Map<string, number>();
  const depthOf = (r: SourceRecord, seen: Set<string>): number => {
    const known = depth.get(r.id);
    if (known !== undefined) return known;
    seen.add(r.id);
    let d = 0;
    for (const f of selfLookups) {
      const parent = byId.get(String(r.values[f.name] ?? ''));
      if (parent && !seen.has(parent.id)) d = Math.max(d, depthOf(parent, seen) + 1);
    }
    depth.set(r.id, d);
    return d;
  };
  for (const r of records) depthOf(r, new Set());
  return [...records].sort((a, b) => (depth.get(a.id) ?? 0) - (depth.get(b.id) ?? 0));
}

async function save(
  api: SalesforceApi,
  object: string,
  kind: 'create' | 'update',
  records: Record<string, unknown>[],
  signal: AbortSignal,
  /** Through a Bulk API 2.0 job, polled this often; else sObject Collections. */
  bulkPollMs?: number,
): Promise<SaveResult[]> {
  try {
    if (bulkPollMs !== undefined) return await bulkSave(api, object, kind, records, signal, bulkPollMs);
    const sobject = api.conn.sobject(object);
    const answer = await api.call(
      `${kind === 'create' ? 'creating' : 'updating'} ${records.length} ${object} records`,
      () =>
        (kind === 'create'
          ? sobject.create(records as never[], { allOrNone: false })
          : sobject.update(records as never[], { allOrNone: false })) as Promise<unknown>,
      signal,
    );
    return answer as SaveResult[];
  } catch (err) {
    if (err instanceof BudgetExhausted || err instanceof ServiceAuthError || (err as Error).name === 'AbortError') {
      throw err;
    }
    // The whole call was refused: every record of it failed with that reason.
    const message = (err as Error).message;
    return records.map(() => ({ success: false, errors: [{ statusCode: 'CALL_REFUSED', message }] }));
  }
}

/** One record created with its blob fields' content from the backup. */
async function createWithBlobs(
  api: SalesforceApi,
  record: SourceRecord,
  values: Record<string, unknown>,
  fields: readonly string[],
  input: WriteInput,
  signal: AbortSignal,
): Promise<SaveResult> {
  let content: Record<string, string>;
  try {
    const large = await largeBlob(input.blob as BlobSource, record, fields);
    input.step(`creating ${record.object} ${record.id} with its content`);
    if (large) return await createMultipart(api, record, values, large, signal);
    content = await blobValues(input.blob as BlobSource, record, fields, signal);
  } catch (err) {
    if (err instanceof BlobTooLarge) {
      return { success: false, errors: [{ statusCode: 'FILE_TOO_LARGE', message: err.message }] };
    }
    if (err instanceof BudgetExhausted || err instanceof ServiceAuthError || (err as Error).name === 'AbortError') {
      throw err;
    }
    const e = err as Error & { errorCode?: string };
    return { success: false, errors: [{ statusCode: e.errorCode ?? 'CALL_REFUSED', message: e.message }] };
  }
  try {
    const answer = await api.call(
      `creating ${record.object} with its content`,
      () => api.conn.sobject(record.object).create({ ...values, ...content } as never) as Promise<unknown>,
      signal,
    );
    return answer as SaveResult;
  } catch (err) {
    if (err instanceof BudgetExhausted || err instanceof ServiceAuthError || (err as Error).name === 'AbortError') {
      throw err;
    }
    const e = err as Error & { errorCode?: string };
    return { success: false, errors: [{ statusCode: e.errorCode ?? 'CALL_REFUSED', message: e.message }] };
  }
}

function errorOf(result: SaveResult): [string, string] {
  const e = result.errors?.[0];
  return [e?.statusCode ?? e?.errorCode ?? 'UNKNOWN', e?.message ?? 'refused without a reason'];
}

function fail(row: ReportRow, result: SaveResult): void {
  const [code, message] = errorOf(result);
  row.result = 'failed';
  row.errorCode = code;
  row.message = message;
}
