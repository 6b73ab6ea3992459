// `verify`: checks that every snapshot can be restored. Structure: every index file and snapshot
// matches its name, every indexed pack exists with the right size and its own index (which must
// match the pack's name) agreeing, every tree node and
// content blob of every snapshot is indexed (tree nodes are read, so authenticated). Data, with
// readData: whole packs are read back and every blob in them authenticated (GCM tag and id) —
// all packs, or a random share of them; a damaged copy is named, with the good copy read instead
// when the repository holds one. Packs no index file names are cross-checked against
// their trailers: those a snapshot needs are problems (`rebuild-index` heals them), the others
// are orphans a crashed backup left (reported with their size: the next backup reuses their
// blobs, prune removes them). Stale locks are reported too.
import { blobId, IntegrityError, unseal } from './crypto.ts';
import { inspectLocks, type StaleLock } from './locks.ts';
import { damagedTarHeader, packKey } from './pack.ts';
import { damagedKeys, listPacks, type Repository } from './repository.ts';
import { snapshotItems, snapshotTrees } from './snapshot-state.ts';
import { readAll } from './streams.ts';
import { treeNodeIds } from './tree.ts';

export interface VerifyProblem {
  /** The object at fault: "pack <id>", "snapshot <id>", "index/<id>", "blob <id>". */
  object: string;
  message: string;
}

export interface VerifyReport {
  problems: VerifyProblem[];
  snapshots: number;
  packs: number;
  packsRead: number;
  blobsChecked: number;
  /** Packs no index file names and no snapshot needs (a crashed backup's), with their size. */
  orphanPacks: { id: string; size: number }[];
  /** Locks whose owner is gone (`holdfast repo unlock` removes them). */
  staleLocks: StaleLock[];
  /** Packs read back whose tar structure is damaged at `offset` (no blob is: they are read by offset). */
  damagedTarHeaders: { pack: string; offset: number }[];
  /** Indexed packs missing from storage, and blobs read back damaged with no good copy elsewhere. */
  missingPacks: string[];
  lostBlobs: string[];
}

export interface VerifyOptions {
  /** Share of packs to read back in full, 0–100 (0: structure only), chosen at random. */
  readDataPercent?: number;
  /** Chooses the packs to read back instead (a scheduled run's rotating sample). */
  choosePacks?: (ids: string[]) => string[];
  onProgress?: (message: string) => void;
}

