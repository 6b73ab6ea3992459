// An in-process appliance kernel with the test service registered, a clock the test moves, and
// a job runner executing jobs inline — so tasks, schedules and jobs are tested step by step.
import type { EntityManager } from '@mikro-orm/core';
import { workContext } from '../../core/appliance.ts';
import { type IOrganization, Organization } from '../../core/identity/entities.ts';
import type { WorkContext } from '../../core/jobs/context.ts';
import { InlineExecutor } from '../../core/jobs/executors.ts';
import { JobRunner } from '../../core/jobs/runner.ts';
import { registerServicePlugin } from '../../core/plugins/registry.ts';
import type { IBackupTask } from '../../core/tasks/entities.ts';
import type { TaskSettings } from '../../core/tasks/settings.ts';
import { createTask, type TaskServiceDeps } from '../../core/tasks/tasks-service.ts';
import testServicePlugin, { TEST_SERVICE_KIND, type TestServiceInput, VALID_TOKEN } from '../fakes/test-service.ts';
import { createTestApp, type TestApp } from './kernel.ts';

export const ACTOR = { label: 'admin@acme.example', id: 'test-user' } as const;

export interface JobsHarness {
  app: TestApp;
  ctx: WorkContext;
  runner: JobRunner;
  deps: TaskServiceDeps;
  clock: { now: Date };
  em(): EntityManager;
  /** A fresh organization of its own (tests stay independent inside one file). */
  organization(name?: string): Promise<IOrganization>;
  task(
    org: IOrganization,
    connection?: Partial<TestServiceInput>,
    settings?: Partial<Record<keyof TaskSettings, unknown>>,
  ): Promise<IBackupTask>;
  advance(ms: number): void;
  close(): Promise<void>;
}

export async function createJobsHarness(env: Record<string, string> = {}): Promise<JobsHarness> {
  registerServicePlugin(testServicePlugin as never);
  const app = await createTestApp({ HOLDFAST_JOB_RETRY_BASE_SECONDS: '60', ...env });
  // Starts at the real time: prune compares the clock with the files' real modification times.
  const clock = { now: new Date(Math.floor(Date.now() / 1000) * 1000) };
  const base = workContext(app.kernel);
  const ctx: WorkContext = { ...base, now: () => clock.now };
  const runner = new JobRunner(ctx, new InlineExecutor(ctx), app.kernel.deps.metrics);
  const deps: TaskServiceDeps = { credentials: ctx.credentials, services: ctx.services, now: ctx.now, log: ctx.log };
  const em = () => app.kernel.orm.em.fork();
  return {
    app,
    ctx,
    runner,
    deps,
    clock,
    em,
    async organization(name = 'Customer') {
      const e = em();
      const id = crypto.randomUUID();
      const org = e.create(Organization, { id, kind: 'root', path: `/${id}/`, name });
      await e.flush();
      return org;
    },
    async task(org, connection = {}, settings = {}) {
      const e = em();
      return createTask(
        e,
        deps,
        e.getReference(Organization, org.id),
        {
          service: TEST_SERVICE_KIND,
          name: 'Test backup',
          connection: { account: `acct-${org.id.slice(0, 8)}`, token: VALID_TOKEN, ...connection },
          settings,
        },
        ACTOR,
      );
    },
    advance(ms) {
      clock.now = new Date(clock.now.getTime() + ms);
    },
    async close() {
      await runner.stop(1000);
      await app.close();
    },
  };
}
