// One backup run of a member's Dropbox or a team folder. The snapshot is incremental: the first
// run lists everything (list_folder, recursive); later runs continue from the saved cursor and see
// only what changed, including `deleted` entries (a deleted folder is one entry: everything the
// previous snapshot holds below it is deleted). A cursor Dropbox resets falls back to a full
// listing, reconciled against the previous snapshot (what is no longer listed is deleted).
//
// Content is read only when needed: a file whose content_hash equals the one stored for its key
// is carried over (or re-added with the stored content when only its metadata changed); a file
// whose content_hash is stored under another key (moved, copied) reuses that content; 0-byte
// files need no download. Downloads run a few at a time and stream into the snapshot, checked
// against their content_hash. A file that cannot be read is reported (the run is Partial) and
// tried again on the next run (the state remembers it), since the cursor has moved past it.
import type { files } from 'dropbox';
import { RetryBudget } from '../../../core/plugins/retry.ts';
import {
  type BackupOutcome,
  type BackupRun,
  type PreviousItem,
  ServiceAuthError,
  TransientServiceError,
} from '../../../core/plugins/service.ts';
import { WorkWindow } from '../../../storage/work-window.ts';
import { call, DropboxRouteError, type DropboxSession, mapError, type Target, withBudget } from './client.ts';
import { verified } from './content-hash.ts';

export interface DropboxState {
  /** list_folder cursor: where the next run continues. */
  cursor: string;
  /** Files (path_lower) that could not be read: tried again next time. */
  retry?: string[];
}

type Entry = files.FileMetadataReference | files.FolderMetadataReference | files.DeletedMetadataReference;

export interface BackupOptions {
  session: DropboxSession;
  target: Target;
  run: BackupRun<DropboxState>;
  /** The author recorded for a file (the member; for team folders who modified it last). */
  author: (entry: files.FileMetadataReference) => string | undefined;
  /** Downloads at once. */
  concurrency: number;
}

const PAGE = 2000;

export function fileMeta(entry: files.FileMetadata, author: string | undefined): Record<string, unknown> {
  return {
    name: entry.name,
    path: entry.path_display ?? entry.name,
    id: entry.id,
    rev: entry.rev,
    size: entry.size,
    contentHash: entry.content_hash,
    modified: entry.server_modified,
    clientModified: entry.client_modified,
    ...(author ? { author } : {}),
  };
}

function folderMeta(entry: files.FolderMetadata): Record<string, unknown> {
  return { name: entry.name, path: entry.path_display ?? entry.name, id: entry.id };
}

