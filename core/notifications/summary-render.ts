// A summary report's mail body: totals, then per task its entities with status, last backup,
// items and size, and failures with their reasons; as plain text and as an HTML table.
import { humanBytes } from '../activity/activity-service.ts';
import type { SummaryLine, SummaryPayload } from './summary-entities.ts';

export interface SummaryBody {
  subject: string;
  lines: string[];
  text: string[];
  html: string;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch,
  );
}

const count = (n: number) => n.toLocaleString('en-US');
const when = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : 'never');

function byTask(lines: readonly SummaryLine[]): Map<string, SummaryLine[]> {
  const groups = new Map<string, SummaryLine[]>();
  for (const l of lines) {
    const key = `${l.organization} › ${l.task}`;
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  return groups;
}

export function summaryBody(org: string, s: SummaryPayload): SummaryBody {
  const about = s.scope ?? org;
  const what = s.format === 'failures' ? 'Backup failure details' : 'Backup tasks overview';
  const t = s.totals;
  const lines = [
    `${what} of ${about} for ${s.period}: ${t.tasks} task${t.tasks === 1 ? '' : 's'} with ${t.entities} item${t.entities === 1 ? '' : 's'}, ${t.failed} failed; the last backups hold ${count(t.items)} records, ${humanBytes(t.bytes)}.`,
    s.delivery === 'attachment'
      ? `The full report is attached as ${s.fileName}.`
      : 'The full report is a CSV file at the link below.',
  ];
  const groups = byTask(s.lines);
  const text: string[] = [];
  for (const [task, rows] of groups) {
    text.push(task);
    if (rows[0]?.drill) text.push(`  ${rows[0].drill}`);
    for (const r of rows) {
      text.push(
        `  ${r.entity}: ${r.status}, last backup ${when(r.lastBackup)}, ${count(r.items)} items, ${humanBytes(r.bytes)}${r.reason ? ` — ${r.reason}` : ''}`,
      );
    }
    text.push('');
  }
  if (groups.size === 0) text.push(s.format === 'failures' ? 'No failed backups.' : 'No backup tasks.', '');
  if (s.omitted) text.push(`… and ${s.omitted} more in the CSV.`, '');
  const cell = 'padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top';
  const head = ['Status', 'Last backup (UTC)', 'Items', 'Size']
    .map((h, i) => `<th style="${cell};background:#f3f4f6${i > 1 ? ';text-align:right' : ''}">${h}</th>`)
    .join('');
  // Per item: its name on a full-width row, then four narrow figures, then a failure's reason:
  // readable on a phone as on a desktop.
  const tables = [...groups].map(([task, rows]) => {
    const body = rows
      .map((r) => {
        const color = r.reason ? 'color:#b91c1c;font-weight:600' : '';
        const open = `${cell};border-bottom:0`;
        const line = r.reason ? open : cell;
        const lastBackup = r.lastBackup ? r.lastBackup.slice(0, 16).replace('T', ' ') : 'never';
        return [
          `<tr><td colspan="4" style="${open};padding-top:8px;font-weight:600;overflow-wrap:anywhere">${escapeHtml(r.entity)}</td></tr>`,
          `<tr><td style="${line};${color}">${escapeHtml(r.status)}</td><td style="${line}">${lastBackup}</td><td style="${line};text-align:right">${count(r.items)}</td><td style="${line};text-align:right;white-space:nowrap">${humanBytes(r.bytes)}</td></tr>`,
          r.reason
            ? `<tr><td colspan="4" style="${cell};padding-top:0;color:#b91c1c">${escapeHtml(r.reason)}</td></tr>`
            : '',
        ].join('');
      })
      .join('');
    const drill = rows[0]?.drill
      ? `<p style="margin:0 0 0.25em;font-size:0.875em">${escapeHtml(rows[0].drill)}</p>`
      : '';
    return `<h3 style="font-size:1em;margin:1.25em 0 0.25em">${escapeHtml(task)}</h3>${drill}<table style="border-collapse:collapse;font-size:0.875em;width:100%"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
  });
  const html = [
    ...tables,
    ...(groups.size === 0 ? [`<p>${s.format === 'failures' ? 'No failed backups.' : 'No backup tasks.'}</p>`] : []),
    ...(s.omitted ? [`<p>… and ${s.omitted} more in the CSV.</p>`] : []),
  ].join('\n');
  const failed = t.failed ? `${t.failed} failed` : 'all succeeded';
  return { subject: `Summary report, ${s.period}: ${failed} (${about})`, lines, text, html };
}
