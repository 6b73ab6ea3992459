// How fast the appliance is ready to serve, as a newcomer's `npm start` would see it:
// cold (fresh data folder: key generation, database creation, migrations) and warm (restart of
// an existing appliance), against a bare `node` process start as the baseline.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { row, summarize } from './stats.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const runs = Number(process.env.BENCH_RUNS ?? 5);

async function timeToServe(dataDir: string, path: string): Promise<{ ms: number; rssMiB: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['core/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOLDFAST_DATA_DIR: dataDir, HOLDFAST_PORT: '0', HOLDFAST_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += String(d);
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  const res = await fetch(`${url}${path}`);
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
  await res.text();
  const ms = performance.now() - started;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { ms, rssMiB: hwm ? Number(hwm[1]) / 1024 : Number.NaN };
}

async function bareNode(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  return performance.now() - started;
}

export async function benchStartup(): Promise<void> {
  const cold: number[] = [];
  const warm: number[] = [];
  const bare: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'holdfast-bench-'));
    try {
      const c = await timeToServe(dir, '/setup');
      cold.push(c.ms);
      const w = await timeToServe(dir, '/setup');
      warm.push(w.ms);
      rss.push(w.rssMiB);
      bare.push(await bareNode());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const b = summarize(bare);
  console.log(`\nStart-up to first page (${runs} runs each, whole process)`);
  console.log(row('bare `node -e ""` (baseline)', b, 'ms'));
  console.log(row('cold start → /setup 200', summarize(cold), 'ms'));
  console.log(row('warm restart → /setup 200', summarize(warm), 'ms'));
  console.log(row('peak RSS after first page', summarize(rss), 'MiB'));
  console.log(
    `ratios to baseline (median): cold ${(summarize(cold).median / b.median).toFixed(1)}x, warm ${(summarize(warm).median / b.median).toFixed(1)}x`,
  );
}

if (import.meta.main) await benchStartup();
