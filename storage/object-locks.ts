// Renewing the locks of a location with immutability (Object Lock, immutability policies, object
// retention): every object still in use gets its lock moved to now + the period before it lapses,
// so what a snapshot needs can never be deleted, even by someone holding the appliance's storage
// credentials. In use: the snapshots (but those forgotten while locked, which are left to lapse),
// the packs holding a blob a snapshot reaches, and the index files naming such a pack. Everything
// else lapses and is then removed by prune. Hold a shared lock (or the exclusive one).

import { packKey } from './pack.ts';
import { markLive } from './prune.ts';
import type { Repository } from './repository.ts';

export interface RenewOptions {
  /** The location's immutability period. */
  periodMs: number;
  /** Locks ending within this are renewed (default: half the period, at least two days). */
  renewWithinMs?: number;
  now?: () => number;
}

export interface RenewReport {
  /** Objects in use whose lock was looked at, and those renewed. */
  checked: number;
  renewed: number;
  /** Objects in use found without a lock (written before immutability was on): locked now. */
  unlocked: number;
}

export async function renewLocks(repo: Repository, options: RenewOptions): Promise<RenewReport> {
  const extend = repo.sink.extendRetention?.bind(repo.sink);
  if (!repo.sink.capabilities.retention || !extend) throw new Error(`${repo.sink.description} has no object locks`);
  const now = options.now ?? Date.now;
  const within = options.renewWithinMs ?? Math.max(options.periodMs / 2, 2 * 86_400_000);
  const report: RenewReport = { checked: 0, renewed: 0, unlocked: 0 };

  const renew = async (key: string) => {
    report.checked++;
    const { retainUntil } = await repo.sink.head(key);
    if (retainUntil && retainUntil.getTime() - now() > within) return;
    if (!retainUntil) report.unlocked++;
    // A lapsed lock on an object in use is set again (the object is still there: nothing deleted it).
    await extend(key, new Date(now() + options.periodMs));
    report.renewed++;
  };

  await repo.loadIndex();
  const forgetting = await repo.forgettingSnapshots();
  const damaged: string[] = [];
  const snapshots = (await repo.listSnapshots({ onDamaged: (d) => damaged.push(d.id) })).filter(
    (s) => !forgetting.has(s.id),
  );
  const files = new Map<string, string[]>();
  for await (const info of repo.sink.list('index/')) {
    if (repo.unreadableIndexFiles.some((f) => f.key === info.key)) files.set(info.key, []);
    else
      files.set(
        info.key,
        (await repo.readIndexFile(info.key)).packs.map((p) => p.id),
      );
  }
  const livePacks = new Set<string>();
  if (damaged.length) {
    // What an unreadable snapshot uses is unknown: everything stays locked (as prune keeps all).
    for (const packs of files.values()) for (const p of packs) livePacks.add(p);
    for (const id of repo.recoveredPacks.keys()) livePacks.add(id);
  } else {
    for (const id of await markLive(
      repo,
      snapshots.map((s) => s.manifest),
    )) {
      const at = repo.locate(id);
      if (at) livePacks.add(at.pack);
    }
  }
  for (const id of [...snapshots.map((s) => s.id), ...damaged.filter((id) => !forgetting.has(id))])
    await renew(`snapshots/${id}`);
  for (const pack of livePacks) await renew(packKey(pack));
  for (const [key, packs] of files) {
    // An unreadable index file names nothing anyone reads: it may lapse.
    if (packs.some((p) => livePacks.has(p))) await renew(key);
  }
  return report;
}
