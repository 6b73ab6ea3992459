// A scheduled verification run: the whole structure (every index file, snapshot tree and pack
// header, as `verify` checks it) plus a rotating sample of packs read back and authenticated. A
// pack's turn is fixed by its id's hash, so with `percent` per run every pack is read once in
// every ceil(100 / percent) runs — whatever packs come and go in between. When damage is found
// the run says exactly what is lost: the items of each snapshot whose content (or tree node)
// cannot be read from any copy, and which repair fits (`rebuild-index`, `repair snapshots`).
import { createHash } from 'node:crypto';
import { describeRange, itemsPastDamage } from './damaged-items.ts';
import type { Repository } from './repository.ts';
import { type VerifyReport, verifyRepository } from './verify.ts';

export interface ScheduledVerifyOptions {
  /** Share of packs read back per run, 1–100. */
  samplePercent: number;
  /** This run's number (0, 1, 2, …): which share of the packs is read. */
  run: number;
  onProgress?: (message: string) => void;
}

export interface LostInSnapshot {
  snapshot: string;
  task: string;
  entity: string;
  time: string;
  /** Keys of the items whose content cannot be read from any copy. */
  items: string[];
  /** Ranges of items under tree nodes that cannot be read. */
  ranges: string[];
}

export interface ScheduledVerifyReport {
  verify: VerifyReport;
  /** Runs after which every pack has been read once. */
  cycle: number;
  /** What is lost, by snapshot (empty when nothing is). */
  lost: LostInSnapshot[];
  /** Snapshots whose manifest cannot be read at all. */
  unreadableSnapshots: string[];
  /** The repository repair commands that fit what was found. */
  repairs: ('rebuild-index' | 'repair snapshots')[];
}

/** Runs after which a sample of `percent` per run has read every pack. */
export const cycleOf = (percent: number): number => Math.ceil(100 / Math.max(1, Math.min(100, percent)));

/** The packs of this run's share: those whose id hashes to `run` modulo the cycle. */
export function rotatingSample(ids: string[], percent: number, run: number): string[] {
  const cycle = cycleOf(percent);
  const turn = ((run % cycle) + cycle) % cycle;
  return ids.filter((id) => createHash('sha256').update(id).digest().readUInt32BE(0) % cycle === turn);
}

export async function verifyOnSchedule(
  repo: Repository,
  options: ScheduledVerifyOptions,
): Promise<ScheduledVerifyReport> {
  const verify = await verifyRepository(repo, {
    choosePacks: (ids) => rotatingSample(ids, options.samplePercent, options.run),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const report: ScheduledVerifyReport = {
    verify,
    cycle: cycleOf(options.samplePercent),
    lost: [],
    unreadableSnapshots: [],
    repairs: [],
  };
  if (verify.problems.length === 0) return report;

  // The index files hold which blobs the missing packs had; a blob with a copy in a pack that is
  // there (named by an index file or found by its trailer) is read from it, so it is not lost.
  const lost = new Set(verify.lostBlobs);
  const missing = new Set(verify.missingPacks);
  if (missing.size) {
    const packs = [...repo.recoveredPacks.values()];
    for await (const info of repo.sink.list('index/')) {
      const file = await repo.readIndexFile(info.key).catch(() => undefined);
      packs.push(...(file?.packs ?? []));
    }
    const elsewhere = new Set<string>();
    for (const pack of packs) if (!missing.has(pack.id)) for (const blob of pack.blobs) elsewhere.add(blob.id);
    for (const pack of packs)
      if (missing.has(pack.id)) for (const blob of pack.blobs) if (!elsewhere.has(blob.id)) lost.add(blob.id);
  }
  const snapshots = await repo.listSnapshots({ onDamaged: (d) => report.unreadableSnapshots.push(d.id) });
  if (lost.size) {
    for (const { id, manifest } of snapshots) {
      const entry: LostInSnapshot = {
        snapshot: id,
        task: manifest.task,
        entity: manifest.entity,
        time: manifest.time,
        items: [],
        ranges: [],
      };
      for await (const item of itemsPastDamage(repo, manifest, (range) => entry.ranges.push(describeRange(range))))
        if ((item.content ?? []).some((blob) => lost.has(blob))) entry.items.push(item.key);
      if (entry.items.length || entry.ranges.length) report.lost.push(entry);
    }
  }
  // An unreadable index file or an unindexed pack a snapshot needs: the index is rebuilt from the
  // packs' trailers. Lost items or unreadable manifests: the snapshots are repaired.
  if (verify.problems.some((p) => p.object.startsWith('index/') || /no index file names it/.test(p.message)))
    report.repairs.push('rebuild-index');
  if (report.lost.length || report.unreadableSnapshots.length) report.repairs.push('repair snapshots');
  return report;
}
