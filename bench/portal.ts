// The pages an MSP opens daily on a large tenant tree (tests/fixtures/portal-tree.ts: 2
// distributors, 20 partners, 2,000 customer accounts, 10,000 tasks with mixed last runs, plus
// jobs, System Activity rows and audit entries): Accounts (tiles and health columns; the root's
// and a partner's), a customer's Homepage, Jobs, System Activity and Security Audit, each under BENCH_PORTAL_USERS (20)
// concurrent signed-in users as in-process requests through the whole app (server-side time, no
// network), p50/p95/p99 and CPU time per request; then the accounts table's variants and the CSV export of every audit row
// against the bare query that feeds it (baseline: iterating `allAuditRows` without formatting).

import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { EntityManager } from '@mikro-orm/core';
import type { Hono } from 'hono';
import { loadConfig } from '../config/load.ts';
import { principalForUser } from '../core/access/principal.ts';
import { ActivityEvent } from '../core/activity/entities.ts';
import { createApp } from '../core/app.ts';
import { type Kernel, openKernel } from '../core/appliance.ts';
import { allAuditRows } from '../core/audit/audit-service.ts';
import { AuditEvent } from '../core/audit/entities.ts';
import type { AppEnv } from '../core/http/env.ts';
import { type IOrganization, Organization, User } from '../core/identity/entities.ts';
import { completeSetup, isSetupComplete } from '../core/identity/setup-service.ts';
import { Job } from '../core/jobs/entities.ts';
import { createLogger } from '../core/logging.ts';
import { BackupTask } from '../core/tasks/entities.ts';
import { FULL_PORTAL_TREE, type PortalTreeSize, seedPortalTree } from '../tests/fixtures/portal-tree.ts';
import { tempDir } from '../tests/helpers/config.ts';
import { percentile, row, summarize } from './stats.ts';

const SIZE: PortalTreeSize = {
  distributors: Number(process.env.BENCH_PORTAL_DISTRIBUTORS ?? FULL_PORTAL_TREE.distributors),
  partners: Number(process.env.BENCH_PORTAL_PARTNERS ?? FULL_PORTAL_TREE.partners),
  customers: Number(process.env.BENCH_PORTAL_CUSTOMERS ?? FULL_PORTAL_TREE.customers),
  tasks: Number(process.env.BENCH_PORTAL_TASKS ?? FULL_PORTAL_TREE.tasks),
};
const USERS = Number(process.env.BENCH_PORTAL_USERS ?? 20);
/** Requests per user per page in the concurrent runs. */
const ROUNDS = Number(process.env.BENCH_PORTAL_ROUNDS ?? 10);
const AUDIT_ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** With 2 or more, the daily pages are also run over that many appliance processes (bench/portal-worker.ts). */
const PROCESSES = Number(process.env.BENCH_PORTAL_PROCESSES ?? 1);
const PASSWORD = 'Portal-Tree-Pass-42';

/** One finished backup job and its System Activity row per task, as the tasks' last runs left them. */
async function seedRuns(em: EntityManager, now: Date): Promise<void> {
  let after = '';
  for (;;) {
    const tasks = await em.find(BackupTask, after ? { id: { $gt: after } } : {}, {
      orderBy: { id: 'asc' },
      limit: 1000,
      fields: ['id', 'name', 'organization'],
    });
    if (!tasks.length) return;
    const jobs = [];
    const events = [];
    for (const [i, task] of tasks.entries()) {
      const id = crypto.randomUUID();
      const at = new Date(now.getTime() - i * 60_000);
      const state = i % 23 === 0 ? 'failed' : i % 11 === 0 ? 'partially_succeeded' : 'succeeded';
      const org = (task.organization as { id: string }).id;
      jobs.push({
        id,
        organization: org,
        kind: 'backup',
        state,
        label: task.name.slice(0, 50),
        task: task.id,
        initiatorKind: 'schedule',
        params: {},
        runAfter: at,
        attempts: 1,
        maxAttempts: 3,
        progressItems: 0,
        progressBytes: 0,
        log: [],
        createdAt: at,
        startedAt: at,
        finishedAt: at,
      });
      events.push({
        at,
        organization: org,
        activity: 'Backup',
        service: 'dropbox',
        serviceLabel: 'Dropbox',
        status: state,
        taskId: task.id,
        taskName: task.name,
        jobId: id,
        startedAt: at,
        durationMs: 1000,
        bytes: 4096,
        items: 1,
        summary: 'bench run',
      });
    }
    await em.insertMany(Job, jobs as never);
    await em.insertMany(ActivityEvent, events as never);
    after = (tasks[tasks.length - 1] as { id: string }).id;
    em.clear();
  }
}

