// Scale-out: 300 queued backups of 30 tenants on one PostgreSQL and one S3 stand-in (s3rver),
// run by 1 worker node and then by 3 (real `node core/main.ts` processes, HOLDFAST_NODE_ROLE=
// worker, HOLDFAST_JOB_CONCURRENCY each), each time on a fresh database. Prints the throughput
// (jobs a second, from queueing to the last end) and its ratio to the 1-worker run, whether
// every job ran exactly once (one attempt, succeeded, one snapshot each), how fair the start
// order was (the position of each tenant's first start among all starts: the target is within
// the first third), and the workers' CPU time and the machine's load. The jobs are the test
// service's backups: `BENCH_SCALE_ITEMS` items with `BENCH_SCALE_ITEM_DELAY_MS` of service
// latency each, as SaaS backups spend most of their time waiting for an API. A warm-up round
// (one backup per tenant, not counted) comes first unless BENCH_SCALE_WARMUP=0; each run also
// prints its timeline (each job's own time, the share of job slots busy).
// `node bench/scale.ts` runs it alone (not part of `npm run bench`: minutes, and three processes).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { Job } from '../core/jobs/entities.ts';
import { TaskEntity } from '../core/tasks/entities.ts';
import { backupNow } from '../core/tasks/entity-actions.ts';
import { CLUSTER_BUCKET, clusterEnv, makeTestTask, startWebNode, startWorkerNode } from '../tests/helpers/cluster.ts';
import { dropDatabase, startPostgresServer } from '../tests/helpers/postgres.ts';
import { startS3rver } from '../tests/helpers/s3rver.ts';
import { makeOrganization, rootOf } from '../tests/helpers/tenants.ts';

const TENANTS = Number(process.env.BENCH_SCALE_TENANTS ?? 30);
const JOBS_PER_TENANT = Number(process.env.BENCH_SCALE_JOBS_PER_TENANT ?? 10);
const ITEMS = Number(process.env.BENCH_SCALE_ITEMS ?? 20);
const ITEM_DELAY_MS = Number(process.env.BENCH_SCALE_ITEM_DELAY_MS ?? 50);
const CONCURRENCY = process.env.BENCH_SCALE_CONCURRENCY ?? '4';
// Jobs per worker thread (HOLDFAST_JOBS_PER_THREAD): 1, the default, runs each in a thread of its own.
const JOBS_PER_THREAD = process.env.BENCH_SCALE_JOBS_PER_THREAD ?? '1';
/**
 * 1 (default): a warm-up round before the measured one — one backup per tenant, of an entity of
 * its own — so the figures are a running cluster's throughput, not its start-up (each node's job
 * thread loading the kernel, V8 compiling the hot code in every node, each tenant's repository
 * being created). 0 measures from cold nodes, as the first runs of this bench did.
 */
const WARM_UP = process.env.BENCH_SCALE_WARMUP !== '0';
/** The nodes' scheduler interval (HOLDFAST_SCHEDULER_INTERVAL_SECONDS): the product's default. */
const SCHEDULER_INTERVAL = process.env.BENCH_SCALE_SCHEDULER_INTERVAL ?? '30';
const WORKER_COUNTS = (process.env.BENCH_SCALE_WORKERS ?? '1,3').split(',').map(Number);
/** Reaches the worker nodes (`--cpu-prof --cpu-prof-dir=…`). */
const NODE_OPTIONS = process.env.BENCH_SCALE_NODE_OPTIONS;
/** 1: counts the SQL statements of the run (pg_stat_statements) and prints the most frequent. */
const COUNT_STATEMENTS = process.env.BENCH_SCALE_STATEMENTS === '1';

/** The statements PostgreSQL ran in the run's database since the last reset, most frequent first. */
async function statementCounts(databaseUrl: string, reset: boolean): Promise<{ query: string; calls: number }[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('create extension if not exists pg_stat_statements');
    if (reset) {
      await client.query('select pg_stat_statements_reset()');
      return [];
    }
    const { rows } = await client.query<{ query: string; calls: string }>(
      `select query, calls from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database()) order by calls desc`,
    );
    return rows.map((r) => ({ query: r.query, calls: Number(r.calls) }));
  } finally {
    await client.end();
  }
}

/** CPU seconds (user + system, every thread) of a process so far, from /proc. */
function cpuSeconds(pid: number, tid?: string): number {
  const fields =
    readFileSync(tid ? `/proc/${pid}/task/${tid}/stat` : `/proc/${pid}/stat`, 'utf8')
      .split(') ')[1]
      ?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ", in ticks (100 Hz).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds of a process's live threads by kind (Linux thread names): the main thread (claims,
 * leases, the scheduler and the other loops), the job worker threads, V8's helpers (GC, compiling),
 * libuv's pool (zlib, crypto, file I/O). Threads that ended are in cpuSeconds only.
 */
