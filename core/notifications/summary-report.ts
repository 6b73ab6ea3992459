// The summary report: made when an organization's report is due (the scheduler calls
// queueDueSummaryReports each tick), per task and entity — status, last backup, items and size
// as the task page shows them, failures with their reasons, the task's latest restore drill — for the organization and every
// account under it. At a partner or distributor it is one file, or one per customer. Each file
// is a SummaryReport row (its CSV) and one summary notification with the event key
// `summary:<org>:<period>[:<customer>]`, in one transaction: two nodes or a restart queue it once.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { describeDrill, latestDrills } from '../drills/drill-status.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { csvChunks } from '../plugins/csv.ts';
import { BackupTask, type EntityStatus, TaskEntity } from '../tasks/entities.ts';
import { ENTITY_STATUS_LABELS } from '../tasks/task-overview.ts';
import { likeSafePath } from '../tenancy/organizations.ts';
import { queueNotification } from './queue.ts';
import {
  type ISummaryReport,
  type ISummaryReportSettings,
  type SummaryLine,
  type SummaryPayload,
  SummaryReport,
  SummaryReportSettings,
} from './summary-entities.ts';
import { duePeriod, periodLabel } from './summary-schedule.ts';

/** How long a report's download link works. */
export const REPORT_LINK_DAYS = 14;
/** Lines listed in the mail; the CSV has every one. */
const MAIL_LINES = 100;

export const SUMMARY_CSV_HEADER = [
  'Organization',
  'Task',
  'Service',
  'Type',
  'Name',
  'Status',
  'Last backup (UTC)',
  'Items',
  'Size (bytes)',
  'Failure reason',
  'Restore drill',
] as const;

const FAILED: readonly string[] = ['failed', 'partial'];

interface Row extends SummaryLine {
  organizationId: string;
  taskId: string;
  service: string;
  kind: string;
  failed: boolean;
}

/** Every entity (not deleted) of every task of `org` and the accounts under it. */
async function reportRows(em: EntityManager, org: IOrganization): Promise<Row[]> {
  const orgs = await em.find(
    Organization,
    { path: { $like: `${likeSafePath(org.path)}%` }, status: 'active' },
    { orderBy: { name: 'asc' } },
  );
  const rows: Row[] = [];
  for (const o of orgs) {
    const tasks = await em.find(BackupTask, { organization: o.id, deletedAt: null }, { orderBy: { name: 'asc' } });
    for (const task of tasks) {
      const drill = (await latestDrills(em, [task.id])).get(task.id);
      const drillText = drill ? describeDrill({ ...drill, bytes: Number(drill.bytes) }) : null;
      const entities = await em.find(
        TaskEntity,
        { task: task.id, deletedAt: null },
        { orderBy: { kind: 'asc', name: 'asc', id: 'asc' } },
      );
      for (const e of entities) {
        const failed = FAILED.includes(e.status);
        rows.push({
          organizationId: o.id,
          organization: o.name,
          taskId: task.id,
          task: task.name,
          service: task.service,
          kind: e.kind,
          entity: e.name,
          status: ENTITY_STATUS_LABELS[e.status as EntityStatus] ?? e.status,
          lastBackup: e.lastRunAt?.toISOString() ?? null,
          items: e.lastItems,
          bytes: Number(e.lastBytes),
          reason: failed ? (e.lastError ?? 'no reason given') : null,
          drill: drillText,
          failed,
        });
      }
    }
  }
  return rows;
}

async function csvText(rows: readonly Row[]): Promise<string> {
  let text = '';
  const cells = async function* () {
    for (const r of rows) {
      yield [
        r.organization,
        r.task,
        r.service,
        r.kind,
        r.entity,
        r.status,
        r.lastBackup ?? '',
        String(r.items),
        String(r.bytes),
        r.reason ?? '',
        r.drill ?? '',
      ];
    }
  };
  for await (const chunk of csvChunks({ header: SUMMARY_CSV_HEADER, rows: cells(), bom: true })) text += chunk;
  return text;
}

function slug(text: string): string {
  return (
    text
      .normalize('NFKD')
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 60) || 'organization'
  );
}

