// Backup Radar: it reads backup results from e-mail sent to the address it gives each MSP. For a
// product it has no parser of its own for, it documents a generic one: a mail whose subject
// starts with "Backup Report CSV" and whose first attachment is a CSV with the columns Device,
// Status and Backup Date (required) and Job, Client, Data Size (optional), Status one of
// Success / Warning / Failure. Each batch of backup runs becomes one such mail, queued in the
// appliance's outbox (core/mail/), whose retries deliver it; the cursor moves right after it is
// queued (a crash between the two queues that batch again: the same rows, which Backup Radar
// reads as the same day's results).
import { z } from 'zod';
import { MailFile, MailMessage } from '../mail/entities.ts';
import { csvLine } from '../plugins/csv.ts';
import type { IntegrationKind } from './contract.ts';
import type { IntegrationEvent } from './event-feed.ts';

export const backupRadarSettingsSchema = z.object({
  address: z
    .string({ error: 'Enter the address Backup Radar gave you.' })
    .trim()
    .min(1, { error: 'Enter the address Backup Radar gave you.' })
    .max(320, { error: 'Use at most 320 characters.' })
    .pipe(z.email({ error: 'Enter an e-mail address, such as msp-one@inbound.backupradar.com.' })),
});
export type BackupRadarSettings = z.infer<typeof backupRadarSettingsSchema>;

export const BACKUP_RADAR_HEADER = ['Client', 'Device', 'Job', 'Status', 'Backup Date', 'Data Size'] as const;

const STATUS: Record<string, string> = {
  succeeded: 'Success',
  partially_succeeded: 'Warning',
  warning: 'Warning',
  failed: 'Failure',
};

/** "2026-12-07 06:21:56" (UTC): a date and time every parser reads the same way. */
const backupDate = (iso: string) => iso.slice(0, 19).replace('T', ' ');

/** One CSV row per backup run (a test event is one row of device "Holdfast test"). */
export function backupRadarRow(event: IntegrationEvent): string[] | null {
  if (event.log === 'test') {
    return [event.organization.name, 'Holdfast test', 'Holdfast test', 'Success', backupDate(event.time), ''];
  }
  if (event.log !== 'activity' || event.action !== 'Backup') return null;
  const status = STATUS[event.status];
  if (!status) return null;
  const bytes = event.details.bytes;
  return [
    event.organization.path.join(' / ') || event.organization.name,
    String(event.details.item ?? event.details.taskName ?? 'Backup'),
    `Holdfast: ${String(event.details.taskName ?? event.details.service ?? 'Backup')}`,
    status,
    backupDate(String(event.details.startedAt ?? event.time)),
    typeof bytes === 'number' ? String(Math.round(bytes)) : '',
  ];
}

export const backupRadarKind: IntegrationKind<BackupRadarSettings> = {
  id: 'backup-radar',
  label: 'Backup Radar',
  category: 'Monitoring',
  description: 'Report every backup run to Backup Radar by e-mail (its generic CSV report format).',
  fields: [
    {
      name: 'address',
      label: 'Backup Radar’s inbound address',
      type: 'text',
      placeholder: 'msp-one@inbound.backupradar.com',
      hint: 'The address Backup Radar shows for your account. Mail goes through this appliance’s mail server.',
    },
  ],
  fixedStreams: ['activity'],
  schema: backupRadarSettingsSchema as never,
  target: (s) => s.address,

  async send(target, events) {
    const rows = events.map(backupRadarRow).filter((r): r is string[] => r !== null);
    if (rows.length === 0) return { acknowledged: true };
    // Backup Radar loads values as written: no spreadsheet defusing of a leading "-" or "=".
    const csv = [BACKUP_RADAR_HEADER, ...rows].map((r) => csvLine(r, { formulas: 'keep' })).join('');
    const stamp = target.now.toISOString().replace(/[-:]/g, '').slice(0, 15);
    const mail = target.em.create(MailMessage, {
      createdAt: target.now,
      to: target.settings.address,
      subject: `Backup Report CSV: Holdfast, ${rows.length} backup${rows.length === 1 ? '' : 's'}`,
      text: `Backup results from Holdfast, one CSV row per backup run (${BACKUP_RADAR_HEADER.join(', ')}).`,
      status: 'outbox',
      sentAt: null,
      error: null,
      html: null,
      organization: target.organizationId,
      notification: null,
      attempts: 0,
      nextAttemptAt: target.now,
    });
    target.em.create(MailFile, {
      mail,
      fileName: `holdfast-backups-${stamp}.csv`,
      contentType: 'text/csv',
      content: Buffer.from(csv, 'utf8'),
    });
    await target.em.flush();
    return { acknowledged: true };
  },
};
