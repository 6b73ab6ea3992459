// The per-record result of a restore as CSV (attached to the job): one row per record, with the
// id it has at the target now (new for a created one), what was done, and Salesforce's error code
// and message when it was refused; notes name lookups left empty. A restore writes it line by line
// to a file in the job's work folder (restore.ts); `reportCsv` is the same in one string.
import type { ReportRow } from './restore-write.ts';

export const REPORT_COLUMNS = ['Object', 'Source Id', 'Restored Id', 'Result', 'Error Code', 'Message', 'Notes'];

function cell(value: string): string {
  // A leading =, +, - or @ would be a formula in a spreadsheet: quoted and prefixed.
  const safe = /^[=+\-@]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) || safe !== value ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One record's line of the report, with its line break (the restore writes them to a file as it reads its rows). */
export function reportLine(r: ReportRow): string {
  return `${[r.object, r.sourceId, r.targetId ?? '', r.result, r.errorCode, r.message, r.notes.join('; ')].map(cell).join(',')}\r\n`;
}

export function reportCsv(rows: readonly ReportRow[]): string {
  return `${REPORT_COLUMNS.join(',')}\r\n${rows.map(reportLine).join('')}`;
}

export function reportCounts(rows: readonly ReportRow[]): Record<'created' | 'updated' | 'skipped' | 'failed', number> {
  const counts = { created: 0, updated: 0, skipped: 0, failed: 0 };
  for (const r of rows) counts[r.result]++;
  return counts;
}
