// Compare benchmark (issue 19, seed 6.1): BENCH_RECORDS (default 1,000,000) Salesforce-like
// records backed up as a layered snapshot, then 0.5 % of them touched — half with a field changed,
// half with only SystemModstamp moved (a field the compare leaves out) — 0.1 % deleted and 0.1 %
// inserted, and backed up again. The two snapshots are compared as the compare job does
// (core/compare/compare-entity.ts with the Salesforce presentation) and the reads counted: the
// blobs the compare reads against those that listing both snapshots' items reads (their trees),
// and the items whose content is decoded. Records of this size are kept inline in the tree
// entries, so an unchanged record is told from its entry alone.

import { compareEntity } from '../core/compare/compare-entity.ts';
import { reexecWithMemoryFlags } from '../core/memory-flags.ts';
import type { ServicePlugin } from '../core/plugins/service.ts';
import { salesforcePresentation } from '../plugins/services/salesforce/presentation.ts';
import { SnapshotReader } from '../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../storage/snapshot-writer.ts';
import { pickChanges, recordId, recordRow } from '../tests/fixtures/records.ts';
import { createTestRepo } from '../tests/helpers/repository.ts';

const N = Number(process.env.BENCH_RECORDS ?? 1_000_000);

function row(i: number, version: number, stamp: string): Buffer {
  return Buffer.from(JSON.stringify({ ...JSON.parse(recordRow(i, version).toString()), SystemModstamp: stamp }));
}

export async function benchSalesforceCompare(): Promise<void> {
  const t = await createTestRepo({ packSize: 16 * 1024 * 1024 });
  try {
    const opts = { task: 'salesforce', entity: 'Account', mode: 'incremental' as const, layered: true };
    const first = '2026-12-01T08:00:00.000+0000';
    const second = '2026-12-02T08:00:00.000+0000';
    const w1 = new SnapshotWriter(t.repo, opts);
    for (let i = 0; i < N; i++) await w1.add({ key: recordId(i), kind: 'record' }, row(i, 0, first));
    const s1 = await w1.commit();

    const { changed: touched, deleted } = pickChanges(N, 0.005, 0.001);
    const edited = new Set([...touched].filter((_, n) => n % 2 === 0));
    const inserted = Math.round(N * 0.001);
    const w2 = new SnapshotWriter(t.repo, { ...opts, parent: s1.id });
    for (const i of touched) await w2.add({ key: recordId(i), kind: 'record' }, row(i, edited.has(i) ? 1 : 0, second));
    for (const i of deleted) await w2.delete(recordId(i));
    for (let i = N; i < N + inserted; i++) await w2.add({ key: recordId(i), kind: 'record' }, row(i, 0, second));
    const s2 = await w2.commit();

    // Blobs read (each authenticated and decrypted): by the compare, and by merely listing both
    // snapshots' items (their trees) — equal when the compare reads nothing but the trees.
    const counted = async () => {
      const repo = await t.reopen();
      const counter = { blobs: 0 };
      const readBlobs = repo.readBlobs.bind(repo);
      repo.readBlobs = async (ids: string[]) => {
        counter.blobs += ids.length;
        return readBlobs(ids);
      };
      return { repo, counter };
    };
    const listing = await counted();
    for (const id of [s1.id, s2.id]) for await (const _ of (await SnapshotReader.open(listing.repo, id)).items());
    const { repo, counter } = await counted();
    const plugin = { presentation: salesforcePresentation } as ServicePlugin;
    const t0 = performance.now();
    const counts = await compareEntity(await SnapshotReader.open(repo, s1.id), await SnapshotReader.open(repo, s2.id), {
      oneRepository: true,
      plugin,
      ignored: new Set(salesforcePresentation.compareIgnoredFields),
      signal: new AbortController().signal,
      onDifference: async () => undefined,
    });
    const seconds = (performance.now() - t0) / 1000;
    const exact =
      counts.changed === edited.size && counts.leftUnique === deleted.size && counts.rightUnique === inserted;

    console.log(
      `\nSalesforce compare: ${N} records, 0.5% touched (half edited, half SystemModstamp only), layered snapshots`,
    );
    console.log(
      `compare             ${seconds.toFixed(2)} s  left ${counts.leftTotal}, right ${counts.rightTotal}: ${counts.leftUnique} only left, ${counts.changed} changed, ${counts.rightUnique} only right — ${exact ? 'exactly the changes made' : 'MISMATCH'}`,
    );
    console.log(
      `reads               ${counter.blobs} blobs (listing both snapshots' trees reads ${listing.counter.blobs}); ${counts.contentReads} items decoded (both versions of the ${touched.size} touched) of ${counts.leftTotal + counts.rightTotal}`,
    );
    console.log(`peak RSS            ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  } finally {
    t.cleanup();
  }
}

if (import.meta.main) {
  reexecWithMemoryFlags();
  await benchSalesforceCompare();
}