/** The session cookie of the seeded operator, signed in at the root. */
export async function signInOperator(app: Hono<AppEnv>): Promise<string> {
  const login = await app.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
    body: new URLSearchParams({ email: 'operator@example.com', password: PASSWORD, next: '/' }).toString(),
  });
  return (login.headers.get('set-cookie') as string).split(';')[0] as string;
}

/** A session of the operator that opened `accountId` (its homepage is then `/`). */
export async function openAccount(app: Hono<AppEnv>, accountId: string): Promise<string> {
  const form = { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' };
  const cookie = await signInOperator(app);
  const opened = await app.request(`/portal/accounts/${accountId}/open`, {
    method: 'POST',
    headers: { ...form, cookie },
  });
  return (opened.headers.get('set-cookie') as string).split(';')[0] as string;
}

/** USERS users requesting `path` ROUNDS times each, all at once: every request's time. */
async function concurrent(
  app: Hono<AppEnv>,
  path: string,
  cookie: string,
): Promise<{ samples: number[]; cpuPerRequest: number }> {
  await (await app.request(path, { headers: { cookie } })).arrayBuffer(); // warm-up
  const samples: number[] = [];
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: USERS }, async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const t = performance.now();
        const res = await app.request(path, { headers: { cookie } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
        samples.push(performance.now() - t);
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { samples, cpuPerRequest: (used.user + used.system) / 1000 / samples.length };
}

/**
 * The same rounds split over `processes` appliance processes on the one database (bench/
 * portal-worker.ts), started at once: every request's time, and the CPU of all processes per
 * request. Users are dealt out as evenly as they go.
 */
class ProcessPool {
  private readonly workers: ChildProcess[] = [];

  private constructor() {}

  static async start(
    processes: number,
    dataDir: string,
    failingAccount: string,
    partnerAccount: string,
  ): Promise<ProcessPool> {
    const pool = new ProcessPool();
    const script = fileURLToPath(new URL('./portal-worker.ts', import.meta.url));
    for (let i = 0; i < processes; i++) pool.workers.push(fork(script, [dataDir, failingAccount, partnerAccount]));
    await pool.all(() => undefined, 'ready');
    return pool;
  }

  /** Sends each worker its message and waits for each one's answer of `kind`. */
  private all<T>(message: (i: number) => unknown, kind: string): Promise<T[]> {
    return Promise.all(
      this.workers.map(
        (w, i) =>
          new Promise<T>((resolve, reject) => {
            const onMessage = (m: { kind: string }) => {
              if (m.kind !== kind) return;
              w.off('message', onMessage);
              w.off('exit', onExit);
              resolve(m as T);
            };
            const onExit = (code: number | null) => reject(new Error(`portal worker exited with ${code}`));
            w.on('message', onMessage);
            w.on('exit', onExit);
            const sent = message(i);
            if (sent !== undefined) w.send(sent as never);
          }),
      ),
    );
  }

  async run(
    path: string,
    who: 'operator' | 'customer' | 'partner',
  ): Promise<{ samples: number[]; cpuPerRequest: number }> {
    const n = this.workers.length;
    const users = (i: number) => Math.floor(USERS / n) + (i < USERS % n ? 1 : 0);
    await this.all((i) => ({ kind: 'warm', path, who, users: users(i), rounds: ROUNDS }), 'warm');
    const done = await this.all<{ samples: number[]; cpuMs: number }>(
      (i) => ({ kind: 'go', path, who, users: users(i), rounds: ROUNDS }),
      'done',
    );
    const samples = done.flatMap((d) => d.samples);
    return { samples, cpuPerRequest: done.reduce((sum, d) => sum + d.cpuMs, 0) / samples.length };
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.send('close');
          }),
      ),
    );
  }
}

/**
 * Percentiles of the requests' times and the process's CPU time per request: requests share one
 * thread, so a p95 under 20 users is about 20 × the CPU a request takes when the process has a
 * core to itself, and more when other work on the machine takes the cores (see the load average).
 */