function cpuByThread(pid: number): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const kind = /^WorkerThread/.test(name)
        ? 'job threads'
        : /^MainThread|^node$/.test(name)
          ? 'main'
          : /^V8/.test(name)
            ? 'V8 helpers'
            : /^libuv/.test(name)
              ? 'libuv pool'
              : 'other';
      byKind.set(kind, (byKind.get(kind) ?? 0) + cpuSeconds(pid, tid));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return byKind;
}

/** The process ids whose command line has every one of these parts. */
function pidsWith(parts: string[]): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (parts.every((part) => args.includes(part))) found.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/**
 * CPU seconds of a server and every process it started, live or ended (PostgreSQL: the
 * postmaster's backends; an ended child's time is in its parent's cutime/cstime once reaped).
 */
function treeCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  let ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const child = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      if (Number(child[1]) === pid) ticks += Number(child[11]) + Number(child[12]);
    } catch {
      // Gone meanwhile.
    }
  }
  return ticks / 100;
}

interface RunFigures {
  workers: number;
  seconds: number;
  jobsPerSecond: number;
  exactlyOnce: boolean;
  detail: string;
  lastFirstStart: number;
  workerCpuSeconds: number;
  byThread: Map<string, number>;
  /** CPU seconds of PostgreSQL (every backend) and s3rver during the run. */
  postgresCpuSeconds: number;
  s3CpuSeconds: number;
  load: number[];
  timeline: string;
  /** The uncounted warm-up round's time, when there was one. */
  warmUpSeconds: number | undefined;
}