function sameMeta(a: Record<string, unknown> | undefined, b: Record<string, unknown>): boolean {
  if (!a) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

export async function backupEntity(options: BackupOptions): Promise<BackupOutcome<DropboxState>> {
  const { session, target, run } = options;
  const writer = run.writer;
  const client = session.files(target);
  const pool = new WorkWindow(options.concurrency);
  const signal = AbortSignal.any([run.signal, pool.signal]);
  const failed = new Map<string, string>();
  /** Order of what this run saw: a deletion removes what was put before it, not after. */
  let seq = 0;
  const putSeq = new Map<string, number>();
  const deletions: { prefix: string; seq: number }[] = [];
  const inflight = new Map<string, Promise<void>>();
  let hashIndex: Map<string, string> | undefined;
  let reconcile = false;
  const counts = { downloads: 0, reused: 0 };

  const previous = async (key: string): Promise<PreviousItem | undefined> =>
    writer.hasParent ? writer.previous(key) : undefined;

  const storedContent = async (hash: string): Promise<string | undefined> => {
    if (!writer.hasParent) return undefined;
    if (!hashIndex) {
      hashIndex = new Map();
      for await (const item of writer.previousItems()) {
        const h = item.meta?.contentHash;
        if (item.kind === 'file' && typeof h === 'string' && item.size > 0) hashIndex.set(h, item.key);
      }
    }
    return hashIndex.get(hash);
  };

  const download = (entry: files.FileMetadataReference, key: string) => async () => {
    // One budget for the file: its own retries and its requests' retries add up to the policy's tries.
    const budget = new RetryBudget(session.retry.attempts);
    for (;;) {
      try {
        const { metadata, body } = await withBudget(budget, () =>
          session.download(target, entry.path_lower ?? entry.id, signal),
        );
        const current = metadata as unknown as files.FileMetadata;
        // The file may have changed since it was listed: what was downloaded is what is described.
        const meta = fileMeta(current.rev ? current : entry, options.author(entry));
        await writer.add({ key, kind: 'file', meta }, verified(body, current.content_hash ?? entry.content_hash));
        counts.downloads++;
        failed.delete(key);
        return;
      } catch (err) {
        const e = mapError(err);
        if (e instanceof ServiceAuthError || signal.aborted) throw e;
        // Requests already retried 429s and 5xx; what is left worth another go is a broken stream.
        const retry = !(e instanceof TransientServiceError || e instanceof DropboxRouteError);
        if (retry && budget.left > 0) continue;
        failed.set(key, `${entry.path_display ?? key}: ${e.message}`);
        return;
      }
    }
  };

  const handleFile = async (entry: files.FileMetadataReference, key: string) => {
    const meta = fileMeta(entry, options.author(entry));
    const item = { key, kind: 'file', meta };
    const prev = await previous(key);
    if (prev?.kind === 'file' && prev.meta?.contentHash === entry.content_hash) {
      if (sameMeta(prev.meta, meta)) await writer.carryOver(key);
      else await writer.addFromPrevious(item, key);
      counts.reused++;
      failed.delete(key);
      return;
    }
    if (entry.size === 0) {
      await writer.add(item, new Uint8Array(0));
      failed.delete(key);
      return;
    }
    const stored = entry.content_hash ? await storedContent(entry.content_hash) : undefined;
    if (stored !== undefined) {
      await writer.addFromPrevious(item, stored);
      counts.reused++;
      failed.delete(key);
      return;
    }
    const before = inflight.get(key);
    if (before) await before;
    const task = download(entry, key);
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    inflight.set(key, finished);
    await pool.submit(1, async () => {
      try {
        await task();
      } finally {
        if (inflight.get(key) === finished) inflight.delete(key);
        done();
      }
    });
  };

  const handle = async (entry: Entry) => {
    signal.throwIfAborted();
    const key = entry.path_lower;
    if (!key) return; // not mounted: nothing to back up
    seq++;
    if (entry['.tag'] === 'deleted') {
      deletions.push({ prefix: key, seq });
      return;
    }
    putSeq.set(key, seq);
    if (entry['.tag'] === 'folder') {
      const meta = folderMeta(entry);
      const prev = reconcile ? await previous(key) : undefined;
      if (prev?.kind === 'folder' && sameMeta(prev.meta, meta)) await writer.carryOver(key);
      else await writer.add({ key, kind: 'folder', meta });
      return;
    }
    if (entry.is_downloadable === false) {
      // Cloud documents (Paper, …) have no bytes to download; they are not backed up.
      run.log.debug({ path: entry.path_display }, 'skipped a file Dropbox cannot download');
      return;
    }
    await handleFile(entry, key);
  };

  const listAll = async () => {
    run.step('listing all files');
    return call(() =>
      client.filesListFolder(
        {
          path: '',
          recursive: true,
          // Team folders and folders shared into a member's Dropbox are not theirs: team folders are
          // backed up as entities of their own.
          include_mounted_folders: false,
          include_non_downloadable_files: true,
          limit: PAGE,
        },
        { signal },
      ),
    );
  };

  try {
    let page: files.ListFolderResult;
    const state = run.state;
    if (state?.cursor && writer.hasParent) {
      run.step('listing changes');
      try {
        page = await call(() => client.filesListFolderContinue({ cursor: state.cursor }, { signal }));
      } catch (err) {
        if (!(err instanceof DropboxRouteError && err.tag === 'reset')) throw err;
        run.log.info({ entity: run.entity.externalId }, 'Dropbox reset the listing cursor: listing everything again');
        reconcile = true;
        page = await listAll();
      }
    } else {
      reconcile = writer.hasParent;
      page = await listAll();
    }
    const seen = reconcile ? new Set<string>() : undefined;
    for (;;) {
      for (const entry of page.entries as Entry[]) {
        if (entry['.tag'] !== 'deleted' && entry.path_lower) seen?.add(entry.path_lower);
        await handle(entry);
      }
      if (!page.has_more) break;
      const cursor = page.cursor;
      page = await call(() => client.filesListFolderContinue({ cursor }, { signal }));
    }
    const cursor = page.cursor;

    // Files that failed last time and did not change since: read them again now.
    for (const key of state?.retry ?? []) {
      if (putSeq.has(key) || deletions.some((d) => key === d.prefix || key.startsWith(`${d.prefix}/`))) continue;
      try {
        const entry = (await call(() => client.filesGetMetadata({ path: key }, { signal }))) as Entry;
        await handle(entry);
      } catch (err) {
        if (err instanceof DropboxRouteError && err.summary.startsWith('path/not_found')) {
          deletions.push({ prefix: key, seq: ++seq });
        } else if (err instanceof ServiceAuthError || signal.aborted) {
          throw err;
        } else {
          failed.set(key, `${key}: ${(err as Error).message}`);
        }
      }
    }
    run.step('downloading files');
    await pool.drain();

    if (deletions.length || seen) {
      run.step('recording deletions');
      const deletedAt = (key: string): number => {
        let at = -1;
        for (const d of deletions) if ((key === d.prefix || key.startsWith(`${d.prefix}/`)) && d.seq > at) at = d.seq;
        return at;
      };
      const gone = (key: string) => {
        if (seen && !seen.has(key)) return true;
        const at = deletedAt(key);
        return at >= 0 && at > (putSeq.get(key) ?? -1);
      };
      const removed = new Set<string>();
      if (writer.hasParent) {
        for await (const item of writer.previousItems()) {
          if (gone(item.key)) removed.add(item.key);
        }
      }
      for (const key of putSeq.keys()) if (deletedAt(key) > (putSeq.get(key) as number)) removed.add(key);
      for (const key of removed) {
        await writer.delete(key);
        failed.delete(key);
      }
    }
    run.log.debug({ entity: run.entity.externalId, ...counts, failed: failed.size }, 'Dropbox listing processed');
    const failedItems = [...failed].map(([key, reason]) => ({ key, reason }));
    return {
      state: { cursor, ...(failed.size ? { retry: [...failed.keys()] } : {}) },
      ...(failedItems.length ? { failedItems } : {}),
    };
  } catch (err) {
    await pool.settle();
    throw mapError(err);
  }
}
