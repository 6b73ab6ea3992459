// An export whose service plugin shapes the archive (`ServicePlugin.exportArchive`): the kernel
// hands the plugin the selection's items (read again at each pass, content on demand and checked
// as read) and the items deleted since earlier snapshots, and writes the entries the plugin yields
// into the archive one at a time. An entry of unknown size goes straight into a ZIP (yazl writes a
// data descriptor); a TAR header needs the size first, so such an entry is spooled to a temporary
// file under the export's folder and measured. Memory holds one entry's buffers.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import type { ItemFieldMap } from '../catalog/item-fields.ts';
import type { JobRun } from '../jobs/handler.ts';
import type { ExportEntry, ExportItem, ServicePlugin } from '../plugins/service.ts';
import type { ArchiveWriter, EntryNames } from './archive.ts';
import { checkedContent } from './checked-content.ts';
import { itemsGoneSince } from './earlier-items.ts';
import { describeSelection, isEverything, matcher, type PathRules, selectedItems } from './items.ts';
import type { ExportParams } from './params.ts';
import type { RecoverySource } from './restore-job.ts';

export interface ShapedExport {
  plugin: ServicePlugin;
  archive: ArchiveWriter;
  names: EntryNames;
  reader: SnapshotReader;
  params: ExportParams;
  source: RecoverySource;
  fields: ItemFieldMap;
  rules: PathRules;
  snapshotTime: Date;
  /** Items the repository holds damaged: filled here (once per key), reported by the job. */
  damaged: { key: string; reason: string }[];
  /** Where entries of unknown size are measured (TAR); removed by the job. */
  spoolDir: string;
  run: JobRun;
  /** The stream being consumed now, so a failed write can unblock it. */
  setCurrent(stream: Readable | undefined): void;
}

/** Writes the plugin's entries; returns how many items (not entries) went into them. */
export async function writeShapedEntries(x: ShapedExport): Promise<number> {
  const { run, reader, params, archive, names } = x;
  const { signal, progress } = run;
  const exportArchive = x.plugin.exportArchive as NonNullable<ServicePlugin['exportArchive']>;
  const damagedKeys = new Set<string>();
  // Damaged items of earlier parts of a multi-object export are theirs, not this part's.
  const damagedBefore = x.damaged.length;
  // Items exported: a plugin may read the selection more than once, so the largest pass counts.
  let selected = 0;
  let deleted = 0;

  const asExportItem = (item: ItemEntry): ExportItem => ({
    key: item.key,
    kind: item.kind,
    size: item.size,
    ...(item.meta ? { meta: item.meta } : {}),
    async open() {
      const checked = await checkedContent(reader, item);
      if ('damaged' in checked) {
        if (!damagedKeys.has(item.key)) {
          damagedKeys.add(item.key);
          x.damaged.push({ key: item.key, reason: checked.damaged });
        }
        return undefined;
      }
      return checked.content();
    },
  });

  const items = async function* (): AsyncGenerator<ExportItem> {
    let n = 0;
    for await (const item of selectedItems(reader, params.selection, signal, x.fields, x.rules)) {
      if (item.kind === 'folder') continue;
      selected = Math.max(selected, ++n);
      progress.items = Math.max(progress.items, selected + deleted);
      yield asExportItem(item);
    }
  };
  const wanted = matcher(params.selection, x.fields, x.rules);
  const deletedItems = async function* (): AsyncGenerator<ExportItem> {
    await reader.repo.loadIndex();
    let n = 0;
    for await (const item of itemsGoneSince(reader.repo, reader, signal)) {
      if (item.kind === 'folder' || !wanted(item)) continue;
      deleted = Math.max(deleted, ++n);
      yield asExportItem(item);
    }
  };

  const entries = exportArchive({
    entity: { externalId: x.source.entity.externalId, name: x.source.entity.name, kind: x.source.entity.kind },
    snapshotTime: x.snapshotTime,
    items,
    item: async (key) => {
      const found = await reader.item(key);
      return found && found.kind !== 'folder' ? { ...asExportItem(found), selected: wanted(found) } : undefined;
    },
    deletedItems,
    options: params.options,
    signal,
    step: (text) => {
      progress.step = text.slice(0, 200);
    },
    log: run.log,
  });
  for await (const entry of entries) {
    signal.throwIfAborted();
    const name = names.name(entry.path);
    progress.step = `writing ${name}`.slice(0, 200);
    const mtime = entry.mtime && entry.mtime.getUTCFullYear() >= 1980 ? entry.mtime : x.snapshotTime;
    const { stream, size } = await measured(entry, x.params.format === 'tar', x.spoolDir, signal);
    const counted = Readable.from(counting(stream, (n) => (progress.bytes += n)));
    x.setCurrent(counted);
    await archive.addFile(name, size, mtime, counted);
    x.setCurrent(undefined);
  }
  const damaged = x.damaged.length - damagedBefore;
  if (selected + deleted === 0 && damaged === 0 && !isEverything(params.selection)) {
    throw new Error(`nothing in the snapshot matches ${describeSelection(params.selection)}`);
  }
  return selected + deleted - damaged;
}

async function* counting(
  stream: AsyncIterable<unknown> | Iterable<unknown>,
  add: (n: number) => void,
): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    add(buffer.byteLength);
    yield buffer;
  }
}

/** The entry's content and its size: known, or (TAR) measured by spooling it to a file first. */
async function measured(
  entry: ExportEntry,
  sizeFirst: boolean,
  spoolDir: string,
  signal: AbortSignal,
): Promise<{ stream: AsyncIterable<unknown> | Iterable<unknown>; size: number | undefined }> {
  const { content } = entry;
  if (typeof content === 'string' || content instanceof Uint8Array) {
    const bytes = Buffer.from(content);
    return { stream: [bytes], size: bytes.byteLength };
  }
  if (entry.size !== undefined || !sizeFirst) return { stream: content, size: entry.size };
  await mkdir(spoolDir, { recursive: true });
  const file = join(spoolDir, `entry-${randomUUID()}`);
  await pipeline(Readable.from(content), createWriteStream(file, { mode: 0o600 }), { signal });
  const size = (await stat(file)).size;
  const stream = createReadStream(file);
  stream.on('close', () => {
    rm(file, { force: true }).catch(() => undefined);
  });
  return { stream, size };
}