export function reportTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** One file: its report row and its notification, in the caller's transaction. */
async function queueFile(
  tx: EntityManager,
  settings: ISummaryReportSettings,
  org: IOrganization,
  period: string,
  scope: { id: string; name: string } | null,
  all: Row[],
  now: Date,
): Promise<boolean> {
  if (settings.onlyWhenFailed && !all.some((r) => r.failed)) return false;
  const rows = settings.format === 'failures' ? all.filter((r) => r.failed) : all;
  const id = randomUUID();
  const token = randomBytes(24).toString('base64url');
  const fileName = `summary-${slug(scope?.name ?? org.name)}-${period.slice(2)}.csv`;
  const expiresAt = new Date(now.getTime() + REPORT_LINK_DAYS * 86_400_000);
  const eventKey = `summary:${org.id}:${period}${scope ? `:${scope.id}` : ''}`;
  tx.create(SummaryReport, {
    id,
    organization: org.id,
    period,
    fileName,
    csv: await csvText(rows),
    tokenHash: reportTokenHash(token),
    createdAt: now,
    expiresAt,
  } as never);
  const summary: SummaryPayload = {
    period: periodLabel(period),
    format: settings.format,
    delivery: settings.delivery,
    reportId: id,
    fileName,
    scope: scope?.name ?? null,
    totals: {
      tasks: new Set(all.map((r) => r.taskId)).size,
      entities: all.length,
      failed: all.filter((r) => r.failed).length,
      items: all.reduce((n, r) => n + r.items, 0),
      bytes: all.reduce((n, r) => n + r.bytes, 0),
    },
    lines: rows
      .slice(0, MAIL_LINES)
      .map(({ organization, task, entity, status, lastBackup, items, bytes, reason, drill }) => ({
        organization,
        task,
        entity,
        status,
        lastBackup,
        items,
        bytes,
        reason,
        drill,
      })),
    omitted: Math.max(0, rows.length - MAIL_LINES),
  };
  await tx.flush();
  await queueNotification(tx, {
    organizationId: org.id,
    type: 'summary',
    eventKey,
    payload: {
      event: 'summary',
      organizationName: org.name,
      summary,
      ...(settings.delivery === 'link'
        ? {
            linkPath: `/reports/summary/${id}.csv?token=${token}`,
            linkLabel: `Download the report (CSV, until ${expiresAt.toISOString().slice(0, 10)}; sign in first)`,
          }
        : { linkPath: '/tasks', linkLabel: 'Open the backup tasks' }),
    },
    at: now,
  });
  return true;
}

/** Queues the summary reports that are due at `now`; returns how many files were queued. */
export async function queueDueSummaryReports(em: EntityManager, now: Date): Promise<number> {
  // Reports whose link has expired are no longer needed (their mail went out long before).
  await em.nativeDelete(SummaryReport, { expiresAt: { $lt: now } });
  const due = await em.find(
    SummaryReportSettings,
    { enabled: true, organization: { status: 'active' } },
    { populate: ['organization'] },
  );
  let queued = 0;
  for (const settings of due) {
    const period = duePeriod(settings.frequency, settings.hour, settings.timeZone, now);
    if (settings.lastPeriod === period) continue;
    queued += await em.fork().transactional(async (tx) => {
      // Decided once: of two racing ticks, the one that moves lastPeriod on makes the files.
      const mine = await tx.nativeUpdate(
        SummaryReportSettings,
        { id: settings.id, lastPeriod: settings.lastPeriod ?? null },
        { lastPeriod: period },
      );
      if (mine !== 1) return 0;
      const org = settings.organization as IOrganization;
      const rows = await reportRows(tx, org);
      if (settings.split === 'per_customer' && org.kind !== 'customer') {
        const orgs = new Map(rows.map((r) => [r.organizationId, r.organization]));
        let files = 0;
        for (const [id, name] of orgs) {
          const mineRows = rows.filter((r) => r.organizationId === id);
          if (await queueFile(tx, settings, org, period, { id, name }, mineRows, now)) files++;
        }
        return files;
      }
      return (await queueFile(tx, settings, org, period, null, rows, now)) ? 1 : 0;
    });
  }
  return queued;
}

/**
 * A report's CSV for its download link: the token must match and the link must not have
 * expired; whether the caller may see the organization is the caller's check (canReach).
 */
export async function openSummaryReport(
  em: EntityManager,
  id: string,
  token: string,
  now: Date,
): Promise<{ report: ISummaryReport; expired: boolean } | null> {
  if (!/^[0-9a-f-]{36}$/.test(id) || !token) return null;
  const report = await em.findOne(SummaryReport, { id }, { populate: ['csv', 'organization'] });
  if (!report) return null;
  const given = Buffer.from(reportTokenHash(token), 'hex');
  const stored = Buffer.from(report.tokenHash, 'hex');
  if (given.length !== stored.length || !timingSafeEqual(given, stored)) return null;
  return { report, expired: report.expiresAt.getTime() <= now.getTime() };
}
