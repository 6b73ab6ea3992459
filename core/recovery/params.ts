// What a restore or export job carries in `jobs.params`, written by start.ts and read by the job
// runners (possibly in a worker thread, possibly after an appliance restart). Parsed with zod on
// both sides, so a row written by another version fails clearly instead of half-working.
import { z } from 'zod';
import { EXPORT_ENCRYPTIONS, EXPORT_FORMATS } from './entities.ts';

export const RESTORE_MODES = ['non_destructive', 'in_place'] as const;

/** Entities one export may hold besides its first (the task page's selection, search hits' objects). */
export const MAX_EXPORT_PARTS = 500;

const selection = z.object({
  keys: z.array(z.string().max(4000)).max(10_000).optional(),
  paths: z.array(z.string().max(4000)).max(10_000).optional(),
});

const common = {
  snapshotId: z.string().min(1).max(64),
  /** The snapshot's time when known at start (the catalog); the runner records it otherwise. */
  snapshotTime: z.string().nullable().default(null),
  /** The entity whose backup is read. */
  entityId: z.string().max(36),
  selection: selection.default({}),
};

export const restoreParamsSchema = z.object({
  ...common,
  destinationEntityId: z.string().max(36),
  mode: z.enum(RESTORE_MODES),
  /** The plugin's `restoreOptions`, parsed at start (parsed again by the runner). */
  options: z.record(z.string(), z.unknown()).default({}),
});
export type RestoreParams = z.output<typeof restoreParamsSchema>;

export const exportParamsSchema = z.object({
  ...common,
  format: z.enum(EXPORT_FORMATS).default('zip'),
  encryption: z.enum(EXPORT_ENCRYPTIONS).default('none'),
  /** Armored OpenPGP public key, for encryption 'public_key'. */
  publicKey: z.string().optional(),
  /** The passphrase sealed with the credential cipher under `exportPassphraseContext(jobId)`. */
  sealedPassphrase: z.string().optional(),
  /** Null: for download; otherwise the storage location the file is written to. */
  locationId: z.string().max(36).nullable().default(null),
  /** The service's export options (its `exportOptions`), parsed when the export started. */
  options: z.record(z.string(), z.unknown()).default({}),
  /** Further entities of the same task in the same archive (a multi-object export), in order. */
  parts: z
    .array(
      z.object({
        entityId: z.string().max(36),
        snapshotId: z.string().min(1).max(64),
        snapshotTime: z.string().nullable().default(null),
        selection: selection.default({}),
      }),
    )
    .max(MAX_EXPORT_PARTS)
    .default([]),
});
export type ExportParams = z.output<typeof exportParamsSchema>;

export function exportPassphraseContext(jobId: string): string {
  return `export-passphrase:${jobId}`;
}

export function parseParams<T extends z.ZodType>(schema: T, params: unknown): z.output<T> {
  const parsed = schema.safeParse(params);
  if (!parsed.success) throw new Error(`the job's parameters are not valid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
