// One export run: the selected items of a snapshot, read in pack order, streamed into a ZIP (or
// TAR) archive — optionally an OpenPGP message around it — and written either to a results file
// under the data folder (offered for download for 72 hours) or to a storage location. The file is
// written under a temporary name and renamed only when complete; a run that is cancelled, fails
// or is interrupted removes it, so there is never a half-written result. Items the repository holds
// damaged are left out of the archive and named (the job is then Partially succeeded). A service
// plugin with `exportArchive` shapes the entries itself (shaped-export.ts); otherwise every item is
// one file at its path.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { withLock } from '../../storage/locks.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import { type ItemFieldMap, itemFieldMap, itemModified, itemPath } from '../catalog/item-fields.ts';
import { Organization } from '../identity/entities.ts';
import type { JobOutcome, JobRun } from '../jobs/handler.ts';
import { logEntry } from '../jobs/queue.ts';
import type { Sink } from '../plugins/sink.ts';
import { findAvailableLocation, openLocationSink } from '../storage-locations/locations.ts';
import {
  archiveWriter,
  type Encryption,
  EntryNames,
  encrypted,
  RENAMED_MANIFEST,
  type RenamedEntry,
} from './archive.ts';
import { checkedContent } from './checked-content.ts';
import { DOWNLOAD_HOURS, exportsFolder } from './downloads.ts';
import { ExportResult } from './entities.ts';
import { describeSelection, isEverything, selectedItems } from './items.ts';
import { type ExportParams, exportParamsSchema, exportPassphraseContext, parseParams } from './params.ts';
import { FAILED_LISTED, FAILED_LOGGED, openSnapshot, recoverySource } from './restore-job.ts';
import { writeShapedEntries } from './shaped-export.ts';

/** How long a download link works after the export finished. */
export { DOWNLOAD_HOURS, exportsFolder };

/** "export-user-001-2026-11-22.zip": ASCII, no path characters, for Content-Disposition and sinks. */
export function resultFileName(label: string, at: Date, extension: string): string {
  const slug = label
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 80);
  return `${slug || 'export'}-${at.toISOString().slice(0, 10)}.${extension}`;
}

/** The entry time in the archive: when the service says the item changed, else the snapshot's time. */
function mtimeOf(item: ItemEntry, fallback: Date, fields: ItemFieldMap): Date {
  const date = itemModified(item, fields);
  // ZIP's DOS times start in 1980.
  return date && date.getUTCFullYear() >= 1980 ? date : fallback;
}

/** Names the archive could not hold as they are: the first ones in the job log, all in the manifest. */
const RENAMED_LOGGED = 20;

async function logRenamed(run: JobRun, renamed: readonly RenamedEntry[], now: Date): Promise<void> {
  if (renamed.length === 0) return;
  const entries = renamed
    .slice(0, RENAMED_LOGGED)
    .map((r) => logEntry('warn', `stored as "${r.stored}": "${r.original}" (${r.reason})`, now));
  entries.push(
    logEntry(
      'info',
      `${renamed.length} name${renamed.length === 1 ? ' was' : 's were'} changed in the archive; ${RENAMED_MANIFEST} in it lists each (original → stored)`,
      now,
    ),
  );
  await run.appendLog(entries);
}

