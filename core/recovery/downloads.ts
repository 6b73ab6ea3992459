// Download Results: an export's file, offered for 72 hours after the job finished. Looked up
// inside the organization acted on (another tenant's job is "not found"); after the expiry the
// link answers "gone" with a sentence saying so, and maintenance deletes the file.
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/core';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { AppError, NotFoundError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { getJob } from '../jobs/jobs-service.ts';
import { ExportResult, type IExportResult } from './entities.ts';

/** How long a job's results are offered for download. */
export const DOWNLOAD_HOURS = 72;

/** Where an organization's export results are kept (removed with the organization). */
export function exportsFolder(dataDir: string, organizationId: string): string {
  return join(dataDir, 'exports', organizationId);
}

export class DownloadExpiredError extends AppError {
  constructor(expiredAt: Date) {
    super(
      'download_expired',
      `This download link expired on ${expiredAt.toISOString().slice(0, 16).replace('T', ' ')} UTC (links work for 72 hours). Run the export again to get a new one.`,
      410,
    );
    this.name = 'DownloadExpiredError';
  }
}

/** The export result of a job of the organization, if it has one (any state of expiry). */
export async function exportResultOf(em: EntityManager, jobId: string): Promise<IExportResult | null> {
  return em.findOne(ExportResult, { job: jobId });
}

export type DownloadState = 'ready' | 'expired' | 'none';

export function downloadState(result: IExportResult | null | undefined, now: Date): DownloadState {
  if (!result) return 'none';
  return result.deletedAt || result.expiresAt <= now ? 'expired' : 'ready';
}

export interface OpenedDownload {
  result: IExportResult;
  stream: Readable;
}

/**
 * Opens the result file of an export job for download, counts the download and audits it
 * ("Export downloaded"). NotFound for a job of another organization or without a result;
 * DownloadExpiredError after the expiry.
 */
export async function openDownload(
  em: EntityManager,
  organization: IOrganization,
  jobId: string,
  actor: AuditActor,
  now: Date,
): Promise<OpenedDownload> {
  const job = await getJob(em, organization, jobId);
  const result = job.kind === 'export' || job.kind === 'restore' ? await exportResultOf(em, job.id) : null;
  if (!result) throw new NotFoundError('This job has no results to download.');
  if (downloadState(result, now) === 'expired') throw new DownloadExpiredError(result.expiresAt);
  const stream = createReadStream(result.filePath);
  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DownloadExpiredError(result.expiresAt);
    throw err;
  }
  await em.nativeUpdate(ExportResult, { id: result.id }, { downloads: result.downloads + 1, lastDownloadedAt: now });
  await recordAudit(em, {
    organization,
    activity: 'Export downloaded',
    account: organization.name,
    description: `${job.label}: ${result.fileName} (${result.size} bytes) downloaded.`,
    actor,
  });
  return { result, stream };
}

/** `attachment; filename="…"; filename*=UTF-8''…` for a file name. */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/** Maintenance: deletes the files of expired export results (the rows stay, marked, for the Jobs page). */
export async function deleteExpiredExports(em: EntityManager, now: Date): Promise<number> {
  const due = await em.find(ExportResult, { expiresAt: { $lte: now }, deletedAt: null }, { limit: 1000 });
  for (const result of due) {
    await rm(result.filePath, { force: true });
    result.deletedAt = now;
  }
  await em.flush();
  return due.length;
}

/** Purge of an organization: every export file it still has. */
export async function deleteOrganizationExports(em: EntityManager, organizationId: string): Promise<void> {
  const results = await em.find(ExportResult, { organization: organizationId, deletedAt: null });
  for (const result of results) await rm(result.filePath, { force: true });
}
