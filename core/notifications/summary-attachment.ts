// The CSV a summary-report mail carries when its settings say "attachment": read from the
// report row at send time (not copied into every recipient's outbox row).
import type { EntityManager } from '@mikro-orm/core';
import type { MailAttachment } from '../mail/mailer.ts';
import type { INotification } from './entities.ts';
import { SummaryReport } from './summary-entities.ts';

export async function reportAttachments(
  em: EntityManager,
  notification: INotification | null | undefined,
): Promise<MailAttachment[] | undefined> {
  const summary = notification?.payload.summary;
  if (summary?.delivery !== 'attachment') return undefined;
  const report = await em.findOne(SummaryReport, { id: summary.reportId }, { populate: ['csv'] });
  if (!report) return undefined;
  return [{ filename: report.fileName, content: report.csv, contentType: 'text/csv; charset=utf-8' }];
}
