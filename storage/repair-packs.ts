// `repair packs <id>…`, after restic's: the blobs of a damaged pack (a flipped byte, a truncated
// or missing pack, a damaged tar header) that still read and authenticate are stored again in new
// packs, the index files that named the pack are written again without it, and the pack is
// removed. The blobs that did not read are then named by no index, so no backup deduplicates
// against them (it stores them afresh) and `repair snapshots` drops the items that used them.
// The caller holds the exclusive lock; the Repository object is stale afterwards (reopen it).
import { IntegrityError } from './crypto.ts';
import { isDamage } from './damaged-items.ts';
import { type PackedBlob, packKey } from './pack.ts';
import { type IndexFile, listPacks, type Repository } from './repository.ts';

export interface RepairPacksReport {
  packs: { id: string; salvaged: number; lost: { id: string; reason: string }[] }[];
  /** Packs neither in the repository nor named by a readable index file. */
  absent: string[];
  indexFilesRewritten: number;
}

export async function repairPacks(
  repo: Repository,
  ids: string[],
  options: { onProgress?: (message: string) => void } = {},
): Promise<RepairPacksReport> {
  const say = options.onProgress ?? (() => undefined);
  const wanted = new Set(ids);
  await repo.loadIndex();
  // What each pack held, from every readable index file that names it (else its trailer).
  const held = new Map<string, PackedBlob[]>();
  const naming = new Map<string, IndexFile>();
  for await (const info of repo.sink.list('index/')) {
    let file: IndexFile;
    try {
      file = await repo.readIndexFile(info.key);
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      continue; // unreadable: its packs are indexed from their trailers (rebuild-index replaces it)
    }
    const named = file.packs.filter((p) => wanted.has(p.id));
    if (!named.length) continue;
    naming.set(info.key, file);
    for (const p of named) held.set(p.id, [...(held.get(p.id) ?? []), ...p.blobs]);
  }
  const present = await listPacks(repo.sink);
  const report: RepairPacksReport = { packs: [], absent: [], indexFilesRewritten: 0 };
  for (const id of wanted) {
    if (held.has(id)) continue;
    const size = present.get(id);
    // Already gone (prune removes a damaged pack once its blobs are stored elsewhere): nothing to do.
    if (size === undefined) report.absent.push(id);
    else held.set(id, await repo.readPackIndex(id, size));
  }

  for (const [id, blobs] of held) {
    say(`salvaging pack ${id} (${blobs.length} blobs)`);
    const result = { id, salvaged: 0, lost: [] as { id: string; reason: string }[] };
    const seen = new Set<string>();
    for (const blob of blobs) {
      if (seen.has(blob.id)) continue;
      seen.add(blob.id);
      try {
        await repo.saveBlob(blob.kind, await repo.readBlob(blob.id), { force: true });
        result.salvaged++;
      } catch (err) {
        if (!isDamage(err)) throw err;
        result.lost.push({ id: blob.id, reason: err.message });
      }
    }
    report.packs.push(result);
  }
  // New packs and their index file first, then the old index files without the packs: the
  // repository never lacks an index of a salvaged blob.
  await repo.flush();
  for (const [key, file] of naming) {
    const packs = file.packs.filter((p) => !wanted.has(p.id));
    if (packs.length) await repo.writeIndexFile({ version: 1, packs });
    await repo.sink.delete(key);
    report.indexFilesRewritten++;
  }
  for (const id of wanted) if (present.has(id)) await repo.sink.delete(packKey(id));
  await repo.forgetDamageIn(wanted);
  return report;
}
