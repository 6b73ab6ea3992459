// The appliance's life cycle: check the data folder, load the master key, open and migrate
// the database, build the app, listen; and on shutdown stop accepting connections, let
// in-flight requests finish (up to the configured timeout), stop the scheduler and the job
// runner (running jobs finish or go back to the queue), close the database.
import { hkdfSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import type { Config } from '../config/schema.ts';
import { createApp } from './app.ts';
import { type Database, databaseKind, migrate, openDatabase } from './db/database.ts';
import { ConfigBackupLoop } from './dr/config-backup.ts';
import type { AppDeps } from './http/env.ts';
import { createViews } from './http/views.ts';
import { Organization } from './identity/entities.ts';
import { isSetupComplete } from './identity/setup-service.ts';
import { type IntegrationLoop, startIntegrationSender } from './integrations/sender.ts';
import { registerJobKinds } from './job-kinds.ts';
import type { WorkContext } from './jobs/context.ts';
import { InlineExecutor, WorkerExecutor } from './jobs/executors.ts';
import { JobRunner } from './jobs/runner.ts';
import type { Logger } from './logging.ts';
import { createMailer } from './mail/mailer.ts';
import { startMaintenanceTimer } from './maintenance.ts';
import { type SenderLoop, startNotificationSender } from './notifications/sender.ts';
import type { RoundGuard } from './pass-loop.ts';
import { configureServicePlugins, loadExternalPlugins, servicePlugin } from './plugins/registry.ts';
import { workerNodeApp } from './routes/health.ts';
import { Scheduler } from './scheduler/loop.ts';
import { leaseOwner, runAlone } from './scheduler/singleton.ts';
import { type CredentialCipher, createCredentialCipher } from './secrets/credential-cipher.ts';
import { loadMasterKey, MasterKeyError } from './secrets/master-key.ts';
import { configuredDefaultStorage, ensureConfiguredDefaultStorage } from './storage-locations/configured-default.ts';
import { blobIndexDir, locationTaskStorage } from './storage-locations/task-storage.ts';
import { startVerificationTimer } from './storage-locations/verification.ts';
import { ensureWritableDir } from './system/data-dir.ts';
import { multiNodeMode, runsJobs, servesWeb } from './system/node-role.ts';
import { pinnedPublicOrigin } from './system/public-url.ts';
import { startRestoreCleanUp } from './tasks/startup-clean-up.ts';
import type { TaskStorage } from './tasks/storage.ts';
import { recountSubtreeHealth } from './tenancy/subtree-health.ts';
import { VERSION } from './version.ts';
import { startWebhookSender, type WebhookLoop } from './webhooks/sender.ts';

export interface Kernel {
  deps: AppDeps;
  /** Migrations applied while opening. */
  migrationsApplied: string[];
  orm: Database;
  credentials: CredentialCipher;
  /** Where backup tasks store their snapshots. */
  storage: TaskStorage;
  /** For job worker threads, which derive the credential cipher and repository keys themselves. */
  masterKey: Buffer;
  close(): Promise<void>;
}

/** Everything but the HTTP listener: used by the server, the CLI and tests. */
export async function openKernel(config: Config, log: Logger, options: { watchViews?: boolean } = {}): Promise<Kernel> {
  // Plugins first: their settings are part of the configuration, checked before anything is written.
  await loadExternalPlugins(config.plugins);
  configureServicePlugins(config);
  // Checked now, so bad HOLDFAST_DEFAULT_STORAGE_* settings stop the start like any other.
  configuredDefaultStorage(config);
  registerJobKinds();
  ensureWritableDir(config.dataDir, 'HOLDFAST_DATA_DIR');
  ensureWritableDir(config.storageDir, 'HOLDFAST_STORAGE_DIR');
  const sqliteFile = databaseKind(config) === 'sqlite';
  if (sqliteFile) ensureWritableDir(dirname(config.databasePath), 'HOLDFAST_DATABASE_PATH');
  // A missing key file may be generated only while the appliance has no data: on SQLite until its
  // database file exists, on PostgreSQL (a database made elsewhere) until it has an organization.
  const keyFor = (mayGenerate: boolean) => {
    const loaded = loadMasterKey({ ...config, mayGenerate });
    if (loaded.origin === 'generated') {
      log.warn(
        { file: config.masterKeyFile },
        'generated a new appliance master key: back it up (see docs/OPERATIONS.md), credentials cannot be recovered without it',
      );
    }
    return loaded;
  };
  // Nodes that generated keys of their own could not read each other's secrets or session cookies.
  if (multiNodeMode(config) && !config.masterKey && !existsSync(config.masterKeyFile)) {
    throw new MasterKeyError(
      `multi-node mode (PostgreSQL with HOLDFAST_NODE_ROLE=${config.nodeRole}) needs the same master key on every node: ` +
        `set HOLDFAST_MASTER_KEY, or provide the key file ${config.masterKeyFile} (see docs/OPERATIONS.md)`,
    );
  }
  const keyOfFile = sqliteFile ? keyFor(!existsSync(config.databasePath)) : undefined;
  const orm = await openDatabase(config);
  let applied: string[];
  let masterKey: ReturnType<typeof keyFor>;
  try {
    applied = await migrate(orm);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
    // The portal's per-subtree counters, counted again from their sources (core/tenancy/subtree-health.ts).
    await recountSubtreeHealth(orm.em);
    masterKey = keyOfFile ?? keyFor((await orm.em.fork().count(Organization, {})) === 0);
  } catch (err) {
    await orm.close();
    throw err;
  }
  const cookieSecret = Buffer.from(
    hkdfSync('sha256', masterKey.key, Buffer.alloc(0), 'holdfast session cookie v1', 32),
  ).toString('base64url');
  const credentials = createCredentialCipher(masterKey.key);
  const mailer = createMailer(config, log);
  const storage = locationTaskStorage({
    orm,
    credentials,
    storageDir: config.storageDir,
    masterKey: masterKey.key,
    indexDir: blobIndexDir(config),
    multiNode: multiNodeMode(config),
  });
  const deps: AppDeps = {
    config,
    orm,
    log,
    storage,
    mailer,
    credentials,
    now: () => new Date(),
    views: createViews({ watch: options.watchViews ?? false }),
    cookieSecret,
    masterKey: masterKey.key,
    version: VERSION,
    setupState: { complete: await isSetupComplete(orm.em) },
    // prom-client loads only where /metrics is switched on.
    ...(config.metricsToken || config.metricsAllow.length > 0
      ? { metrics: (await import('./metrics/metrics.ts')).createMetrics(config.databasePath) }
      : {}),
  };
  await warnWithoutPublicUrl(deps);
  if (deps.setupState.complete) await ensureConfiguredDefaultStorage({ ...deps, em: orm.em, now: new Date() });
  return {
    deps,
    migrationsApplied: applied,
    orm,
    credentials,
    storage,
    masterKey: masterKey.key,
    close: async () => {
      mailer.close();
      await orm.close();
    },
  };
}

/** Links in mail never come from request headers: say at start-up where they will point. */
async function warnWithoutPublicUrl({ config, orm, log, setupState }: AppDeps): Promise<void> {
  if (config.publicUrl) return;
  const pinned = await pinnedPublicOrigin(orm.em);
  if (pinned) {
    log.info(
      { publicUrl: pinned },
      'links in mail use the public address confirmed at setup (HOLDFAST_PUBLIC_URL overrides it)',
    );
  } else if (setupState.complete) {
    log.warn('HOLDFAST_PUBLIC_URL is not set: invitations and password-reset links cannot be mailed until it is');
  } else {
    log.warn('HOLDFAST_PUBLIC_URL is not set: the setup page asks for the public address links in mail use');
  }
}

/** What jobs and the scheduler run with, in the main thread. */
export function workContext(kernel: Kernel): WorkContext {
  const { deps } = kernel;
  return {
    orm: kernel.orm,
    settings: deps.config,
    credentials: kernel.credentials,
    storage: kernel.storage,
    services: servicePlugin,
    log: deps.log.child({ component: 'jobs' }),
    now: deps.now,
  };
}

export interface RunningAppliance {
  kernel: Kernel;
  /** Undefined when HOLDFAST_SCHEDULER_INTERVAL_SECONDS is 0 or the node is a web node. */
  runner: JobRunner | undefined;
  server: ServerType;
  url: string;
  port: number;
  /** Graceful stop; resolves when everything is closed. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startAppliance(config: Config, log: Logger): Promise<RunningAppliance> {
  const kernel = await openKernel(config, log);
  // A worker node answers health checks only; the UI and API are the web nodes' (HOLDFAST_NODE_ROLE).
  const app = servesWeb(config.nodeRole) ? createApp(kernel.deps) : workerNodeApp(kernel.deps);
  // Locks a killed appliance left behind would hold up prune until they expire.
  kernel.storage.removeStaleLocks?.().then(
    ({ removed, unreachable }) => {
      if (removed || unreachable.length) log.info({ removed, unreachable }, 'removed stale repository locks');
    },
    (err: unknown) => log.warn({ err }, 'could not look for stale repository locks'),
  );

  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(s));
    s.once('error', reject);
  }).catch(async (err: NodeJS.ErrnoException) => {
    await kernel.close();
    if (err.code === 'EADDRINUSE') throw new Error(`port ${config.port} is already in use (HOLDFAST_PORT)`);
    if (err.code === 'EACCES') throw new Error(`not allowed to listen on port ${config.port} (HOLDFAST_PORT)`);
    if (err.code === 'ENOTFOUND' || err.code === 'EADDRNOTAVAIL' || err.code === 'EAI_AGAIN') {
      throw new Error(`cannot listen on address ${config.host}: ${err.code} (HOLDFAST_HOST)`);
    }
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${shownHost}:${port}`;

  // Jobs and the scheduler. The scheduler also runs the hourly housekeeping (core/maintenance.ts:
  // expired sessions, purge of removed accounts); a node without a scheduler runs it on its own
  // timer. Lapsed job leases are looked for at least twice per lease period.
  let runner: JobRunner | undefined;
  let scheduler: Scheduler | undefined;
  let maintenance: ReturnType<typeof startMaintenanceTimer> | undefined;
  let verification: ReturnType<typeof startVerificationTimer> | undefined;
  let cleanUp: Promise<void> | undefined;
  const stopCleanUp = new AbortController();
  let sender: SenderLoop | undefined;
  let webhooks: WebhookLoop | undefined;
  let configBackup: ConfigBackupLoop | undefined;
  let integrations: IntegrationLoop | undefined;
  // A web node runs none of it: it queues jobs, the worker nodes claim them.
  if (config.schedulerIntervalSeconds > 0 && runsJobs(config.nodeRole)) {
    const ctx = workContext(kernel);
    // Background work one node of a cluster does at a time holds a named lease (PostgreSQL;
    // core/scheduler/singleton.ts): the sender of integration events, scheduled verification, the
    // configuration backup, and (in the scheduler) the hourly housekeeping.
    const node = leaseOwner();
    const alone =
      (name: string, ttlMs: number): RoundGuard =>
      (round) =>
        runAlone({ em: () => kernel.orm.em.fork(), name, owner: node, ttlMs, now: kernel.deps.now }, round);
    // Changes restores left at services when the appliance died under them (automation switched
    // off…): listed before the runner claims anything, undone in the background, by one node of
    // a cluster at a time.
    cleanUp = (
      await startRestoreCleanUp({
        ...ctx,
        em: kernel.orm.em,
        signal: stopCleanUp.signal,
        guard: alone('restore-clean-up', 60_000),
      })
    ).done;
    const executor =
      config.jobRunner === 'worker' ? new WorkerExecutor(ctx, config, kernel.masterKey) : new InlineExecutor(ctx);
    runner = new JobRunner(ctx, executor, kernel.deps.metrics);
    scheduler = new Scheduler(ctx, runner, node);
    runner.start(1000);
    // Notification mail is sent beside the job runner, on its own loop: a slow or down mail server never holds a job.
    sender = startNotificationSender(
      kernel.orm,
      kernel.deps.mailer,
      config,
      log.child({ component: 'notifications' }),
      kernel.deps.now,
      Math.min(config.schedulerIntervalSeconds, 10) * 1000,
    );
    webhooks = startWebhookSender(
      { orm: kernel.orm, cipher: kernel.credentials, settings: config, log: log.child({ component: 'webhooks' }) },
      kernel.deps.now,
      Math.min(config.schedulerIntervalSeconds, 10) * 1000,
    );
    // Integrations (Splunk …) read the event logs from their cursors on the same rhythm: within a minute.
    integrations = startIntegrationSender(
      { orm: kernel.orm, cipher: kernel.credentials, settings: config, log: log.child({ component: 'integrations' }) },
      kernel.deps.now,
      Math.min(config.schedulerIntervalSeconds, 10) * 1000,
      alone('integration-sender', 60_000),
    );
    scheduler.start(Math.min(config.schedulerIntervalSeconds * 1000, (config.jobLeaseSeconds * 1000) / 2));
    // The encrypted configuration backup in every storage location (core/dr/): losing the
    // appliance then loses no settings.
    if (config.configBackupDelaySeconds > 0) {
      configBackup = new ConfigBackupLoop(
        () => ({
          em: kernel.orm.em.fork(),
          credentials: kernel.credentials,
          masterKey: kernel.masterKey,
          storageDir: config.storageDir,
          now: kernel.deps.now(),
        }),
        log.child({ component: 'config-backup' }),
        alone('configuration-backup', 60_000),
      );
      configBackup.start(config.configBackupDelaySeconds * 1000);
    }
    // Scheduled verification of the storage locations: due ones run at the hourly check.
    verification = startVerificationTimer(
      kernel.orm,
      { storage: kernel.storage, log: log.child({ component: 'verification' }) },
      kernel.deps.now,
      undefined,
      alone('scheduled-verification', 5 * 60_000),
    );
  } else if (!multiNodeMode(config)) {
    // In multi-node mode the workers' scheduler runs the housekeeping.
    maintenance = startMaintenanceTimer(kernel.orm, log, kernel.deps.now, undefined, config);
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      maintenance?.stop();
      verification?.stop();
      sender?.stop();
      webhooks?.stop();
      integrations?.stop();
      // A tick in progress (a purge) finishes before the database closes.
      await scheduler?.stop();
      stopCleanUp.abort();
      await cleanUp;
      // Running jobs get half the shutdown timeout to finish; then they are put back in the queue.
      await Promise.all([
        runner?.stop(config.shutdownTimeoutMs / 2),
        closeServer(server, config.shutdownTimeoutMs, log),
      ]);
      await maintenance?.current();
      await sender?.current();
      await webhooks?.current();
      await configBackup?.stop();
      await integrations?.current();
      await kernel.close();
    })();
    return stopping;
  };

  return { kernel, runner, server, url, port, stop };
}

/** Stops accepting, lets in-flight requests finish, then closes what is left at the deadline. */
function closeServer(server: ServerType, timeoutMs: number, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const http = server as import('node:http').Server;
    const deadline = setTimeout(() => {
      log.warn('shutdown timeout reached: closing remaining connections');
      http.closeAllConnections?.();
    }, timeoutMs);
    // Keep-alive connections that go idle after their last response are closed as they do.
    const idle = setInterval(() => http.closeIdleConnections?.(), 100);
    server.close(() => {
      clearTimeout(deadline);
      clearInterval(idle);
      resolve();
    });
    http.closeIdleConnections?.();
  });
}