const describeError = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function verifyRepository(repo: Repository, options: VerifyOptions = {}): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  const report: VerifyReport = {
    problems,
    snapshots: 0,
    packs: 0,
    packsRead: 0,
    blobsChecked: 0,
    orphanPacks: [],
    staleLocks: [],
    damagedTarHeaders: [],
    missingPacks: [],
    lostBlobs: [],
  };
  const say = options.onProgress ?? (() => undefined);

  // Index files → expected packs and blobs.
  say('reading index files');
  const expectedPacks = new Map<string, { size: number; blobs: { id: string; offset: number; length: number }[] }>();
  for await (const info of repo.sink.list('index/')) {
    try {
      const file = await repo.readIndexFile(info.key);
      for (const pack of file.packs) expectedPacks.set(pack.id, { size: pack.size, blobs: pack.blobs });
    } catch (err) {
      problems.push({
        object: info.key,
        message: `${describeError(err)} (its packs are read from their trailers; \`holdfast repo rebuild-index\` replaces it)`,
      });
    }
  }
  await repo.loadIndex().catch((err) => problems.push({ object: 'index', message: describeError(err) }));
  for (const key of await damagedKeys(repo.sink))
    problems.push({
      object: key,
      message: `does not match its name (damaged): it opens nothing; \`holdfast repo key remove ${key.slice('keys/'.length)}\` removes it, \`key add\` adds a passphrase again`,
    });

  // Packs in the sink vs. packs in the indexes.
  say('checking packs');
  const present = await listPacks(repo.sink);
  for (const [id, expected] of expectedPacks) {
    report.packs++;
    const size = present.get(id);
    if (size === undefined) {
      problems.push({ object: `pack ${id}`, message: 'is listed in an index but missing from storage' });
      report.missingPacks.push(id);
      continue;
    }
    if (size !== expected.size) {
      problems.push({ object: `pack ${id}`, message: `has ${size} bytes, the index says ${expected.size}` });
      continue;
    }
    try {
      const own = await repo.readPackIndex(id, size);
      const ownIds = new Set(own.map((b) => `${b.id}@${b.offset}+${b.length}`));
      const missing = expected.blobs.filter((b) => !ownIds.has(`${b.id}@${b.offset}+${b.length}`));
      if (missing.length)
        problems.push({ object: `pack ${id}`, message: `its trailer does not list ${missing.length} indexed blob(s)` });
    } catch (err) {
      problems.push({ object: `pack ${id}`, message: describeError(err) });
    }
  }

  // Packs no index file names: their trailers say what they hold.
  const unnamed = new Map<string, { size: number; blobs: { id: string; offset: number; length: number }[] }>();
  for (const [id, size] of present) {
    if (expectedPacks.has(id)) continue;
    try {
      unnamed.set(id, { size, blobs: repo.recoveredPacks.get(id)?.blobs ?? (await repo.readPackIndex(id, size)) });
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      problems.push({ object: `pack ${id}`, message: `is named by no index file and ${describeError(err)}` });
    }
  }
  /** Unnamed packs that hold a blob a snapshot needs. */
  const needed = new Set<string>();
  const located = (blob: string) => {
    const at = repo.locate(blob);
    if (at && !expectedPacks.has(at.pack)) needed.add(at.pack);
    return at;
  };

  // Snapshots: every node and content blob reachable and indexed.
  say('checking snapshots');
  for await (const info of repo.sink.list('snapshots/')) {
    const id = info.key.slice('snapshots/'.length);
    report.snapshots++;
    try {
      const manifest = await repo.loadSnapshot(id);
      for (const tree of snapshotTrees(manifest)) {
        for await (const node of treeNodeIds(repo, tree)) {
          if (!located(node)) problems.push({ object: `snapshot ${id}`, message: `tree node ${node} is not indexed` });
        }
      }
      for await (const item of snapshotItems(repo, manifest)) {
        for (const blob of item.content ?? []) {
          if (!located(blob))
            problems.push({
              object: `snapshot ${id}`,
              message: `item ${JSON.stringify(item.key)} needs blob ${blob}, which is not indexed`,
            });
        }
      }
    } catch (err) {
      problems.push({ object: `snapshot ${id}`, message: describeError(err) });
    }
  }

  for (const [id, pack] of unnamed) {
    if (needed.has(id))
      problems.push({
        object: `pack ${id}`,
        message: 'holds blobs snapshots use, but no index file names it (`holdfast repo rebuild-index` indexes it)',
      });
    else report.orphanPacks.push({ id, size: pack.size });
    expectedPacks.set(id, pack);
  }
  report.staleLocks = (await inspectLocks(repo.sink)).stale;

  // Data: read packs back whole.
  const percent = Math.max(0, Math.min(100, options.readDataPercent ?? 0));
  if (percent > 0 || options.choosePacks) {
    const ids = [...expectedPacks.keys()].filter((id) => present.get(id) === expectedPacks.get(id)?.size);
    const chosen = options.choosePacks
      ? options.choosePacks(ids)
      : percent >= 100
        ? ids
        : ids.filter(() => Math.random() * 100 < percent);
    say(`reading ${chosen.length} of ${ids.length} packs`);
    const damaged: { id: string; pack: string; message: string }[] = [];
    for (const id of chosen) {
      report.packsRead++;
      let bytes: Buffer;
      try {
        bytes = await readAll(await repo.sink.get(packKey(id)));
      } catch (err) {
        problems.push({ object: `pack ${id}`, message: describeError(err) });
        continue;
      }
      if (bytes.length !== expectedPacks.get(id)?.size) {
        problems.push({
          object: `pack ${id}`,
          message: `read ${bytes.length} bytes, expected ${expectedPacks.get(id)?.size}`,
        });
      }
      const header = damagedTarHeader(bytes);
      if (header !== undefined) report.damagedTarHeaders.push({ pack: id, offset: header });
      for (const blob of expectedPacks.get(id)?.blobs ?? []) {
        report.blobsChecked++;
        try {
          const plain = await unseal(
            repo.keys.encKey,
            bytes.subarray(blob.offset, blob.offset + blob.length),
            `blob ${blob.id}`,
          );
          if (blobId(repo.keys.idKey, plain) !== blob.id)
            damaged.push({ id: blob.id, pack: id, message: `in pack ${id} has the wrong content` });
        } catch (err) {
          damaged.push({ id: blob.id, pack: id, message: `in pack ${id}: ${describeError(err)}` });
        }
      }
    }
    // Recorded, so the next backup stores such content again (Repository.recordDamaged).
    await repo.recordDamaged(damaged.map((d) => ({ id: d.id, pack: d.pack, reason: d.message })));
    // A damaged copy is still named, but a blob with a good copy elsewhere is not lost.
    for (const bad of damaged) {
      const good = await goodCopy(repo, bad.id);
      const message = good && good !== bad.pack ? `${bad.message}; a good copy in pack ${good} is used` : bad.message;
      if (!good || good === bad.pack) report.lostBlobs.push(bad.id);
      problems.push({ object: `blob ${bad.id}`, message });
    }
  }
  return report;
}

/** The pack a blob is read from, when some copy of it reads and authenticates. */
async function goodCopy(repo: Repository, id: string): Promise<string | undefined> {
  try {
    await repo.readBlob(id);
    return repo.locate(id)?.pack;
  } catch (err) {
    if (err instanceof IntegrityError) return undefined;
    throw err;
  }
}
