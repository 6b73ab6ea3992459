// Writes backed-up files and folders back to Dropbox, never over what is there:
// - non-destructive: into a new top folder, the kernel's "Restored <date>" (autorenamed if taken),
//   keeping the folder structure below it;
// - in place: at the original paths; a file already there with the same content is skipped, a
//   different one is kept and the restored file is saved next to it as "name (1).ext" (Dropbox's
//   autorename), so nothing is overwritten.
// The destination may be another member or team folder of the same team (`run.destination`). Small
// files go up in one files/upload call; larger ones through an upload session (the SDK's
// uploader, in 8 MiB parts, streamed from the repository). Modified times are restored as
// client_modified. Per-item failures are reported; a refused authorization stops the restore.
import { type files, sizedReaderUpload, uploadFile } from 'dropbox';
import { type RestoreOutcome, type RestoreRun, ServiceAuthError } from '../../../core/plugins/service.ts';
import { call, DropboxRouteError, type DropboxSession, mapError, type Target } from './client.ts';

/** Files above this size are uploaded through an upload session. */
export const SESSION_THRESHOLD = 8 * 1024 * 1024;
const PART = 8 * 1024 * 1024;

/**
 * The kernel's "Restored <date>" folder name, made safe for every Dropbox client (Windows and
 * macOS refuse ':' in names): "Restored 2026-03-01 14:05 UTC" becomes "Restored 2026-03-01 14.05 UTC".
 */
export function dropboxFolderName(name: string): string {
  return name.replace(/[:\\/<>"|?*]/g, '.').trim() || 'Restored';
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

async function* bytesOf(stream: NodeJS.ReadableStream): AsyncIterable<Uint8Array> {
  for await (const chunk of stream as AsyncIterable<Buffer | string>) yield Buffer.from(chunk);
}

export async function restoreEntity(
  session: DropboxSession,
  destination: Target,
  run: RestoreRun,
): Promise<RestoreOutcome> {
  const client = session.files(destination);
  const signal = run.signal;
  const failedItems: { key: string; reason: string }[] = [];
  let restored = 0;
  let skipped = 0;
  let base = '';
  if (run.mode === 'non_destructive') {
    run.step('creating the restore folder');
    const created = await call(() =>
      client.filesCreateFolderV2({ path: `/${dropboxFolderName(run.folderName)}`, autorename: true }, { signal }),
    );
    base = created.metadata.path_display ?? `/${created.metadata.name}`;
  }

  const metadataAt = async (path: string): Promise<files.MetadataReference | undefined> => {
    try {
      return await call(() => client.filesGetMetadata({ path }, { signal }));
    } catch (err) {
      if (err instanceof DropboxRouteError && err.summary.startsWith('path/not_found')) return undefined;
      throw err;
    }
  };

  const upload = async (
    path: string,
    item: { meta?: Record<string, unknown>; content: () => NodeJS.ReadableStream },
  ) => {
    const size = typeof item.meta?.size === 'number' ? item.meta.size : undefined;
    const clientModified = typeof item.meta?.clientModified === 'string' ? item.meta.clientModified : undefined;
    const commit: files.CommitInfo = {
      path,
      mode: { '.tag': 'add' },
      autorename: true,
      mute: true,
      ...(clientModified ? { client_modified: clientModified } : {}),
    };
    if (size !== undefined && size > SESSION_THRESHOLD) {
      try {
        const { metadata } = await uploadFile(client, sizedReaderUpload(bytesOf(item.content()), size), commit, {
          chunkSize: PART,
          signal,
          maxAttempts: 2,
        });
        return metadata;
      } catch (err) {
        throw mapError(err);
      }
    }
    const contents = await readAll(item.content());
    return call(() => client.filesUpload({ ...commit, contents }, { signal }));
  };

  run.step('restoring files');
  for await (const item of run.items) {
    signal.throwIfAborted();
    const path = `${base}${typeof item.meta?.path === 'string' ? item.meta.path : item.key}`;
    try {
      if (item.kind === 'folder') {
        // Folders matter on their own when empty; one that exists already (in place) is left as it is.
        try {
          await call(() => client.filesCreateFolderV2({ path, autorename: false }, { signal }));
          restored++;
        } catch (err) {
          if (!(err instanceof DropboxRouteError && err.summary.startsWith('path/conflict/folder'))) throw err;
          skipped++;
        }
        continue;
      }
      if (item.kind !== 'file') {
        skipped++;
        continue;
      }
      if (run.mode === 'in_place') {
        const existing = await metadataAt(path);
        if (
          existing?.['.tag'] === 'file' &&
          (existing as unknown as files.FileMetadata).content_hash === item.meta?.contentHash
        ) {
          skipped++;
          continue;
        }
      }
      const written = await upload(path, item);
      const expected = item.meta?.contentHash;
      if (typeof expected === 'string' && written.content_hash && written.content_hash !== expected) {
        throw new Error(`Dropbox stored content with another hash than the backup's (${written.content_hash})`);
      }
      restored++;
    } catch (err) {
      const e = mapError(err);
      if (e instanceof ServiceAuthError || signal.aborted) throw e;
      failedItems.push({ key: item.key, reason: `${path}: ${e.message}` });
    }
  }
  return { restored, skipped, ...(failedItems.length ? { failedItems } : {}) };
}
