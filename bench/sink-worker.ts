// One sink benchmark run in its own process (so its peak RSS is its own):
//   node bench/sink-worker.ts '<json>'   with {kind, settings, packMiB, count} or {kind, settings, streamMiB}
// Packs mode uploads `count` packs of `packMiB` (two at a time, as the repository does), then reads
// them back; stream mode streams one object of `streamMiB` in and out, generated and hashed on the
// fly. Prints one JSON line of figures.
import { createCipheriv, createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { sinkPlugin } from '../core/plugins/registry.ts';
import type { Sink } from '../core/plugins/sink.ts';

interface Job {
  kind: string;
  settings: Record<string, unknown>;
  packMiB?: number;
  count?: number;
  streamMiB?: number;
}

const MiB = 1024 * 1024;
const job = JSON.parse(process.argv[2] as string) as Job;

/** Incompressible bytes from AES-CTR, generated as read. */
function generated(bytes: number, seed: string): Readable {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

async function drain(stream: Readable): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length;
  return n;
}

const plugin = sinkPlugin(job.kind);
if (!plugin) throw new Error(`unknown sink ${job.kind}`);
const prefix = `bench-${randomUUID()}`;
const sink: Sink = await plugin.create(plugin.settings.parse({ ...job.settings, prefix }));
const result: Record<string, unknown> = { kind: job.kind };

if (job.streamMiB) {
  const bytes = job.streamMiB * MiB;
  let t = performance.now();
  await sink.put('data/stream', generated(bytes, 'stream'), { contentLength: bytes });
  result.upMBs = bytes / 1e6 / ((performance.now() - t) / 1000);
  t = performance.now();
  const read = await drain(await sink.get('data/stream'));
  if (read !== bytes) throw new Error(`read ${read} of ${bytes} bytes`);
  result.downMBs = bytes / 1e6 / ((performance.now() - t) / 1000);
  await sink.delete('data/stream');
} else {
  const size = (job.packMiB as number) * MiB;
  const count = job.count as number;
  const keys = Array.from({ length: count }, (_, i) => `data/${(i % 256).toString(16).padStart(2, '0')}/pack-${i}`);
  let t = performance.now();
  for (let i = 0; i < count; i += 2) {
    await Promise.all(
      keys.slice(i, i + 2).map((k) => sink.put(k, generated(size, k), { ifAbsent: true, contentLength: size })),
    );
  }
  const up = (performance.now() - t) / 1000;
  t = performance.now();
  for (let i = 0; i < count; i += 2) {
    await Promise.all(keys.slice(i, i + 2).map(async (k) => drain(await sink.get(k))));
  }
  const down = (performance.now() - t) / 1000;
  result.upMBs = (size * count) / 1e6 / up;
  result.downMBs = (size * count) / 1e6 / down;
  result.upObjectsPerSec = count / up;
  result.downObjectsPerSec = count / down;
  for (const k of keys) await sink.delete(k);
}
const requests = (sink as unknown as { requests?: Record<string, number> }).requests;
if (requests) result.requests = requests;
await sink.close();
result.peakRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify(result)}\n`);
