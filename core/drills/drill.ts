// One restore drill over a repository: a random sample of the items of the given snapshots (each
// entity's latest) is restored into a scratch folder — never to the service — and each restored
// copy is checked: its bytes against the size the snapshot and the catalog record, its SHA-256
// read back from the scratch folder against the one of the bytes the repository delivered (every
// blob of which is authenticated by its GCM tag and id as it is read), and, where the service
// keeps its own content hash (the plugin's `contentHash`), against that. The scratch folder is
// removed at the end, whatever happened. What the drill read from storage is its cost.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EntityManager } from '@mikro-orm/core';
import { isDamage } from '../../storage/damaged-items.ts';
import { displayName } from '../../storage/raw-names.ts';
import type { Repository } from '../../storage/repository.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../storage/tree.ts';
import { contentIdOf } from '../catalog/content-id.ts';
import { CatalogItem, CatalogScope, CatalogVersion } from '../catalog/entities.ts';
import { type ItemFieldMap, itemPath } from '../catalog/item-fields.ts';
import type { ServicePlugin } from '../plugins/service.ts';
import type { DrillFailure } from './entities.ts';
import { Reservoir } from './sample.ts';

export interface DrillTarget {
  /** The entity's name (shown with failures) and its id in the snapshots. */
  entity: { name: string; externalId: string };
  snapshotId: string;
}

export interface DrillInput {
  repo: Repository;
  /** The catalog the restored items are compared with. */
  em: EntityManager;
  taskId: string;
  targets: readonly DrillTarget[];
  sampleSize: number;
  /** Created for the drill and removed after it. */
  scratchDir: string;
  fields: ItemFieldMap;
  contentHash?: ServicePlugin['contentHash'];
  random?: () => number;
  signal?: AbortSignal;
}

export interface DrillReport {
  snapshots: number;
  items: number;
  bytes: number;
  storageBytesRead: number;
  failures: DrillFailure[];
}

interface Sampled {
  target: DrillTarget;
  reader: SnapshotReader;
  item: ItemEntry;
}

export async function runDrill(input: DrillInput): Promise<DrillReport> {
  const { repo } = input;
  const readBefore = repo.stats.bytesRead;
  const failures: DrillFailure[] = [];
  const sample = new Reservoir<Sampled>(input.sampleSize, input.random);
  let snapshots = 0;
  for (const target of input.targets) {
    input.signal?.throwIfAborted();
    try {
      const reader = await SnapshotReader.open(repo, target.snapshotId);
      for await (const item of reader.items()) if (item.kind !== 'folder') sample.offer({ target, reader, item });
      snapshots++;
    } catch (err) {
      if (!isDamage(err)) throw err;
      failures.push({ entity: target.entity.name, item: '(the item list)', reason: `cannot be read: ${err.message}` });
    }
  }
  await mkdir(input.scratchDir, { recursive: true });
  let bytes = 0;
  try {
    let n = 0;
    for (const sampled of sample.items) {
      input.signal?.throwIfAborted();
      const file = join(input.scratchDir, String(n++));
      const problem = await restoreAndCheck(input, sampled, file);
      if (problem) {
        failures.push({
          entity: sampled.target.entity.name,
          item: itemPath(sampled.item, input.fields),
          reason: problem,
        });
      } else {
        bytes += sampled.item.size;
      }
      await rm(file, { force: true });
    }
  } finally {
    await rm(input.scratchDir, { recursive: true, force: true });
  }
  return {
    snapshots,
    items: sample.items.length,
    bytes,
    storageBytesRead: repo.stats.bytesRead - readBefore,
    failures,
  };
}

/** Restores one item into `file` and checks it; the reason it fails, or null. */
async function restoreAndCheck(
  input: DrillInput,
  { target, reader, item }: Sampled,
  file: string,
): Promise<string | null> {
  const delivered = createHash('sha256');
  const expectedServiceHash = input.contentHash && item.meta?.[input.contentHash.field];
  const service = typeof expectedServiceHash === 'string' ? input.contentHash?.create() : undefined;
  let written = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      delivered.update(chunk);
      service?.update(chunk);
      written += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(reader.content(item), tap, createWriteStream(file), { signal: input.signal });
  } catch (err) {
    if (!isDamage(err)) throw err;
    return `the backup's copy is damaged: ${err.message}`;
  }
  if (written !== item.size) return `restored ${written} bytes, the backup records ${item.size}`;
  const onDisk = createHash('sha256');
  for await (const chunk of createReadStream(file)) onDisk.update(chunk as Buffer);
  const deliveredHash = delivered.digest('hex');
  if (onDisk.digest('hex') !== deliveredHash) return 'the restored copy differs from what the repository delivered';
  if (service && service.digest() !== expectedServiceHash) {
    return "the restored content does not match the service's content hash recorded at backup";
  }
  return catalogProblem(input, target, reader, item);
}

/** The catalog's record of the item at this snapshot: present, not deleted, of the same size and content. */
async function catalogProblem(
  input: DrillInput,
  target: DrillTarget,
  reader: SnapshotReader,
  item: ItemEntry,
): Promise<string | null> {
  const scope = await input.em.findOne(CatalogScope, {
    repository: input.repo.id,
    task: input.taskId,
    entity: target.entity.externalId,
  });
  const row = scope && (await input.em.findOne(CatalogItem, { scope, key: displayName(item.key) }));
  if (!row) return 'the catalog has no record of this item';
  const [version] = await input.em.find(
    CatalogVersion,
    { item: row, snapshot: { time: { $lte: new Date(reader.manifest.time) } } },
    { orderBy: { snapshot: { time: 'desc' } }, limit: 1 },
  );
  if (!version || version.deleted) return 'the catalog records this item as deleted at this backup';
  if (version.size !== item.size)
    return `the catalog records ${version.size} bytes, the restored copy has ${item.size}`;
  // The restore read every blob back through the repository, which checks each against its id:
  // the restored bytes are the content these ids name. Versions indexed before content ids
  // were recorded have none, and are compared by size alone.
  if (version.contentId && version.contentId !== contentIdOf(item))
    return 'the catalog records other content for this item than the backup holds';
  return null;
}
