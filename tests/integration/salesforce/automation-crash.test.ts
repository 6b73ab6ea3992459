// "Disable triggers in restore" against the appliance's death: the real appliance process (jobs
// in worker threads) switches Account's trigger, validation rule and flow off for a restore, is
// killed with SIGKILL while the restore waits on Salesforce, and the next start switches exactly
// those back on through the kernel's start-up recovery (the job's lease has not even lapsed), and
// says so in System Activity.
import type { MikroORM } from '@mikro-orm/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { openKernel } from '../../../core/appliance.ts';
import { openDatabase } from '../../../core/db/database.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { enqueueJob } from '../../../core/jobs/queue.ts';
import { createLogger } from '../../../core/logging.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { PluginRecoveryStep, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND } from '../../../plugins/services/salesforce/index.ts';
import {
  type ApiError,
  FakeSalesforce,
  seedDemoAutomation,
  seedDemoMetadata,
  seedDemoOrg,
} from '../../fakes/salesforce/index.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../../helpers/process.ts';
import { salesforceEnv } from './harness.ts';

const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, p?: RunningProcess): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}${p ? `\n${p.stdout().slice(-3000)}\n${p.stderr()}` : ''}`);
}

describe('automation switched off for a restore, and the appliance killed', () => {
  it('is switched back on by the next start', async () => {
    const fake = await new FakeSalesforce().start();
    cleanups.push(() => fake.stop());
    const org = fake.org;
    seedDemoOrg(org, { accounts: 2, contactsPerAccount: 1 });
    seedDemoMetadata(fake.metadata());
    seedDemoAutomation(fake.metadata());
    const automation = () => {
      let validation = false;
      try {
        org.purge('Account', org.insert('Account', { Name: 'Probe without phone' }));
      } catch (err) {
        validation =
          ((err as ApiError).body as { errorCode: string }[])[0]?.errorCode === 'FIELD_CUSTOM_VALIDATION_EXCEPTION';
      }
      const id = org.insert('Account', { Name: 'Probe', Phone: '+1 555 0100' });
      const values = org.objects.get('account')?.records.get(id)?.values ?? {};
      org.purge('Account', id);
      return {
        validation,
        trigger: values.Description === 'Stamped by trigger',
        flow: values.Website === 'https://flow.example',
      };
    };
    const ON = { validation: true, trigger: true, flow: true };
    expect(automation()).toEqual(ON);

    const dir = tempDir();
    cleanups.push(dir.remove);
    const env = {
      ...salesforceEnv(fake),
      HOLDFAST_JOB_LEASE_SECONDS: '60',
      HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1',
    };
    const config = testConfig(dir.path, env);

    // A Salesforce task with its ApexClass components queued for a backup.
    const kernel = await openKernel(config, createLogger('silent'));
    const em = kernel.orm.em.fork();
    const orgId = crypto.randomUUID();
    const owner = em.create(Organization, { id: orgId, kind: 'root', path: `/${orgId}/`, name: 'Crash test' });
    await em.flush();
    const plugin = servicePlugin(SALESFORCE_KIND);
    if (!plugin) throw new Error('the Salesforce plugin is not registered');
    const deps = {
      credentials: kernel.credentials,
      services: servicePlugin,
      now: () => new Date(),
      log: kernel.deps.log,
    };
    const task = await createTask(
      em,
      deps,
      owner,
      {
        service: SALESFORCE_KIND,
        name: 'Crash test',
        connection: { environment: 'production', orgId: org.id, refreshToken: fake.grant().refreshToken },
        settings: { autoActivate: false },
      },
      { label: 'admin@crash.example' },
    );
    await discoverEntities(em, task, plugin, kernel.credentials, {
      signal: AbortSignal.timeout(30_000),
      log: kernel.deps.log,
      now: new Date(),
    });
    const apex = await em.findOneOrFail(TaskEntity, { task, name: 'ApexClass' });
    const { jobIds } = await backupNow(
      em,
      task,
      [apex.id],
      { kind: 'user', label: 'admin@crash.example' },
      new Date(),
      1,
    );
    await kernel.close();

    const db: MikroORM = await openDatabase(config);
    cleanups.push(() => db.close());

    // First life: the backup, then a restore with "Disable triggers in restore".
    const first = await startApplianceProcess(baseEnv(dir.path, env));
    cleanups.push(() => {
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
    });
    const backedUp = await waitFor(
      'the backup',
      async () => {
        const job = await db.em.fork().findOneOrFail(Job, { id: jobIds[0] as string });
        return ['succeeded', 'failed'].includes(job.state) ? job : undefined;
      },
      first,
    );
    expect([backedUp.state, backedUp.error]).toEqual(['succeeded', null]);
    const snapshotId = (await db.em.fork().findOneOrFail(TaskEntity, { id: apex.id })).lastSnapshotId as string;

    const hold = fake.deployApi.hold((d) => d.checkOnly);
    cleanups.push(() => hold.release());
    const restoreId = await enqueueJob(
      db.em.fork(),
      {
        organizationId: orgId,
        kind: 'restore',
        label: 'Restore of ApexClass',
        taskId: task.id,
        entityId: apex.id,
        initiator: { kind: 'user', id: null, label: 'admin@crash.example' },
        params: {
          snapshotId,
          snapshotTime: null,
          entityId: apex.id,
          selection: {},
          destinationEntityId: apex.id,
          mode: 'in_place',
          options: { disableAutomation: true, automationObjects: ['Account'] },
        },
        maxAttempts: 1,
      },
      new Date(),
    );
    // The restore waits on its check-only deploy: Account's automation is off, the step recorded.
    await hold.reached;
    expect(automation()).toEqual({ validation: false, trigger: false, flow: false });
    const steps = await db.em.fork().find(PluginRecoveryStep, { task: task.id });
    expect(steps.map((s) => [s.jobId, s.pluginKind, s.payload.action])).toEqual([
      [restoreId, 'salesforce', 'automation-on'],
    ]);

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect((await db.em.fork().findOneOrFail(Job, { id: restoreId })).state).toBe('in_progress');
    expect(automation()).toEqual({ validation: false, trigger: false, flow: false });

    // Second life: the start-up recovery switches exactly that back on (the lease of the killed
    // job has 60 s to run: it is not what triggers it).
    const second = await startApplianceProcess(baseEnv(dir.path, env));
    cleanups.push(async () => {
      second.child.kill('SIGTERM');
      await second.exited;
    });
    await waitFor('the step to be run', async () =>
      (await db.em.fork().count(PluginRecoveryStep, { task: task.id })) === 0 ? true : undefined,
    );
    expect(automation()).toEqual(ON);
    expect((await db.em.fork().findOneOrFail(Job, { id: restoreId })).state).toBe('in_progress');
    const rows = await db.em.fork().find(ActivityEvent, { activity: 'Restore clean-up', taskId: task.id });
    expect(rows.map((r) => [r.status, r.summary])).toEqual([
      [
        'succeeded',
        expect.stringContaining(
          'it was undone when the appliance started (switch back on ApexTrigger AccountStamp, ValidationRule Account.Require_Phone, Flow Account_Website',
        ),
      ],
    ]);
  }, 300_000);
});
