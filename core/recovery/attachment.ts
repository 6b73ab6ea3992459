// A job attachment: a file a plugin hands back with a restore's outcome (the per-record report of
// a Salesforce restore), kept like an export's result: zipped beside the exports of the
// organization, offered as the job's "Download results" for 72 hours and deleted by maintenance
// afterwards (the same ExportResult rows, download route and expiry as exports).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EntityManager } from '@mikro-orm/core';
import type { JobAttachment } from '../plugins/service.ts';
import { archiveWriter } from './archive.ts';
import { DOWNLOAD_HOURS, exportsFolder } from './downloads.ts';
import { ExportResult } from './entities.ts';

export interface KeptAttachment {
  fileName: string;
  size: number;
}

/** "restore-report.csv" → "restore-report.zip": ASCII, no path characters. */
function zipName(fileName: string): string {
  const base =
    fileName
      .replace(/\.[^.]*$/, '')
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .slice(0, 120) || 'attachment';
  return `${base}.zip`;
}

export async function keepAttachment(
  em: EntityManager,
  input: { dataDir: string; organizationId: string; jobId: string; now: Date },
  attachment: JobAttachment,
): Promise<KeptAttachment> {
  const folder = exportsFolder(input.dataDir, input.organizationId);
  await mkdir(folder, { recursive: true });
  const partial = join(folder, `${input.jobId}.partial`);
  const final = join(folder, `${input.jobId}.zip`);
  const { content } = attachment;
  // A file the plugin wrote is streamed into the zip; bytes in memory are added as they are.
  const file = typeof content === 'object' && 'path' in content ? content.path : undefined;
  const bytes =
    file !== undefined
      ? undefined
      : typeof content === 'string'
        ? Buffer.from(content, 'utf8')
        : (content as Uint8Array);
  const length = file !== undefined ? (await stat(file)).size : (bytes as Uint8Array).length;
  const inner = attachment.fileName.replace(/[/\\]/g, '_') || 'attachment';
  try {
    const zip = archiveWriter('zip');
    const writing = pipeline(zip.output, createWriteStream(partial, { mode: 0o600 }));
    await zip.addFile(
      inner,
      length,
      input.now,
      file !== undefined ? createReadStream(file) : Readable.from([Buffer.from(bytes as Uint8Array)]),
    );
    zip.finish();
    await writing;
    await rename(partial, final);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  const size = (await stat(final)).size;
  const fileName = zipName(attachment.fileName);
  await em.nativeDelete(ExportResult, { job: input.jobId });
  em.create(ExportResult, {
    organization: input.organizationId,
    job: input.jobId,
    fileName,
    filePath: final,
    size,
    format: 'zip',
    encryption: 'none',
    createdAt: input.now,
    expiresAt: new Date(input.now.getTime() + DOWNLOAD_HOURS * 3_600_000),
    deletedAt: null,
    downloads: 0,
    lastDownloadedAt: null,
  });
  await em.flush();
  return { fileName, size };
}