/** Until every one of the jobs has ended (the bench's poll: one count a 200 ms). */
async function untilFinished(web: Awaited<ReturnType<typeof startWebNode>>, jobIds: string[]): Promise<void> {
  for (;;) {
    const open = await web.kernel.orm.em.fork().count(Job, { id: { $in: jobIds }, finishedAt: null });
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Where a run's wall time went: each job's own time (start to end: claimed to committed), the
 * share of the nodes' job slots busy from queueing to the last end, the time to the first start
 * and the last start.
 */
function timelineOf(
  jobs: { startedAt?: Date | null; finishedAt?: Date | null }[],
  queuedAt: number,
  seconds: number,
  workers: number,
): string {
  const origin = performance.timeOrigin + queuedAt;
  const spans = jobs
    .filter((j) => j.startedAt && j.finishedAt)
    .map((j) => ({
      start: ((j.startedAt as Date).getTime() - origin) / 1000,
      end: ((j.finishedAt as Date).getTime() - origin) / 1000,
    }));
  if (spans.length === 0) return 'timeline: no finished jobs';
  if (process.env.BENCH_SCALE_DUMP)
    writeFileSync(`${process.env.BENCH_SCALE_DUMP}-${workers}.json`, JSON.stringify(jobs));
  const durations = spans.map((s) => s.end - s.start).sort((a, b) => a - b);
  const at = (q: number) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] as number;
  const busy = durations.reduce((sum, d) => sum + d, 0);
  const slots = workers * Number(CONCURRENCY);
  const firstStart = Math.min(...spans.map((s) => s.start));
  const lastStart = Math.max(...spans.map((s) => s.start));
  return (
    `timeline: a job's own time p10 ${at(0.1).toFixed(2)} s, median ${at(0.5).toFixed(2)} s, p90 ${at(0.9).toFixed(2)} s, ` +
    `max ${at(1).toFixed(2)} s; job slots busy ${((100 * busy) / (slots * seconds)).toFixed(0)} % of ${slots} × ${seconds.toFixed(1)} s; ` +
    `first start after ${firstStart.toFixed(2)} s, last start at ${lastStart.toFixed(1)} s`
  );
}

async function run(
  serverUrl: string,
  workers: number,
  s3: Awaited<ReturnType<typeof startS3rver>>,
  servers: { postgres: number; s3: number },
): Promise<RunFigures> {
  const databaseUrl = `${serverUrl}/hf_scale_${workers}_${Date.now().toString(36)}`;
  const env = clusterEnv(databaseUrl, s3, {
    HOLDFAST_JOB_CONCURRENCY: CONCURRENCY,
    HOLDFAST_JOBS_PER_THREAD: JOBS_PER_THREAD,
    HOLDFAST_DATABASE_POOL_SIZE: '20',
    // The product's default (the tests' cluster ticks every second): a node's loops — the
    // scheduler, the senders — then run at their usual pace, not 30 times as often. Queued
    // jobs are still claimed within a second (the runner's own poll) and as each job ends.
    HOLDFAST_SCHEDULER_INTERVAL_SECONDS: SCHEDULER_INTERVAL,
    // Passed on to compare runners (`inline`: jobs in each node's main thread).
    ...(process.env.HOLDFAST_JOB_RUNNER ? { HOLDFAST_JOB_RUNNER: process.env.HOLDFAST_JOB_RUNNER } : {}),
  });
  const web = await startWebNode(env);
  const nodes = [];
  try {
    // The tenants and their tasks, queued tenant after tenant: first come, first served would
    // start the last tenant's first job at position 291.
    const em = web.kernel.orm.em.fork();
    const root = await rootOf(em);
    const tasks = [];
    for (let t = 0; t < TENANTS; t++) {
      const org = await makeOrganization(em, root, 'customer', `Tenant ${t}`);
      tasks.push({
        org,
        ...(await makeTestTask(web, em, org, {
          entities: JOBS_PER_TENANT + (WARM_UP ? 1 : 0),
          items: ITEMS,
          itemDelayMs: ITEM_DELAY_MS,
        })),
      });
    }
    const workerEnv: Record<string, string> = NODE_OPTIONS ? { ...env, NODE_OPTIONS } : env;
    for (let n = 0; n < workers; n++) nodes.push(await startWorkerNode(workerEnv));
    // The warm-up round: one backup per tenant of an entity of its own, not counted. The nodes'
    // job threads are then up, their code compiled, the tenants' repositories made.
    let warmUpSeconds: number | undefined;
    if (WARM_UP) {
      const warmStarted = performance.now();
      const warmIds: string[] = [];
      for (const t of tasks) {
        const warmEntity = t.entityIds.pop() as string;
        warmIds.push(
          ...(await backupNow(em, t.task, [warmEntity], { kind: 'user', label: 'warm-up' }, new Date(), 3)).jobIds,
        );
      }
      await untilFinished(web, warmIds);
      warmUpSeconds = (performance.now() - warmStarted) / 1000;
    }
    if (COUNT_STATEMENTS) await statementCounts(databaseUrl, true);
    const cpuBefore = nodes.map((n) => cpuSeconds(n.pid));
    const threadsBefore = nodes.map((n) => cpuByThread(n.pid));
    const postgresBefore = treeCpuSeconds(servers.postgres);
    const s3Before = treeCpuSeconds(servers.s3);

    const started = performance.now();
    const jobIds: string[] = [];
    for (const { task, entityIds } of tasks) {
      const queued = await backupNow(em, task, entityIds, { kind: 'user', label: 'bench' }, new Date(), 3);
      jobIds.push(...queued.jobIds);
    }
    await untilFinished(web, jobIds);
    const seconds = (performance.now() - started) / 1000;
    const workerCpuSeconds = nodes.reduce((sum, n, i) => sum + cpuSeconds(n.pid) - (cpuBefore[i] ?? 0), 0);
    // Where the workers' CPU went (the job threads' start-up included: they start with the first jobs).
    const byThread = new Map<string, number>();
    nodes.forEach((n, i) => {
      for (const [kind, seconds] of cpuByThread(n.pid)) {
        const before = threadsBefore[i]?.get(kind) ?? 0;
        byThread.set(kind, (byThread.get(kind) ?? 0) + seconds - before);
      }
    });
    if (COUNT_STATEMENTS) {
      // Every statement of the run: the enqueue and the bench's polling (one count a 200 ms) included.
      const counts = await statementCounts(databaseUrl, false);
      const total = counts.reduce((sum, c) => sum + c.calls, 0);
      console.log(`  SQL statements: ${total} (${(total / jobIds.length).toFixed(1)} a job); most frequent:`);
      for (const c of counts.slice(0, 40))
        console.log(`    ${(c.calls / jobIds.length).toFixed(2)}/job  ${c.query.replace(/\s+/g, ' ').slice(0, 200)}`);
    }

    const jobs = await web.kernel.orm.em.fork().find(Job, { id: { $in: jobIds } }, { orderBy: { startedAt: 'asc' } });
    // The measured jobs' entities (not the warm-up's).
    const entities = await web.kernel.orm.em
      .fork()
      .find(TaskEntity, { id: { $in: tasks.flatMap((t) => t.entityIds) } });
    const snapshots = new Set(entities.map((e) => e.lastSnapshotId).filter(Boolean));
    const exactlyOnce =
      jobs.length === TENANTS * JOBS_PER_TENANT &&
      jobs.every((j) => j.state === 'succeeded' && j.attempts === 1 && j.result?.items === ITEMS) &&
      snapshots.size === jobs.length;
    // What broke "exactly once", when something did: states, retried jobs, short results, snapshots.
    const states = new Map<string, number>();
    for (const j of jobs) states.set(j.state, (states.get(j.state) ?? 0) + 1);
    const detail =
      `states ${[...states].map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
      `more than one attempt ${jobs.filter((j) => j.attempts > 1).length}; ` +
      `short results ${jobs.filter((j) => j.result?.items !== ITEMS).length}; snapshots ${snapshots.size}` +
      (jobs.some((j) => j.error) ? `; first error: ${jobs.find((j) => j.error)?.error}` : '') +
      // Why a job ran more than once: the warnings of its log (a lapsed lease, a transient error).
      jobs
        .filter((j) => j.attempts > 1)
        .slice(0, 3)
        .map(
          (j) =>
            `; job ${j.id.slice(0, 8)}: ${j.log
              .filter((l) => l.level !== 'info')
              .map((l) => l.message)
              .join(' | ')}`,
        )
        .join('');
    // Each tenant's first start, as a position among all starts.
    const firstStart = new Map<string, number>();
    jobs.forEach((j, position) => {
      if (!firstStart.has(j.organization.id)) firstStart.set(j.organization.id, position + 1);
    });
    return {
      workers,
      seconds,
      warmUpSeconds,
      timeline: timelineOf(jobs, started, seconds, workers),
      jobsPerSecond: jobs.length / seconds,
      exactlyOnce,
      detail,
      lastFirstStart: Math.max(...firstStart.values()),
      workerCpuSeconds,
      byThread,
      postgresCpuSeconds: treeCpuSeconds(servers.postgres) - postgresBefore,
      s3CpuSeconds: treeCpuSeconds(servers.s3) - s3Before,
      load: loadavg(),
    };
  } finally {
    for (const n of nodes) {
      // A profiled node must stop on its own for its profiles to be written.
      if (NODE_OPTIONS && n.child.exitCode === null) {
        n.child.kill('SIGTERM');
        await n.exited;
      }
      await n.stop();
    }
    await web.close();
    await dropDatabase(databaseUrl).catch(() => undefined);
  }
}

export async function benchScale(): Promise<void> {
  const total = TENANTS * JOBS_PER_TENANT;
  console.log(
    `\nScale-out: ${total} backups of ${TENANTS} tenants (${ITEMS} items × ${ITEM_DELAY_MS} ms each), ` +
      `HOLDFAST_JOB_CONCURRENCY=${CONCURRENCY} and HOLDFAST_JOBS_PER_THREAD=${JOBS_PER_THREAD} per worker node, one PostgreSQL, one s3rver; ${cpus().length} cores`,
  );
  const server = await startPostgresServer({
    settings: COUNT_STATEMENTS ? ['shared_preload_libraries=pg_stat_statements'] : [],
  });
  const s3 = await startS3rver([CLUSTER_BUCKET]);
  try {
    // The servers' processes, for their CPU time: the postmaster (found by its port) and s3rver.
    const [postgres] = pidsWith(['-p', new URL(server.url).port]);
    const [s3pid] = pidsWith([s3.directory]);
    if (!postgres || !s3pid) throw new Error('the PostgreSQL or s3rver process was not found');
    const servers = { postgres, s3: s3pid };
    let baseline: number | undefined;
    for (const workers of WORKER_COUNTS) {
      const f = await run(server.url, workers, s3, servers);
      baseline ??= f.jobsPerSecond;
      console.log(
        `  ${workers} worker${workers === 1 ? ' ' : 's'}: ${f.seconds.toFixed(1)} s, ${f.jobsPerSecond.toFixed(2)} jobs/s ` +
          `(${(f.jobsPerSecond / baseline).toFixed(2)}× 1 worker); exactly once: ${f.exactlyOnce ? 'yes' : `NO (${f.detail})`}; ` +
          `last tenant's first start: #${f.lastFirstStart} of ${total} (target ≤ ${Math.floor(total / 3)}); ` +
          `workers' CPU ${f.workerCpuSeconds.toFixed(1)} s (${((100 * f.workerCpuSeconds) / f.seconds).toFixed(0)}% of one core, ` +
          `${((1000 * f.workerCpuSeconds) / total).toFixed(0)} ms a job: ` +
          `${[...f.byThread].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}); ` +
          `PostgreSQL ${f.postgresCpuSeconds.toFixed(1)} s, s3rver ${f.s3CpuSeconds.toFixed(1)} s of CPU; ` +
          `load ${f.load.map((l) => l.toFixed(1)).join(' ')}`,
      );
      console.log(
        `    ${f.timeline}${f.warmUpSeconds === undefined ? '; cold nodes (no warm-up)' : `; after a warm-up round of ${TENANTS} backups in ${f.warmUpSeconds.toFixed(1)} s`}`,
      );
    }
  } finally {
    await s3.stop();
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchScale();
