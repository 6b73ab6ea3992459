// Blob index benchmark: BENCH_INDEX_BLOBS (2,000,000) random ids inserted (16 blobs a pack, as
// with 1 MiB chunks in 16 MiB packs), then BENCH_INDEX_LOOKUPS (200,000) lookups, half of ids
// present; the on-disk index (storage/blob-index.ts) next to the in-memory one it replaced
// (bench/memory-blob-index.ts), each in its own process. Prints ns per insert and per lookup,
// heap + array buffer bytes per blob after a full collection, and peak RSS.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { BlobIndex } from '../storage/blob-index.ts';
import { BlobIndex as MemoryBlobIndex } from './memory-blob-index.ts';

const BLOBS = Number(process.env.BENCH_INDEX_BLOBS ?? 2_000_000);
const LOOKUPS = Number(process.env.BENCH_INDEX_LOOKUPS ?? 200_000);
const BATCH = 4096;

const idOf = (n: number) => createHash('sha256').update(`blob ${n}`).digest('hex');
const packOf = (n: number) =>
  createHash('sha256')
    .update(`pack ${n >> 4}`)
    .digest('hex');

interface Figures {
  kind: string;
  insertNs: number;
  /** The slowest batch of BATCH inserts (one of them writes out and merges the most runs). */
  slowestBatchMs: number;
  lookupNs: number;
  found: number;
  bytesPerBlob: number;
  peakRssMiB: number;
}

function measure(kind: 'disk' | 'memory' | 'none'): Figures {
  const gc = globalThis.gc as () => void;
  gc();
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = used();
  // 'none': the ids alone, for the process's own share of peak RSS (hashing garbage included).
  const index = kind === 'disk' ? new BlobIndex() : kind === 'memory' ? new MemoryBlobIndex() : { set() {}, get() {} };
  let insertNs = 0n;
  let slowest = 0n;
  // Ids are made outside the timed part (hashing costs more than an insert).
  for (let first = 0; first < BLOBS; first += BATCH) {
    const batch: { id: string; pack: string; n: number }[] = [];
    for (let n = first; n < Math.min(BLOBS, first + BATCH); n++) batch.push({ id: idOf(n), pack: packOf(n), n });
    const start = process.hrtime.bigint();
    for (const { id, pack, n } of batch)
      index.set(id, {
        pack,
        kind: 'data',
        offset: (n % 16) * 1_048_600,
        length: 1_048_600,
        rawLength: 1_048_576,
        codec: 2,
      });
    const took = process.hrtime.bigint() - start;
    insertNs += took;
    if (took > slowest) slowest = took;
  }
  gc();
  const bytesPerBlob = (used() - before) / BLOBS;
  const ids: string[] = [];
  for (let i = 0; i < LOOKUPS; i++) ids.push(idOf(i % 2 ? Math.floor(Math.random() * BLOBS) : BLOBS + i));
  let found = 0;
  const start = process.hrtime.bigint();
  for (const id of ids) if (index.get(id)) found++;
  const lookupNs = Number(process.hrtime.bigint() - start) / LOOKUPS;
  return {
    kind,
    insertNs: Number(insertNs) / BLOBS,
    slowestBatchMs: Number(slowest) / 1e6,
    lookupNs,
    found,
    bytesPerBlob,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

const kind = process.argv[2];
if (kind === 'disk' || kind === 'memory' || kind === 'none') {
  process.stdout.write(`${JSON.stringify(measure(kind))}\n`);
} else {
  console.log(`blob index: ${BLOBS} ids inserted, ${LOOKUPS} lookups (half present)`);
  for (const which of ['none', 'memory', 'disk']) {
    const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), which], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.status !== 0) throw new Error(`${which} run failed (${child.status})`);
    const f = JSON.parse(child.stdout) as Figures;
    if (f.kind === 'none') {
      console.log(`  ids alone: peak RSS ${f.peakRssMiB.toFixed(0)} MiB (the process and its id hashing)`);
      continue;
    }
    console.log(
      `  ${f.kind === 'disk' ? 'on disk  ' : 'in memory'}: insert ${f.insertNs.toFixed(0)} ns, lookup ${(f.lookupNs / 1000).toFixed(1)} µs ` +
        `(${f.found} found), slowest ${BATCH} inserts ${f.slowestBatchMs.toFixed(0)} ms, ${f.bytesPerBlob.toFixed(1)} bytes/blob heap+arrayBuffers, peak RSS ${f.peakRssMiB.toFixed(0)} MiB`,
    );
  }
}