function concurrentRow(label: string, run: { samples: number[]; cpuPerRequest: number }): string {
  const f = (n: number) => n.toFixed(1).padStart(7);
  const p = (n: number) => f(percentile(run.samples, n));
  return `${label.padEnd(30)} p50 ${p(50)}  p95 ${p(95)}  p99 ${p(99)}  max ${f(Math.max(...run.samples))}  CPU/request ${f(run.cpuPerRequest)} ms`;
}

/** The whole seeded appliance: the tree, a run and an activity row per task, AUDIT_ROWS audit rows. */
async function seedAppliance(kernel: Kernel): Promise<void> {
  await completeSetup(kernel.orm.em, {
    organizationName: 'Bench MSP',
    email: 'operator@example.com',
    password: PASSWORD,
  });
  const em = kernel.orm.em.fork();
  const root = await em.findOneOrFail(Organization, { kind: 'root' });
  await seedPortalTree(em, root, SIZE);
  const orgs: IOrganization[] = [root, ...(await em.find(Organization, { kind: { $ne: 'customer' } }))];
  const now = new Date();
  await seedRuns(em, now);
  const activities = ['Sign-in', 'User added', 'Settings changed', 'Account accessed'];
  for (let i = 0; i < AUDIT_ROWS; i += 2000) {
    const batch = [];
    for (let j = i; j < Math.min(AUDIT_ROWS, i + 2000); j++) {
      batch.push({
        at: new Date(now.getTime() - j * 60_000),
        organization: (orgs[j % orgs.length] as IOrganization).id,
        activity: activities[j % activities.length] as string,
        status: j % 11 === 0 ? 'failed' : 'completed',
        account: `user${j}@example.com`,
        performedBy: `admin${j % 40}@example.com`,
        ip: '192.0.2.10',
        description: `Signed in with Chrome from 192.0.2.10, entry ${j}, "quoted", with a comma`,
      });
    }
    await em.insertMany(AuditEvent, batch as never);
  }
}

/**
 * BENCH_PORTAL_DATA names a data folder kept between runs (seeded by the first, reused by the
 * next, for profiling one page after another); without it a temporary folder is seeded and removed.
 */
function dataFolder(): { path: string; remove(): void } {
  const kept = process.env.BENCH_PORTAL_DATA;
  if (!kept) return tempDir('holdfast-bench-');
  mkdirSync(kept, { recursive: true });
  return { path: kept, remove: () => {} };
}

