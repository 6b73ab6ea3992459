// Record-collection benchmark (the Salesforce shape): BENCH_RECORDS (default 1,000,000) rows of
// ~300 bytes backed up as a layered snapshot, then 0.5% changed and 0.1% deleted and backed up
// again. Prints the bytes each run stored, the time to stream either snapshot's full state, and
// the diff (checked against what was changed).
import { reexecWithMemoryFlags } from '../core/memory-flags.ts';
import { SnapshotReader } from '../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../storage/snapshot-writer.ts';
import { pickChanges, recordId, recordRow } from '../tests/fixtures/records.ts';
import { createTestRepo } from '../tests/helpers/repository.ts';

const N = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const idOf = recordId;
const row = recordRow;

export async function benchRecords(): Promise<void> {
  const t = await createTestRepo({ packSize: 16 * 1024 * 1024 });
  try {
    const opts = { task: 'salesforce', entity: 'Account', mode: 'incremental' as const, layered: true };
    let started = performance.now();
    const w1 = new SnapshotWriter(t.repo, opts);
    for (let i = 0; i < N; i++) await w1.add({ key: idOf(i), kind: 'record' }, row(i, 0));
    const s1 = await w1.commit();
    const firstSeconds = (performance.now() - started) / 1000;
    const firstBytes = t.repo.stats.bytesUploaded;

    const { changed, deleted } = pickChanges(N, 0.005, 0.001);
    const repo = await t.reopen();
    started = performance.now();
    const w2 = new SnapshotWriter(repo, { ...opts, parent: s1.id });
    for (const i of changed) await w2.add({ key: idOf(i), kind: 'record' }, row(i, 1));
    for (const i of deleted) await w2.delete(idOf(i));
    const s2 = await w2.commit();
    const secondSeconds = (performance.now() - started) / 1000;
    const secondBytes = repo.stats.bytesUploaded;

    const stream = async (id: string) => {
      const t0 = performance.now();
      let n = 0;
      for await (const _ of (await SnapshotReader.open(repo, id)).items()) n++;
      return { n, seconds: (performance.now() - t0) / 1000 };
    };
    const full1 = await stream(s1.id);
    const full2 = await stream(s2.id);
    const t0 = performance.now();
    const counts = { added: 0, removed: 0, modified: 0 };
    for await (const c of (await SnapshotReader.open(repo, s1.id)).diff(await SnapshotReader.open(repo, s2.id)))
      counts[c.change]++;
    const diffSeconds = (performance.now() - t0) / 1000;
    const exact = counts.modified === changed.size && counts.removed === deleted.size && counts.added === 0;

    console.log(`\nRecords: ${N} rows (~${Math.round(row(1, 0).length)} bytes), layered snapshots`);
    console.log(
      `first backup        ${firstSeconds.toFixed(1)} s  ${(N / firstSeconds).toFixed(0)} records/s  stored ${(firstBytes / 1048576).toFixed(1)} MiB`,
    );
    console.log(
      `second backup       ${secondSeconds.toFixed(1)} s  ${changed.size} changed, ${deleted.size} deleted  stored ${(secondBytes / 1048576).toFixed(2)} MiB = ${((secondBytes / firstBytes) * 100).toFixed(2)}% of the first`,
    );
    console.log(`full state, first   ${full1.n} items in ${full1.seconds.toFixed(2)} s`);
    console.log(`full state, second  ${full2.n} items in ${full2.seconds.toFixed(2)} s`);
    console.log(
      `peak RSS            ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (V8 flags: ${process.execArgv.join(' ') || 'none'})`,
    );
    console.log(
      `diff                ${counts.modified} modified, ${counts.removed} removed, ${counts.added} added in ${diffSeconds.toFixed(2)} s — ${exact ? 'exactly the changes made' : 'MISMATCH'}`,
    );
  } finally {
    t.cleanup();
  }
}

if (import.meta.main) {
  // Run as a backup process runs: under the repository memory flags (re-executes once).
  reexecWithMemoryFlags();
  await benchRecords();
}
