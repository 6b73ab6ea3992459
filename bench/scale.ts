// Scale-out: 300 queued backups of 30 tenants on one PostgreSQL and one S3 stand-in (s3rver),
// run by 1 worker node and then by 3 (real `node core/main.ts` processes, HOLDFAST_NODE_ROLE=
// worker, HOLDFAST_JOB_CONCURRENCY each), each time on a fresh database. Prints the throughput
// (jobs a second, from queueing to the last end) and its ratio to the 1-worker run, whether
// every job ran exactly once (one attempt, succeeded, one snapshot each), how fair the start
// order was (the position of each tenant's first start among all starts: the target is within
// the first third), and the workers' CPU time and the machine's load. The jobs are the test
// service's backups: `BENCH_SCALE_ITEMS` items with `BENCH_SCALE_ITEM_DELAY_MS` of service
// latency each, as SaaS backups spend most of their time waiting for an API.
// `node bench/scale.ts` runs it alone (not part of `npm run bench`: minutes, and three processes).
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
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
const WORKER_COUNTS = (process.env.BENCH_SCALE_WORKERS ?? '1,3').split(',').map(Number);

/** CPU seconds (user + system, every thread) of a process so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ", in ticks (100 Hz).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface RunFigures {
  workers: number;
  seconds: number;
  jobsPerSecond: number;
  exactlyOnce: boolean;
  detail: string;
  lastFirstStart: number;
  workerCpuSeconds: number;
  load: number[];
}

async function run(
  serverUrl: string,
  workers: number,
  s3: Awaited<ReturnType<typeof startS3rver>>,
): Promise<RunFigures> {
  const databaseUrl = `${serverUrl}/hf_scale_${workers}_${Date.now().toString(36)}`;
  const env = clusterEnv(databaseUrl, s3, {
    HOLDFAST_JOB_CONCURRENCY: CONCURRENCY,
    HOLDFAST_DATABASE_POOL_SIZE: '20',
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
        ...(await makeTestTask(web, em, org, { entities: JOBS_PER_TENANT, items: ITEMS, itemDelayMs: ITEM_DELAY_MS })),
      });
    }
    for (let n = 0; n < workers; n++) nodes.push(await startWorkerNode(env));
    const cpuBefore = nodes.map((n) => cpuSeconds(n.pid));

    const started = performance.now();
    const jobIds: string[] = [];
    for (const { task, entityIds } of tasks) {
      const queued = await backupNow(em, task, entityIds, { kind: 'user', label: 'bench' }, new Date(), 3);
      jobIds.push(...queued.jobIds);
    }
    for (;;) {
      const open = await web.kernel.orm.em.fork().count(Job, { id: { $in: jobIds }, finishedAt: null });
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - started) / 1000;
    const workerCpuSeconds = nodes.reduce((sum, n, i) => sum + cpuSeconds(n.pid) - (cpuBefore[i] ?? 0), 0);

    const jobs = await web.kernel.orm.em.fork().find(Job, { id: { $in: jobIds } }, { orderBy: { startedAt: 'asc' } });
    const entities = await web.kernel.orm.em.fork().find(TaskEntity, { task: { $in: tasks.map((t) => t.task.id) } });
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
      jobsPerSecond: jobs.length / seconds,
      exactlyOnce,
      detail,
      lastFirstStart: Math.max(...firstStart.values()),
      workerCpuSeconds,
      load: loadavg(),
    };
  } finally {
    for (const n of nodes) await n.stop();
    await web.close();
    await dropDatabase(databaseUrl).catch(() => undefined);
  }
}

export async function benchScale(): Promise<void> {
  const total = TENANTS * JOBS_PER_TENANT;
  console.log(
    `\nScale-out: ${total} backups of ${TENANTS} tenants (${ITEMS} items × ${ITEM_DELAY_MS} ms each), ` +
      `HOLDFAST_JOB_CONCURRENCY=${CONCURRENCY} per worker node, one PostgreSQL, one s3rver; ${cpus().length} cores`,
  );
  const server = await startPostgresServer();
  const s3 = await startS3rver([CLUSTER_BUCKET]);
  try {
    let baseline: number | undefined;
    for (const workers of WORKER_COUNTS) {
      const f = await run(server.url, workers, s3);
      baseline ??= f.jobsPerSecond;
      console.log(
        `  ${workers} worker${workers === 1 ? ' ' : 's'}: ${f.seconds.toFixed(1)} s, ${f.jobsPerSecond.toFixed(2)} jobs/s ` +
          `(${(f.jobsPerSecond / baseline).toFixed(2)}× 1 worker); exactly once: ${f.exactlyOnce ? 'yes' : `NO (${f.detail})`}; ` +
          `last tenant's first start: #${f.lastFirstStart} of ${total} (target ≤ ${Math.floor(total / 3)}); ` +
          `workers' CPU ${f.workerCpuSeconds.toFixed(1)} s (${((100 * f.workerCpuSeconds) / f.seconds).toFixed(0)}% of one core); ` +
          `load ${f.load.map((l) => l.toFixed(1)).join(' ')}`,
      );
    }
  } finally {
    await s3.stop();
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchScale();
