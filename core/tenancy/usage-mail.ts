// The portal's usage report mailed as a ZIP (issue 20, besides the download): the same CSV as
// /portal/usage.csv, compressed into one file and queued as outbox mail — to the requester or to
// the addresses chosen — which the notification sender delivers with its retries (and which waits
// in the Outbox while no mail server is set). The CSV streams into the compressor, so only the
// compressed file is held; it is stored beside each message (core/mail/entities.ts MailFile).
import { Readable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/core';
import { ZipFile } from 'yazl';
import { z } from 'zod';
import { accountableUser, type Principal } from '../access/principal.ts';
import { ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { MailFile, MailMessage } from '../mail/entities.ts';
import { csvChunks } from '../plugins/csv.ts';
import {
  ACCOUNT_USAGE_CSV_HEADER,
  accountUsageCsvRow,
  accountUsageFileName,
  accountUsageRows,
  type UsageRow,
  type UsageSelection,
} from './account-usage.ts';

export const MAX_USAGE_RECIPIENTS = 10;

const emailSchema = z.email();

/** The addresses typed (commas, semicolons, spaces or lines between), or the requester's own. */
export function usageRecipients(principal: Principal, typed: string | readonly string[] | undefined): string[] {
  const text = Array.isArray(typed) ? typed.join(',') : ((typed as string | undefined) ?? '');
  const list = [
    ...new Set(
      text
        .split(/[\s,;]+/)
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
  if (list.length === 0) {
    const own = accountableUser(principal)?.email;
    if (!own) throw new ValidationError({ recipients: 'Enter the addresses to mail the report to.' });
    return [own];
  }
  const wrong = list.filter((a) => !emailSchema.safeParse(a).success);
  if (wrong.length) throw new ValidationError({ recipients: `Not an email address: ${wrong.join(', ')}.` });
  if (list.length > MAX_USAGE_RECIPIENTS) {
    throw new ValidationError({ recipients: `Mail the report to at most ${MAX_USAGE_RECIPIENTS} addresses.` });
  }
  return list;
}

async function zipOf(entryName: string, chunks: AsyncIterable<string>, mtime: Date): Promise<Buffer> {
  const zip = new ZipFile();
  const parts: Buffer[] = [];
  const collected = new Promise<Buffer>((resolve, reject) => {
    const out = zip.outputStream as unknown as Readable;
    out.on('data', (b: Buffer) => parts.push(b));
    out.on('end', () => resolve(Buffer.concat(parts)));
    out.on('error', reject);
  });
  zip.addReadStream(
    Readable.from(
      (async function* () {
        for await (const chunk of chunks) yield Buffer.from(chunk, 'utf8');
      })(),
    ),
    entryName,
    { mtime, compress: true },
  );
  zip.end();
  return collected;
}

export interface QueuedUsageMail {
  recipients: string[];
  fileName: string;
  rows: number;
  bytes: number;
}

export async function queueUsageReportMail(
  em: EntityManager,
  input: {
    principal: Principal;
    current: IOrganization;
    selection: UsageSelection;
    recipients: string[];
    kindLabel: (service: string) => (kind: string) => string;
    serviceLabel: (service: string) => string;
    now: Date;
  },
): Promise<QueuedUsageMail> {
  const rows = accountUsageRows(em.fork(), input.principal, input.current, input.selection, input.kindLabel);
  // The first row is read before anything is queued, so a foreign account is a 404 and nothing is sent.
  const first = await rows.next();
  let count = 0;
  async function* all(): AsyncGenerator<readonly string[]> {
    const each = (row: UsageRow) => {
      count++;
      return accountUsageCsvRow(row, input.serviceLabel);
    };
    if (!first.done) yield each(first.value);
    for await (const row of rows) yield each(row);
  }
  const csvName = accountUsageFileName(input.now);
  const zipName = csvName.replace(/\.csv$/, '.zip');
  const content = await zipOf(
    csvName,
    csvChunks({ header: ACCOUNT_USAGE_CSV_HEADER, rows: all(), bom: true }),
    input.now,
  );
  const by = input.principal.label;
  for (const to of input.recipients) {
    const mail = em.create(MailMessage, {
      createdAt: input.now,
      to,
      subject: `Usage report of ${input.current.name} (${input.now.toISOString().slice(0, 10)})`,
      text: [
        `The usage report of ${input.current.name} that ${by} asked for is attached as ${zipName}: ${count} backed-up entit${count === 1 ? 'y' : 'ies'}, one CSV row each (account, service, task, status, first and last backup, items, logical and stored size).`,
        '',
        'Sent by Holdfast.',
      ].join('\n'),
      status: 'outbox',
      sentAt: null,
      error: null,
      html: null,
      organization: input.current,
      notification: null,
      attempts: 0,
      nextAttemptAt: input.now,
    });
    em.create(MailFile, { mail, fileName: zipName, contentType: 'application/zip', content });
  }
  await em.flush();
  return { recipients: input.recipients, fileName: zipName, rows: count, bytes: content.length };
}
