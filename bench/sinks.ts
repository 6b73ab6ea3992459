// Sink throughput on loopback: every sink against its local stand-in (local disk; s3rver; azurite;
// the GCS JSON API stand-in), packs of 4, 16 and 64 MiB uploaded and read back, each run in its own
// process: MB/s, objects/s, requests per operation and the run's peak RSS. Then one large object
// (BENCH_STREAM_MIB, default 5 GiB) streamed through the S3 and Azure sinks, for their memory
// bound. The stand-ins run in other processes (the GCS one in this one), so the figures measure
// the sinks' client side plus a loopback server, not a cloud store.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeGcs } from '../tests/fakes/gcs-json-api.ts';
import { AZURITE_ACCOUNT, startAzurite } from '../tests/helpers/azurite.ts';
import { repoRoot } from '../tests/helpers/process.ts';
import { S3RVER_CREDENTIALS, startS3rver } from '../tests/helpers/s3rver.ts';

const totalMiB = Number(process.env.BENCH_SINK_MIB ?? 256);
const streamMiB = Number(process.env.BENCH_STREAM_MIB ?? 5 * 1024);

function runWorker(job: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bench/sink-worker.ts', JSON.stringify(job)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').at(-1) as string))
        : reject(new Error(`worker exited ${code}`)),
    );
  });
}

const f = (n: unknown, digits = 1) => (typeof n === 'number' ? n.toFixed(digits) : '-').padStart(8);

export async function benchSinks(): Promise<void> {
  console.log(`\n## Sinks on loopback (${totalMiB} MiB per pack size; stream ${streamMiB} MiB)`);
  const localDir = mkdtempSync(join(tmpdir(), 'holdfast-bench-local-'));
  const [s3, azure, gcs] = await Promise.all([
    startS3rver(['bench']),
    startAzurite(),
    new FakeGcs({ buckets: ['bench'] }).start(),
  ]);
  await azure.createContainer('bench');
  const sinks: { name: string; kind: string; settings: Record<string, unknown> }[] = [
    { name: 'local disk', kind: 'local', settings: { path: localDir } },
    {
      name: 's3 → s3rver',
      kind: 's3',
      settings: { endpoint: s3.endpoint, bucket: 'bench', forcePathStyle: true, ...S3RVER_CREDENTIALS },
    },
    {
      name: 'azure → azurite',
      kind: 'azure',
      settings: { endpoint: azure.endpoint, container: 'bench', ...AZURITE_ACCOUNT },
    },
    { name: 'gcs → JSON API stand-in', kind: 'gcs', settings: { bucket: 'bench', apiEndpoint: gcs.endpoint } },
  ];
  try {
    console.log(
      `${'sink'.padEnd(26)}${'pack'.padStart(6)}  ${'up MB/s'.padStart(8)}${'down MB/s'.padStart(10)}${'up obj/s'.padStart(9)}${'dn obj/s'.padStart(9)}${'RSS MB'.padStart(8)}  requests`,
    );
    for (const sink of totalMiB > 0 ? sinks : []) {
      for (const packMiB of [4, 16, 64]) {
        const before = { ...gcs.requests };
        const r = await runWorker({
          kind: sink.kind,
          settings: sink.settings,
          packMiB,
          count: Math.max(2, Math.round(totalMiB / packMiB)),
        });
        const requests =
          sink.kind === 'gcs'
            ? Object.fromEntries(
                Object.entries(gcs.requests)
                  .map(([k, v]) => [k, v - (before[k] ?? 0)])
                  .filter(([, v]) => v),
              )
            : r.requests;
        console.log(
          `${sink.name.padEnd(26)}${`${packMiB} MiB`.padStart(6)}  ${f(r.upMBs)}${f(r.downMBs).padStart(10)}${f(r.upObjectsPerSec, 2).padStart(9)}${f(r.downObjectsPerSec, 2).padStart(9)}${f(r.peakRssMB, 0)}  ${requests ? JSON.stringify(requests) : '-'}`,
        );
      }
    }
    for (const sink of sinks.filter((s) => s.kind === 's3' || s.kind === 'azure')) {
      const r = await runWorker({ kind: sink.kind, settings: sink.settings, streamMiB });
      console.log(
        `${sink.name}: one ${streamMiB} MiB object streamed up ${f(r.upMBs)} MB/s, down ${f(r.downMBs)} MB/s, peak RSS ${f(r.peakRssMB, 0)} MB  ${JSON.stringify(r.requests ?? {})}`,
      );
    }
  } finally {
    await Promise.all([s3.stop(), azure.stop(), gcs.stop()]);
    rmSync(localDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSinks();
