// The results of export jobs kept for download: one row per finished export that was written
// "for download", with the file's place under the data folder and its expiry (72 hours after the
// job finished). Maintenance deletes the file once the link has expired and marks the row, so the
// Jobs page can still say "expired" afterwards.
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';
import { Job } from '../jobs/entities.ts';

export const EXPORT_FORMATS = ['zip', 'tar'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_ENCRYPTIONS = ['none', 'public_key', 'passphrase'] as const;
export type ExportEncryption = (typeof EXPORT_ENCRYPTIONS)[number];

export const ExportResult = defineEntity({
  name: 'ExportResult',
  tableName: 'export_results',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    job: () => p.manyToOne(Job).unique().deleteRule('cascade'),
    /** The name the download is offered under (Content-Disposition). */
    fileName: p.string().length(255),
    /** Absolute path of the file on the appliance; never shown. */
    filePath: p.string().length(2000).hidden(),
    size: p.double(),
    format: p.enum(EXPORT_FORMATS),
    encryption: p.enum(EXPORT_ENCRYPTIONS),
    createdAt: p.datetime(),
    expiresAt: p.datetime().index(),
    /** Set when maintenance deleted the expired file. */
    deletedAt: p.datetime().nullable(),
    downloads: p.integer().default(0),
    lastDownloadedAt: p.datetime().nullable(),
  },
});
export type IExportResult = InferEntity<typeof ExportResult>;
