// The appliance's Prometheus metrics (docs/METRICS.md): one registry per appliance (tests open
// many in one process), made only when /metrics is switched on, so an appliance that does not
// export them pays nothing. Request latencies and job durations are observed as they happen;
// the rest is read from the database at scrape time (figures.ts).
import type { EntityManager } from '@mikro-orm/core';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { readApplianceFigures } from './figures.ts';

export interface Metrics {
  /** A request answered: its method, the route pattern that answered (never the raw path), status. */
  requestServed(method: string, route: string, status: number, seconds: number): void;
  /** A job ended (or went back to the queue): its kind, the state it ended in, how long it ran. */
  jobEnded(kind: string, state: string, seconds: number): void;
  /** The exposition text and its content type. */
  scrape(em: EntityManager, now: Date): Promise<{ body: string; contentType: string }>;
}

export function createMetrics(databasePath: string): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'holdfast_' });
  const requests = new Histogram({
    name: 'holdfast_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const jobRuns = new Histogram({
    name: 'holdfast_job_run_duration_seconds',
    help: 'How long jobs this node ran took, by kind and the state they ended in.',
    labelNames: ['kind', 'state'] as const,
    buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200],
    registers: [registry],
  });
  const jobs = new Gauge({
    name: 'holdfast_jobs',
    help: 'Jobs in the queue by kind and state (ended ones until System Activity retention removes them).',
    labelNames: ['kind', 'state'] as const,
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: 'holdfast_job_queue_depth',
    help: 'Pending jobs whose time has come, waiting for a free slot.',
    registers: [registry],
  });
  const taskLabels = ['task_id', 'task', 'organization_id', 'organization'] as const;
  const lastBackup = new Gauge({
    name: 'holdfast_task_last_backup_timestamp_seconds',
    help: "Unix time of a task's newest snapshot (the task page's Last backup); absent before the first.",
    labelNames: taskLabels,
    registers: [registry],
  });
  const lastBackupAge = new Gauge({
    name: 'holdfast_task_last_backup_age_seconds',
    help: "Seconds since a task's newest snapshot; absent before the first.",
    labelNames: taskLabels,
    registers: [registry],
  });
  const taskEntities = new Gauge({
    name: 'holdfast_task_entities',
    help: "A task's entities (users, folders, objects…) by status, as its page counts them.",
    labelNames: [...taskLabels, 'status'] as const,
    registers: [registry],
  });
  const stored = new Gauge({
    name: 'holdfast_storage_location_stored_bytes',
    help: "Bytes the tasks' runs wrote to each storage location, after deduplication and compression.",
    labelNames: ['location_id', 'location'] as const,
    registers: [registry],
  });
  const database = new Gauge({
    name: 'holdfast_database_size_bytes',
    help: 'Size of the database file and its write-ahead log.',
    registers: [registry],
  });

  // Scrapes fill the gauges in turn: two at once must not interleave their resets.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    requestServed(method, route, status, seconds) {
      requests.observe({ method, route, status: String(status) }, seconds);
    },
    jobEnded(kind, state, seconds) {
      jobRuns.observe({ kind, state }, seconds);
    },
    scrape(em, now) {
      const run = queue.then(async () => {
        const figures = await readApplianceFigures(em, databasePath, now);
        for (const gauge of [jobs, lastBackup, lastBackupAge, taskEntities, stored]) gauge.reset();
        for (const j of figures.jobs) jobs.set({ kind: j.kind, state: j.state }, j.count);
        queueDepth.set(figures.queueDepth);
        for (const t of figures.tasks) {
          const labels = {
            task_id: t.id,
            task: t.name,
            organization_id: t.organizationId,
            organization: t.organization,
          };
          if (t.lastBackupAt) {
            lastBackup.set(labels, t.lastBackupAt.getTime() / 1000);
            lastBackupAge.set(labels, Math.max(0, (now.getTime() - t.lastBackupAt.getTime()) / 1000));
          }
          for (const [status, count] of t.entities) taskEntities.set({ ...labels, status }, count);
        }
        for (const l of figures.storedBytes) stored.set({ location_id: l.locationId, location: l.location }, l.bytes);
        database.set(figures.databaseBytes);
        return { body: await registry.metrics(), contentType: registry.contentType };
      });
      queue = run.catch(() => undefined);
      return run;
    },
  };
}
