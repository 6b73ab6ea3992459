// Large writes of a restore through a Bulk API 2.0 ingest job instead of sObject Collections: one
// job (create, upload the CSV, UploadComplete, poll, successful and failed results) is about 6 API
// calls whatever its size, where collections take one call per 200 records. The results come back
// as CSV in no promised order: a successful row is matched to its record by the values uploaded
// (update rows by their Id), `sf__Id` being the new id and `sf__Error` Salesforce's
// `CODE:message:fields --` for a failed one.
import { setTimeout as sleep } from 'node:timers/promises';
import { csvCell } from '../../../core/plugins/csv.ts';
import type { SalesforceApi } from './session.ts';

export interface BulkSaveResult {
  id?: string;
  success: boolean;
  errors?: { statusCode?: string; message?: string }[];
}

interface JobInfo {
  id: string;
  state: string;
  errorMessage?: string;
}

function cell(value: unknown, update: boolean): string {
  // In an update, an empty cell leaves the field as it is; #N/A clears it.
  if (value === null || value === undefined) return update ? '#N/A' : '';
  return String(value);
}

/** Writes the records (bodies as for collections; updates carry Id) in one job; results in input order. */
export async function bulkSave(
  api: SalesforceApi,
  object: string,
  kind: 'create' | 'update',
  records: readonly Record<string, unknown>[],
  signal: AbortSignal,
  pollMs = 2000,
): Promise<BulkSaveResult[]> {
  const update = kind === 'update';
  const columns = [...new Set(records.flatMap((r) => Object.keys(r)))];
  const lines = records.map((r) => columns.map((c) => cell(r[c], update)));
  const csv = [columns, ...lines].map((cells) => `${cells.map((c) => csvCell(c, { formulas: 'keep' })).join(',')}\n`);
  const { conn } = api;
  const job = (await api.call(
    `bulk ${kind} job of ${object}`,
    () =>
      conn.request({
        method: 'POST',
        url: '/jobs/ingest',
        body: JSON.stringify({ object, operation: update ? 'update' : 'insert', contentType: 'CSV', lineEnding: 'LF' }),
        headers: { 'Content-Type': 'application/json' },
      }),
    signal,
  )) as JobInfo;
  await api.call(
    `uploading ${records.length} ${object} records`,
    () =>
      conn.request({
        method: 'PUT',
        url: `/jobs/ingest/${job.id}/batches`,
        body: csv.join(''),
        headers: { 'Content-Type': 'text/csv' },
      }),
    signal,
  );
  const patch = (state: string) =>
    api.call(
      `bulk job of ${object}: ${state}`,
      () =>
        conn.request({
          method: 'PATCH',
          url: `/jobs/ingest/${job.id}`,
          body: JSON.stringify({ state }),
          headers: { 'Content-Type': 'application/json' },
        }),
      signal,
    );
  await patch('UploadComplete');
  try {
    for (;;) {
      const info = (await api.call(
        `bulk job of ${object}`,
        () => conn.request(`/jobs/ingest/${job.id}`),
        signal,
      )) as JobInfo;
      if (info.state === 'JobComplete') break;
      if (info.state === 'Failed' || info.state === 'Aborted') {
        const message = `the Bulk API job ended ${info.state}${info.errorMessage ? `: ${info.errorMessage}` : ''}`;
        return records.map(() => ({ success: false, errors: [{ statusCode: 'BULK_JOB_FAILED', message }] }));
      }
      await sleep(pollMs, undefined, { signal });
    }
  } catch (err) {
    // A cancelled restore stops the job too (best effort: the abort is what the caller reports).
    if ((err as Error).name === 'AbortError') await patch('Aborted').catch(() => undefined);
    throw err;
  }
  const results = async (which: 'successfulResults' | 'failedResults') => {
    const rows = (await api.call(
      `bulk ${which} of ${object}`,
      () => conn.request({ method: 'GET', url: `/jobs/ingest/${job.id}/${which}`, headers: { Accept: 'text/csv' } }),
      signal,
    )) as Record<string, string>[] | string;
    return Array.isArray(rows) ? rows : [];
  };
  // Rows with the same uploaded values are interchangeable: each key holds a queue of positions.
  const keyOf = (cells: readonly string[]) => JSON.stringify(update ? [cells[columns.indexOf('Id')]] : cells);
  const positions = new Map<string, number[]>();
  lines.forEach((cells, i) => {
    const key = keyOf(cells);
    const list = positions.get(key);
    if (list) list.push(i);
    else positions.set(key, [i]);
  });
  const out: BulkSaveResult[] = records.map(() => ({
    success: false,
    errors: [{ statusCode: 'UNPROCESSED', message: 'the Bulk API job did not process this record' }],
  }));
  const place = (row: Record<string, string>, result: BulkSaveResult) => {
    const at = positions.get(keyOf(columns.map((c) => row[c] ?? '')))?.shift();
    if (at !== undefined) out[at] = result;
  };
  for (const row of await results('successfulResults')) place(row, { id: row.sf__Id as string, success: true });
  for (const row of await results('failedResults')) {
    const [code, ...rest] = (row.sf__Error ?? '').split(':');
    const message = rest.join(':').replace(/:[^:]*--$/, '');
    place(row, { success: false, errors: [{ statusCode: code || 'UNKNOWN', message: message || 'refused' }] });
  }
  return out;
}