export async function benchPortal(): Promise<void> {
  const dir = dataFolder();
  const config = loadConfig({ env: { HOLDFAST_DATA_DIR: dir.path, HOLDFAST_LOG_LEVEL: 'silent' } });
  const kernel = await openKernel(config, createLogger('silent'));
  try {
    if (!(await isSetupComplete(kernel.orm.em.fork()))) await seedAppliance(kernel);
    kernel.deps.setupState.complete = true;
    const em = kernel.orm.em.fork();
    const root = await em.findOneOrFail(Organization, { kind: 'root' });
    const accounts = await em.count(Organization, { kind: { $ne: 'root' } });
    const app = createApp(kernel.deps);
    const login = await app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
      body: new URLSearchParams({ email: 'operator@example.com', password: PASSWORD, next: '/' }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') as string).split(';')[0] as string;
    // A second session opened on a failing customer, for its homepage.
    const failing = (await em
      .getConnection()
      .execute(
        `select t.organization_id as id from task_entities e join backup_tasks t on t.id = e.task_id where e.status = 'failed' limit 1`,
        [],
        'all',
      )) as { id: string }[];
    if (!failing[0]) throw new Error('the seeded tree has no failing entity');
    const customerCookie = await openAccount(app, failing[0].id);
    // A third opened on a partner (an MSP's own Accounts: its customers, 25 rows with billing cells).
    const partner = await em.findOneOrFail(Organization, { kind: 'partner' }, { orderBy: { name: 'asc' } });
    const partnerCookie = await openAccount(app, partner.id);
    const time = async (path: string) => {
      const samples: number[] = [];
      await (await app.request(path, { headers: { cookie } })).arrayBuffer(); // warm-up
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        const res = await app.request(path, { headers: { cookie } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
        samples.push(performance.now() - t);
      }
      return summarize(samples);
    };
    console.log(
      `\nPortal and daily pages: ${accounts} accounts (${SIZE.distributors} distributors, ${SIZE.partners} partners), ${SIZE.tasks} tasks, ${AUDIT_ROWS} audit rows; in-process requests`,
    );
    const load = loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
    console.log(`${USERS} concurrent users, ${ROUNDS} requests each per page (server-side ms; load average ${load}):`);
    const daily: [string, string, string][] = [
      ['GET /portal (tiles + accounts)', '/portal', cookie],
      ["GET /portal (a partner's)", '/portal', partnerCookie],
      ['GET / (a customer homepage)', '/', customerCookie],
      ['GET /jobs', '/jobs', cookie],
      ['GET /activity', '/activity', cookie],
      ['GET /activity/security-audit', '/activity/security-audit', cookie],
    ];
    const pages = process.env.BENCH_PORTAL_PAGES?.split(',');
    for (const [label, path, who] of daily) {
      if (pages && !pages.includes(path)) continue;
      console.log(concurrentRow(label, await concurrent(app, path, who)));
    }
    if (PROCESSES > 1) {
      // The same users spread over PROCESSES appliance processes sharing the database: what a
      // deployment running one server process per core would give.
      console.log(
        `The same over ${PROCESSES} appliance processes on the one database (load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}):`,
      );
      const pool = await ProcessPool.start(PROCESSES, dir.path, failing[0].id, partner.id);
      try {
        for (const [label, path, who] of daily) {
          if (pages && !pages.includes(path)) continue;
          const run = await pool.run(
            path,
            who === customerCookie ? 'customer' : who === partnerCookie ? 'partner' : 'operator',
          );
          console.log(concurrentRow(label, run));
        }
      } finally {
        await pool.close();
      }
    }
    if (pages) return;
    console.log(`One user at a time, ${RUNS} runs each:`);
    console.log(row('GET /portal (direct children)', await time('/portal'), 'ms'));
    console.log(row('GET /portal?all=1&q=customer-7 (search)', await time('/portal?all=1&q=customer-7'), 'ms'));
    console.log(row('GET /portal?all=1&page=40', await time('/portal?all=1&page=40'), 'ms'));
    console.log(row('  … &sort=size_desc', await time('/portal?all=1&sort=size_desc'), 'ms'));
    console.log(row('  … &kind=customer&backup=failed', await time('/portal?all=1&kind=customer&backup=failed'), 'ms'));
    console.log(row('GET /accounts/search?account_search=9', await time('/accounts/search?account_search=9'), 'ms'));
    console.log(row('GET /activity/security-audit', await time('/activity/security-audit'), 'ms'));
    console.log(
      row(
        '  … ?performer=admin3&status=failed',
        await time('/activity/security-audit?performer=admin3&status=failed'),
        'ms',
      ),
    );
    console.log(row('  … ?page=1000 (deep page)', await time('/activity/security-audit?page=1000'), 'ms'));

    const user = await em.findOneOrFail(User, { email: 'operator@example.com' }, { populate: ['organization'] });
    const principal = principalForUser(user);
    const queryOnly: number[] = [];
    const exportRuns: number[] = [];
    let bytes = 0;
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      let t = performance.now();
      let n = 0;
      for await (const _ of allAuditRows(kernel.orm.em.fork(), principal, root, {})) n++;
      queryOnly.push(performance.now() - t);
      t = performance.now();
      const res = await app.request('/activity/security-audit/export.csv', { headers: { cookie } });
      bytes = (await res.arrayBuffer()).byteLength;
      exportRuns.push(performance.now() - t);
      if (n < AUDIT_ROWS) throw new Error(`query returned ${n} rows`);
    }
    const q = summarize(queryOnly);
    const e = summarize(exportRuns);
    const perSecond = (ms: number) => ((AUDIT_ROWS / ms) * 1000).toFixed(0);
    console.log(row(`allAuditRows, ${AUDIT_ROWS} rows (baseline)`, q, 'ms'));
    console.log(row('CSV export, all rows', e, 'ms'));
    console.log(
      `${''.padEnd(34)} ${perSecond(e.median)} rows/s, ${((bytes / 1_048_576 / e.median) * 1000).toFixed(1)} MiB/s (${(bytes / 1_048_576).toFixed(1)} MiB), ${(e.median / q.median).toFixed(2)}x the bare query (${perSecond(q.median)} rows/s)`,
    );
  } finally {
    await kernel.close();
    dir.remove();
  }
}

if (import.meta.main) await benchPortal();