export async function runExportJob(run: JobRun): Promise<JobOutcome> {
  const { ctx, em, job, signal, progress } = run;
  const params: ExportParams = parseParams(exportParamsSchema, job.params);
  const source = await recoverySource(run, params.entityId);
  // Where the service keeps its items' paths and dates (an uninstalled plugin: keys and snapshot time).
  const plugin = ctx.services(source.task.service);
  const fields = itemFieldMap(plugin?.searchFields ?? []);
  const rules = { caseInsensitive: plugin?.pathsCaseInsensitive };
  const encryption: Encryption =
    params.encryption === 'passphrase'
      ? {
          kind: 'passphrase',
          passphrase: ctx.credentials.decrypt(params.sealedPassphrase ?? '', exportPassphraseContext(job.id)),
        }
      : params.encryption === 'public_key'
        ? { kind: 'public_key', armoredKey: params.publicKey ?? '' }
        : { kind: 'none' };
  const extension = `${params.format}${encryption.kind === 'none' ? '' : '.gpg'}`;
  const fileName = resultFileName(job.label, ctx.now(), extension);

  progress.step = 'opening the backup';
  const opened = await ctx.storage.open({
    id: source.task.id,
    organizationId: source.task.organization.id,
    storageLocation: source.task.storageLocation ?? null,
  });
  let target:
    | { kind: 'file'; folder: string; partial: string; final: string }
    | { kind: 'sink'; sink: Sink; key: string; name: string };
  if (params.locationId) {
    const org = await em.findOneOrFail(Organization, { id: source.task.organization.id });
    const location = await findAvailableLocation(em, org, params.locationId);
    const sink = await openLocationSink(
      { em, credentials: ctx.credentials, storageDir: ctx.settings.storageDir },
      location,
    );
    target = {
      kind: 'sink',
      sink,
      key: `exports/organizations/${source.task.organization.id}/${job.id}/${fileName}`,
      name: location.name,
    };
  } else {
    const folder = exportsFolder(ctx.settings.dataDir, source.task.organization.id);
    target = {
      kind: 'file',
      folder,
      partial: join(folder, `${job.id}.partial`),
      final: join(folder, `${job.id}.${extension}`),
    };
  }
  // Entries of unknown size are measured here first when the format needs sizes up front (TAR).
  const spoolDir = join(exportsFolder(ctx.settings.dataDir, source.task.organization.id), `${job.id}.spool`);
  try {
    const written = await withLock(
      opened.repo.sink,
      'shared',
      { purpose: `export of ${source.entity.name}`.slice(0, 200) },
      async () => {
        // A multi-object export: the first part, then each further object of the task, in turn.
        const parts = [
          { entityId: params.entityId, snapshotId: params.snapshotId, selection: params.selection },
          ...params.parts,
        ];
        const firstReader = await openSnapshot(
          SnapshotReader.open(opened.repo, params.snapshotId),
          source,
          params.snapshotId,
        );
        const firstTime = new Date(firstReader.manifest.time);
        const archive = archiveWriter(params.format);
        const names = new EntryNames(params.format);
        let current: Readable | undefined;
        let count = 0;
        const damaged: { key: string; reason: string }[] = [];
        const produce = async () => {
          for (const [n, part] of parts.entries()) {
            const partSource = n === 0 ? source : await recoverySource(run, part.entityId);
            const reader =
              n === 0
                ? firstReader
                : await openSnapshot(SnapshotReader.open(opened.repo, part.snapshotId), partSource, part.snapshotId);
            await producePart(partSource, reader, { ...params, ...part });
          }
          if (names.renamed.length > 0) {
            const manifest = names.manifest();
            await archive.addFile(
              names.name(RENAMED_MANIFEST),
              manifest.byteLength,
              firstTime,
              Readable.from([manifest]),
            );
          }
          archive.finish();
        };
        const producePart = async (partSource: typeof source, reader: SnapshotReader, partParams: ExportParams) => {
          const snapshotTime = new Date(reader.manifest.time);
          if (plugin?.exportArchive) {
            // The plugin shapes the entries (one CSV per object, files in folders…).
            count += await writeShapedEntries({
              plugin,
              archive,
              names,
              reader,
              params: partParams,
              source: partSource,
              fields,
              rules,
              snapshotTime,
              damaged,
              spoolDir,
              run,
              setCurrent: (stream) => {
                current = stream;
              },
            });
          } else {
            let partCount = 0;
            for await (const item of selectedItems(reader, partParams.selection, signal, fields, rules)) {
              signal.throwIfAborted();
              const mtime = mtimeOf(item, snapshotTime, fields);
              if (item.kind === 'folder') {
                await archive.addFolder(names.name(itemPath(item, fields), true), mtime);
              } else {
                const checked = await checkedContent(reader, item);
                if ('damaged' in checked) {
                  damaged.push({ key: item.key, reason: checked.damaged });
                  continue;
                }
                const name = names.name(itemPath(item, fields));
                progress.step = `writing ${name}`.slice(0, 200);
                current = checked.content();
                await archive.addFile(name, item.size, mtime, current);
                current = undefined;
                progress.bytes += item.size;
              }
              count++;
              partCount++;
              progress.items = count;
            }
            if (partCount === 0 && damaged.length === 0 && !isEverything(partParams.selection)) {
              throw new Error(`nothing in the snapshot matches ${describeSelection(partParams.selection)}`);
            }
          }
        };
        const body = await encrypted(archive.output, encryption);
        const sinkBody = new PassThrough();
        const write =
          target.kind === 'file'
            ? (async () => {
                await mkdir(target.folder, { recursive: true });
                // Left by a run the appliance's stop interrupted.
                await rm(target.partial, { force: true });
                await pipeline(body, createWriteStream(target.partial, { flags: 'wx', mode: 0o600 }), { signal });
              })()
            : Promise.all([
                pipeline(body, sinkBody, { signal }),
                target.sink.put(target.key, sinkBody, { ifAbsent: true }),
              ]);
        const writing = write.catch((err) => {
          // Unblock the producer: the entry it is feeding will never be consumed now.
          current?.destroy(err as Error);
          throw err;
        });
        const producing = produce().catch((err) => {
          archive.output.destroy(err as Error);
          throw err;
        });
        await Promise.all([writing, producing]);
        signal.throwIfAborted();
        return { count, snapshotTime: firstTime, damaged, renamed: names.renamed };
      },
      opened.repo,
    );

    const now = ctx.now();
    await logRenamed(run, written.renamed, now);
    const { damaged } = written;
    await run.appendLog(
      damaged.slice(0, FAILED_LOGGED).map((f) => logEntry('warn', `${f.key} was not exported: ${f.reason}`, now)),
    );
    const state = damaged.length ? 'partially_succeeded' : 'succeeded';
    const failed = damaged.length ? { failedItems: damaged.length, failed: damaged.slice(0, FAILED_LISTED) } : {};
    const left = damaged.length ? `; ${damaged.length} damaged item${damaged.length === 1 ? '' : 's'} left out` : '';
    if (target.kind === 'sink') {
      return {
        state,
        result: {
          ...failed,
          items: written.count,
          bytes: progress.bytes,
          snapshotTime: written.snapshotTime.toISOString(),
          destination: `${target.name}: ${target.key}`,
          fileName,
        },
        message: `${written.count} item${written.count === 1 ? '' : 's'} exported to ${target.name} as ${target.key}${left}`,
      };
    }
    await rename(target.partial, target.final);
    const size = (await stat(target.final)).size;
    // Offered for download only while the job is still this run's (fenced); a node that lost the
    // job meanwhile takes its file away again.
    await em
      .transactional(async (tx) => {
        await run.confirmHeld(tx);
        await tx.nativeDelete(ExportResult, { job: job.id });
        tx.create(ExportResult, {
          organization: source.task.organization.id,
          job: job.id,
          fileName,
          filePath: target.final,
          size,
          format: params.format,
          encryption: params.encryption,
          createdAt: now,
          expiresAt: new Date(now.getTime() + DOWNLOAD_HOURS * 3_600_000),
          deletedAt: null,
          downloads: 0,
          lastDownloadedAt: null,
        });
      })
      .catch(async (err: unknown) => {
        await rm(target.final, { force: true });
        throw err;
      });
    return {
      state,
      result: {
        ...failed,
        items: written.count,
        bytes: progress.bytes,
        snapshotTime: written.snapshotTime.toISOString(),
        destination: 'Download',
        fileName,
        fileSize: size,
      },
      message: `${written.count} item${written.count === 1 ? '' : 's'} exported (${fileName}, ${size} bytes)${left}; the download link works for ${DOWNLOAD_HOURS} hours`,
    };
  } catch (err) {
    if (target.kind === 'file') await rm(target.partial, { force: true });
    throw err;
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
    if (target.kind === 'sink') await target.sink.close().catch(() => undefined);
    await opened.close();
  }
}
