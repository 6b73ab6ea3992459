// A real appliance process with the test service loaded (jobs in worker threads), its first-run
// administrator, and a backup task of one test-service entity made through a kernel opened on the
// same data folder — what browser tests of backups, jobs and recovery start from.
import { join } from 'node:path';
import { vi } from 'vitest';
import { type Kernel, openKernel } from '../../core/appliance.ts';
import { type IUser, User } from '../../core/identity/entities.ts';
import { Job } from '../../core/jobs/entities.ts';
import { createLogger } from '../../core/logging.ts';
import { servicePlugin } from '../../core/plugins/registry.ts';
import { discoverEntities } from '../../core/tasks/discovery.ts';
import { type IBackupTask, type ITaskEntity, TaskEntity } from '../../core/tasks/entities.ts';
import { backupNow } from '../../core/tasks/entity-actions.ts';
import { createTask } from '../../core/tasks/tasks-service.ts';
import { TEST_SERVICE_KIND, type TestServiceInput, VALID_TOKEN } from '../fakes/test-service.ts';
import { STEP_TIMEOUT_MS } from './budgets.ts';
import { testConfig } from './config.ts';
import { setupAdministrator } from './e2e.ts';
import { ADMIN } from './kernel.ts';
import { baseEnv, type RunningProcess, repoRoot, startApplianceProcess } from './process.ts';

export const JOB_ENV = {
  HOLDFAST_PLUGINS: join(repoRoot, 'tests/fakes/test-service.ts'),
  HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1',
};

export interface ApplianceWithTask {
  appliance: RunningProcess;
  kernel: Kernel;
  admin: IUser;
  task: IBackupTask;
  entity: ITaskEntity;
  /** Queues a backup of the entity and returns its job id. */
  backup(): Promise<string>;
  jobState(id: string): Promise<string>;
  /** Polls until `probe` returns a value (up to 60 s); the appliance's output is in the error. */
  waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T>;
  /** Queues a backup and waits for it to succeed. */
  backupAndWait(): Promise<void>;
  close(): Promise<void>;
}

export async function startApplianceWithTask(
  dataDir: string,
  taskName: string,
  connection: Partial<TestServiceInput>,
  /** More settings of the appliance (and of the kernel opened beside it). */
  env: Record<string, string> = {},
): Promise<ApplianceWithTask> {
  const appliance = await startApplianceProcess(baseEnv(dataDir, { ...JOB_ENV, ...env }));
  await setupAdministrator(appliance.url);
  const kernel = await openKernel(testConfig(dataDir, { ...JOB_ENV, ...env }), createLogger('silent'));
  const em = kernel.orm.em.fork();
  const admin = await em.findOneOrFail(User, { email: ADMIN.email }, { populate: ['organization'] });
  const task = await createTask(
    em,
    { credentials: kernel.credentials, services: servicePlugin, now: () => new Date(), log: kernel.deps.log },
    admin.organization,
    { service: TEST_SERVICE_KIND, name: taskName, connection: { token: VALID_TOKEN, entities: 1, ...connection } },
    { label: ADMIN.email },
  );
  await discoverEntities(em, task, servicePlugin(TEST_SERVICE_KIND) as never, kernel.credentials, {
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
    log: kernel.deps.log,
    now: new Date(),
  });
  const entity = await em.findOneOrFail(TaskEntity, { task });

  // A condition on the appliance's database, checked until it holds; the ceiling is for a hung job.
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    try {
      return await vi.waitFor(
        async () => {
          const value = await probe();
          if (value === undefined) throw new Error(`still waiting for ${what}`);
          return value;
        },
        { timeout: STEP_TIMEOUT_MS, interval: 100 },
      );
    } catch {
      throw new Error(`gave up waiting for ${what}\n${appliance.stdout().slice(-2000)}\n${appliance.stderr()}`);
    }
  };
  const jobState = async (id: string) =>
    (await kernel.orm.em.fork().findOneOrFail(Job, { id }, { disableIdentityMap: true })).state;
  const backup = async () => {
    const e = kernel.orm.em.fork();
    const { jobIds } = await backupNow(
      e,
      e.merge(task),
      [entity.id],
      { kind: 'user', label: ADMIN.email },
      new Date(),
      3,
    );
    return jobIds[0] as string;
  };
  return {
    appliance,
    kernel,
    admin,
    task,
    entity,
    backup,
    jobState,
    waitFor,
    async backupAndWait() {
      const id = await backup();
      await waitFor('a backup', async () => ((await jobState(id)) === 'succeeded' ? true : undefined));
    },
    async close() {
      await kernel.close();
      appliance.child.kill('SIGTERM');
      await appliance.exited;
    },
  };
}
