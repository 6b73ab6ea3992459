// The CSV a summary-report mail carries when its settings say "attachment": read from the
// report row at send time (not copied into every recipient's outbox row); and the files stored
// with a mail itself (core/mail/entities.ts MailFile).
import type { EntityManager } from '@mikro-orm/core';
import { MailFile } from '../mail/entities.ts';
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

/** The files stored with a queued mail (the portal's usage report ZIP). */
export async function storedAttachments(em: EntityManager, mailId: number): Promise<MailAttachment[]> {
  const files = await em.find(MailFile, { mail: mailId }, { populate: ['content'], orderBy: { id: 'asc' } });
  return files.map((f) => ({ filename: f.fileName, content: Buffer.from(f.content), contentType: f.contentType }));
}
