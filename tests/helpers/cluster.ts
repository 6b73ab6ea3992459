// Several appliance nodes on one PostgreSQL database and one S3 stand-in (s3rver), as the
// scale-out mode runs them: an in-process web node that sets the appliance up (its default
// storage location is the S3 stand-in: local disk is refused in multi-node mode) and worker
// nodes as real child processes, which a test may SIGKILL. Used by the multi-node tests and by
// bench/scale.ts.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/core';
import type { IOrganization } from '../../core/identity/entities.ts';
import { servicePlugin } from '../../core/plugins/registry.ts';
import { discoverEntities } from '../../core/tasks/discovery.ts';
import { type IBackupTask, TaskEntity } from '../../core/tasks/entities.ts';
import { createTask } from '../../core/tasks/tasks-service.ts';
import { TEST_SERVICE_KIND, type TestServiceInput, VALID_TOKEN } from '../fakes/test-service.ts';
import { tempDir } from './config.ts';
import { completeSetupVia, createTestApp, type TestApp } from './kernel.ts';
import { baseEnv, type RunningProcess, repoRoot, startApplianceProcess } from './process.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS } from './s3rver.ts';

export const CLUSTER_BUCKET = 'cluster';

/** The settings every node of the cluster shares. */
export function clusterEnv(databaseUrl: string, s3: LoopbackS3, extra: Record<string, string> = {}) {
  return {
    HOLDFAST_DATABASE_URL: databaseUrl,
    // One key for all: sealed secrets and session cookies must read the same on every node.
    HOLDFAST_MASTER_KEY: randomBytes(32).toString('base64'),
    HOLDFAST_PLUGINS: join(repoRoot, 'tests/fakes/test-service.ts'),
    HOLDFAST_DEFAULT_STORAGE_KIND: 's3',
    HOLDFAST_DEFAULT_STORAGE_NAME: 'Shared S3',
    HOLDFAST_DEFAULT_STORAGE_ENDPOINT: s3.endpoint,
    HOLDFAST_DEFAULT_STORAGE_BUCKET: CLUSTER_BUCKET,
    HOLDFAST_DEFAULT_STORAGE_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    HOLDFAST_DEFAULT_STORAGE_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    HOLDFAST_DEFAULT_STORAGE_FORCE_PATH_STYLE: 'true',
    HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1',
    ...extra,
  };
}

/** The in-process web node, with setup done (first administrator, the S3 default location). */
export async function startWebNode(env: Record<string, string>): Promise<TestApp> {
  const web = await createTestApp({ ...env, HOLDFAST_NODE_ROLE: 'web' });
  const res = await completeSetupVia(web.app);
  if (res.status !== 303) throw new Error(`setup answered ${res.status}`);
  return web;
}

export interface WorkerNode extends RunningProcess {
  /** The process id, which names the node in job lease owners (host/pid/…). */
  pid: number;
  stop(): Promise<void>;
}

/** A worker node: `node core/main.ts` with HOLDFAST_NODE_ROLE=worker, in a data folder of its own. */
export async function startWorkerNode(env: Record<string, string>): Promise<WorkerNode> {
  const dir = tempDir('holdfast-node-');
  const p = await startApplianceProcess(baseEnv(dir.path, { ...env, HOLDFAST_NODE_ROLE: 'worker' }));
  return {
    ...p,
    pid: p.child.pid as number,
    stop: async () => {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
      dir.remove();
    },
  };
}

/** A backup task of the test service with its entities discovered, as the UI would make it. */
export async function makeTestTask(
  web: TestApp,
  em: EntityManager,
  org: IOrganization,
  connection: Partial<TestServiceInput>,
): Promise<{ task: IBackupTask; entityIds: string[] }> {
  const { kernel } = web;
  const deps = {
    credentials: kernel.credentials,
    services: servicePlugin,
    now: () => new Date(),
    log: kernel.deps.log,
  };
  const task = await createTask(
    em,
    deps,
    org,
    {
      service: TEST_SERVICE_KIND,
      name: `Backup of ${org.name}`,
      connection: { account: `acct-${org.id.slice(0, 8)}`, token: VALID_TOKEN, ...connection },
      settings: {},
    },
    { label: 'admin@acme.example' },
  );
  // Its schedule's first slot counts as queued: the only backups are the ones a test asks for.
  task.lastScheduledFor = new Date();
  await em.flush();
  const plugin = servicePlugin(TEST_SERVICE_KIND);
  if (!plugin) throw new Error('HOLDFAST_PLUGINS did not register the test service');
  await discoverEntities(em, task, plugin, kernel.credentials, {
    signal: AbortSignal.timeout(30_000),
    log: kernel.deps.log,
    now: new Date(),
  });
  const entities = await em.find(TaskEntity, { task }, { orderBy: { externalId: 'asc' } });
  return { task, entityIds: entities.map((e) => e.id) };
}
