// Salesforce backup benchmark: the 1M-record org (BENCH_SF_OBJECTS = 200 objects of
// BENCH_SF_RECORDS / objects rows, 20 files) on the loopback stand-in, backed up by the appliance
// as a real process (jobs in worker threads, default tuning: REST below 10 000 rows), then 0.5 %
// of the rows changed and backed up again. The stand-in adds BENCH_SF_LATENCY_MS (default 100) to
// every API call, a real org's round trip. Prints per run: records/s, API calls by kind, bytes the
// repository grew by, the appliance's peak RSS (VmHWM), and the share of the run's wall time the
// stand-in had a call open: near 100 % means the run waited on the (simulated) API, not on itself.
// Run again with BENCH_SF_LATENCY_MS=0 to see the appliance's own ceiling.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { changeScaleOrg, FakeSalesforce, seedScaleOrg } from '../tests/fakes/salesforce/index.ts';
import { tempDir } from '../tests/helpers/config.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../tests/helpers/process.ts';
import { salesforceAppEnv, salesforceApplianceTask } from '../tests/helpers/salesforce-appliance.ts';

const OBJECTS = Number(process.env.BENCH_SF_OBJECTS ?? 200);
const RECORDS = Number(process.env.BENCH_SF_RECORDS ?? 1_000_000);
const LATENCY_MS = Number(process.env.BENCH_SF_LATENCY_MS ?? 100);
const MiB = 1024 * 1024;

async function storedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && path.includes(`${sep}organizations${sep}`)) total += (await stat(path)).size;
  }
  return total;
}

async function peakRssMiB(p: RunningProcess): Promise<number> {
  const status = await readFile(`/proc/${p.child.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

function calls(fake: FakeSalesforce): string {
  const byRoute = [...fake.requests].filter(([r]) => !r.startsWith('oauth/')).sort((a, b) => b[1] - a[1]);
  return byRoute.map(([r, n]) => `${r} ${n}`).join(', ');
}

export async function benchSalesforce(): Promise<void> {
  console.log(
    `\nSalesforce backup — ${RECORDS} records in ${OBJECTS} objects on the stand-in (${LATENCY_MS} ms a call), then 0.5 % changed`,
  );
  const fake = await new FakeSalesforce({ seed: 11 }).start();
  const dir = tempDir();
  let appliance: RunningProcess | undefined;
  try {
    // Rows made two hours ago: the second run's window (since the first run, minus its 5-minute
    // overlap) then holds only the changes, as it would a day later.
    fake.org.now = () => new Date(Date.now() - 2 * 3600_000);
    const names = seedScaleOrg(fake.org, {
      objects: OBJECTS,
      recordsPerObject: Math.round(RECORDS / OBJECTS),
      files: 20,
    });
    fake.org.now = () => new Date();
    const env = { ...salesforceAppEnv(fake), HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1' };
    const sf = await salesforceApplianceTask(fake, dir.path, env);
    appliance = await startApplianceProcess(baseEnv(dir.path, env));
    fake.latencyMs = LATENCY_MS;

    const run = async (label: string, records: number) => {
      fake.resetCounters();
      fake.busy.reset();
      const before = await storedBytes(dir.path);
      const started = performance.now();
      const ids = await sf.queue();
      for (;;) {
        const states = await Promise.all(ids.map(async (id) => (await sf.job(id)).state));
        if (states.every((s) => s === 'succeeded' || s === 'failed' || s === 'partially_succeeded')) {
          const failed = states.filter((s) => s !== 'succeeded').length;
          if (failed) console.log(`  ${failed} of ${ids.length} jobs did not succeed`);
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      const seconds = (performance.now() - started) / 1000;
      const bytes = (await storedBytes(dir.path)) - before;
      const busy = fake.busy.busyMs / 1000;
      console.log(
        `${label.padEnd(12)} ${seconds.toFixed(1)} s  ${(records / seconds).toFixed(0)} records/s  ${fake.calls} API calls (${calls(fake)})`,
      );
      console.log(
        `${''.padEnd(12)} ${(bytes / MiB).toFixed(2)} MiB stored  peak RSS ${(await peakRssMiB(appliance as RunningProcess)).toFixed(0)} MiB  API busy ${busy.toFixed(1)} s = ${((busy / seconds) * 100).toFixed(0)} % of the run`,
      );
      return { seconds, bytes, calls: fake.calls };
    };

    const first = await run('first run', RECORDS);
    const change = changeScaleOrg(fake.org, names, 0.005);
    const changed = change.updated + change.inserted + change.deleted + change.purged;
    // A minute later, as a scheduled run would be (the stand-in's clock is the real one).
    const second = await run('second run', changed);
    let pages = 1;
    for (const rows of change.changedRows.values()) pages += Math.max(1, Math.ceil(rows / fake.pageSize));
    console.log(
      `second run   ${changed} rows changed: ${second.calls} calls against a bound of 2 × ${sf.entities.size} entities + ${pages} pages = ${2 * sf.entities.size + pages}; stored ${((second.bytes / first.bytes) * 100).toFixed(2)} % of the first run's bytes`,
    );
    await sf.close();
  } finally {
    if (appliance && appliance.child.exitCode === null) {
      appliance.child.kill('SIGTERM');
      await appliance.exited;
    }
    await fake.stop();
    dir.remove();
  }
}

if (import.meta.main) await benchSalesforce();
