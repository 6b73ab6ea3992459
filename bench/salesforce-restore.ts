// Salesforce restore benchmark (issue 17): BENCH_SF_RESTORE_RECORDS (default 50,000) records in
// account hierarchies — BENCH_SF_RESTORE_ACCOUNTS (10) accounts, each with as many Contacts as
// Opportunities — backed up, deleted at the stand-in, and restored with hierarchy depth 1 as one
// kernel restore job (in this process, as the test harness runs jobs). The stand-in adds
// BENCH_SF_LATENCY_MS (default 100) to every API call of the restore. Prints the restore's time,
// its API calls by route, the process's peak RSS during the restore (VmHWM, reset before it), and
// the share of the restore's wall time the stand-in had a call open ("API busy"), and the CPU time
// the process spent during the restore (the restore and the stand-in serving it, every thread)
// against the API's round trips (calls × latency): the figure that does not stretch when other
// work shares the cores. Run directly, it runs under the appliance's memory settings
// (core/memory-flags.ts: V8 flags and malloc arenas, as the appliance's job workers have).
import { readFile, writeFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { IOrganization } from '../core/identity/entities.ts';
import { Job } from '../core/jobs/entities.ts';
import { reexecWithMemoryFlags } from '../core/memory-flags.ts';
import { startRestore } from '../core/recovery/start.ts';
import { BackupTask, TaskEntity } from '../core/tasks/entities.ts';
import { tuneSalesforce } from '../plugins/services/salesforce/index.ts';
import { seedDemoOrg } from '../tests/fakes/salesforce/index.ts';
import { startContext } from '../tests/helpers/recovery.ts';
import {
  backup,
  createSalesforceHarness,
  discover,
  entity,
  salesforceTask,
} from '../tests/integration/salesforce/harness.ts';

const RECORDS = Number(process.env.BENCH_SF_RESTORE_RECORDS ?? 50_000);
const ACCOUNTS = Number(process.env.BENCH_SF_RESTORE_ACCOUNTS ?? 10);
const LATENCY_MS = Number(process.env.BENCH_SF_LATENCY_MS ?? 100);
/**
 * The stand-in runs in this process and keeps every record the restore creates (~0.85 KiB each):
 * with BENCH_SF_STANDIN_SLIM=1 (the default) it keeps only their Id, so the peak RSS's growth is
 * the restore's own. 0 keeps them whole, as the runs before this option did.
 */
const STANDIN_SLIM = process.env.BENCH_SF_STANDIN_SLIM !== '0';
/**
 * Every this many records the stand-in creates, a full collection and the live heap read: what
 * the restore holds while it writes, without its garbage (0: none). Their CPU is taken out of the
 * CPU figure.
 */
const LIVE_EVERY = Number(process.env.BENCH_SF_LIVE_EVERY ?? 5000);

// A full collection on demand: the live heap before and after the restore tells what stays (the
// stand-in's new records) from what the restore held while it ran.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveHeapMiB = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

/** The restore's own counters (records read into memory at once), where this version of it has them. */
interface RestoreStats {
  pageSize: number;
  peakRecordsHeld: number;
  records: number;
  spoolBytes?: number;
}

async function restoreStats(): Promise<RestoreStats | undefined> {
  try {
    const store = (await import(`../plugins/services/salesforce/${'restore-store.ts'}`)) as {
      lastRestoreStats?: RestoreStats;
    };
    return store.lastRestoreStats;
  } catch {
    return undefined;
  }
}

async function peakRssMiB(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

export async function benchSalesforceRestore(): Promise<void> {
  const perAccount = Math.floor((RECORDS - ACCOUNTS) / ACCOUNTS / 2);
  console.log(
    `\nSalesforce restore — ${ACCOUNTS} deleted accounts with ${perAccount} Contacts and ${perAccount} Opportunities each (${ACCOUNTS * (1 + 2 * perAccount)} records), hierarchy depth 1, ${LATENCY_MS} ms a call${STANDIN_SLIM ? ', the stand-in keeping only the Id of what it creates' : ''}`,
  );
  const s = await createSalesforceHarness();
  try {
    tuneSalesforce({ retry: { attempts: 8, baseDelayMs: 1, maxDelayMs: 5 }, bulkThreshold: 1000, bulkPollMs: 500 });
    const sf = s.fake.org;
    seedDemoOrg(sf, { accounts: 1, contactsPerAccount: 1 });
    const accounts: string[] = [];
    const children: [string, string][] = [];
    for (let a = 0; a < ACCOUNTS; a++) {
      const account = sf.insert('Account', { Name: `Restore Co ${a}`, Industry: 'Retail' });
      accounts.push(account);
      for (let i = 0; i < perAccount; i++) {
        const contact = sf.insert('Contact', {
          Name: `Person ${a}-${i}`,
          FirstName: 'Person',
          LastName: `${a}-${i}`,
          Email: `p${a}.${i}@restore.example`,
          AccountId: account,
        });
        const deal = sf.insert('Opportunity', {
          Name: `Deal ${a}-${i}`,
          StageName: 'Prospecting',
          CloseDate: '2027-01-31',
          Amount: i,
          AccountId: account,
        });
        children.push(['Contact', contact], ['Opportunity', deal]);
      }
    }
    const task = await salesforceTask(s);
    const org = (await s.h.em().findOneOrFail(BackupTask, { id: task.id }, { populate: ['organization'] }))
      .organization as IOrganization;
    await discover(s, task.id);
    const names = (await s.h.em().find(TaskEntity, { task: task.id, kind: 'data' })).map((e) => e.name);
    await backup(s, task.id, names);
    for (const [object, id] of children) sf.delete(object, id);
    for (const id of accounts) sf.delete('Account', id);

    let inserts = 0;
    let livePeak = 0;
    let gcCpu = 0;
    const hook = sf.beforeWrite;
    sf.beforeWrite = (object, values, op) => {
      hook?.(object, values, op);
      if (op !== 'insert') return;
      if (STANDIN_SLIM) for (const key of Object.keys(values)) if (key !== 'Id') delete values[key];
      if (LIVE_EVERY && ++inserts % LIVE_EVERY === 0) {
        const cpu = process.cpuUsage();
        livePeak = Math.max(livePeak, liveHeapMiB());
        const spent = process.cpuUsage(cpu);
        gcCpu += (spent.user + spent.system) / 1e6;
      }
    };
    s.fake.latencyMs = LATENCY_MS;
    s.fake.resetCounters();
    s.fake.busy.reset();
    const heapBefore = liveHeapMiB();
    // Peak RSS of the restore alone: the kernel's counter is reset first (Linux clear_refs 5).
    await writeFile('/proc/self/clear_refs', '5');
    const before = await peakRssMiB();
    // The heap in use, sampled (garbage included): its peak during the restore.
    let heapPeak = 0;
    const sampler = setInterval(() => {
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed / 2 ** 20);
    }, 50);
    const account = await entity(s, task.id, 'Account');
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const job = await startRestore(startContext(s.h, org), {
      taskId: task.id,
      entityId: account.id,
      snapshotId: account.lastSnapshotId as string,
      keys: accounts,
      mode: 'in_place',
      options: { recordMode: 'bypass', hierarchyDepth: 1 },
    });
    await s.h.runner.runUntilIdle();
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpuBefore);
    clearInterval(sampler);
    const peak = await peakRssMiB();
    const heapAfter = liveHeapMiB();
    const cpu = (used.user + used.system) / 1e6 - gcCpu;
    const done = await s.h.em().findOneOrFail(Job, { id: job.id });
    const busy = s.fake.busy.busyMs / 1000;
    const routes = [...s.fake.requests]
      .filter(([r]) => !r.startsWith('oauth/'))
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    console.log(`restore      ${done.state}, counts ${JSON.stringify(done.result?.counts)}`);
    console.log(`             ${seconds.toFixed(1)} s  ${s.fake.calls} API calls (${routes})`);
    console.log(
      `             peak RSS ${peak.toFixed(0)} MiB (${before.toFixed(0)} MiB at its start: +${(peak - before).toFixed(0)})  API busy ${busy.toFixed(1)} s = ${((busy / seconds) * 100).toFixed(0)} % of the restore`,
    );
    console.log(
      `             live heap ${heapBefore.toFixed(0)} MiB before, ${heapAfter.toFixed(0)} after (+${(heapAfter - heapBefore).toFixed(0)}: what the stand-in keeps of its new records), sampled peak ${heapPeak.toFixed(0)} MiB in use (+${(heapPeak - heapBefore).toFixed(0)}, garbage included)`,
    );
    if (LIVE_EVERY) {
      console.log(
        `             live heap while writing (a full collection every ${LIVE_EVERY} records created): at most ${livePeak.toFixed(0)} MiB (+${(livePeak - heapBefore).toFixed(0)} over the start; ${gcCpu.toFixed(1)} s of CPU for those collections, left out below)`,
      );
    }
    const stats = await restoreStats();
    if (stats) {
      console.log(
        `             records read into memory at once: at most ${stats.peakRecordsHeld} of ${stats.records} (page ${stats.pageSize}); spool database ${((stats.spoolBytes ?? 0) / 2 ** 20).toFixed(0)} MiB at the end`,
      );
    }
    const roundTrips = (s.fake.calls * LATENCY_MS) / 1000;
    console.log(
      `             process CPU ${cpu.toFixed(1)} s (the restore and the stand-in serving it) against ${roundTrips.toFixed(1)} s of API round trips (${s.fake.calls} × ${LATENCY_MS} ms) = ${roundTrips ? (cpu / roundTrips).toFixed(2) : '—'}`,
    );
  } finally {
    await s.close();
  }
}

if (import.meta.main) {
  reexecWithMemoryFlags();
  await benchSalesforceRestore();
}
