// SIGKILL of the appliance in the middle of a Salesforce backup (the appliance as a real process,
// its jobs in worker threads, the stand-in in this process): no partial snapshot ever appears,
// the previous snapshot stays whole and readable, and after the restart the job resumes once its
// lease lapses and completes (or fails with its reason) — never a half-written snapshot.
import type { MikroORM } from '@mikro-orm/core';
import { afterAll, describe, expect, it } from 'vitest';
import { openKernel } from '../../../core/appliance.ts';
import { openDatabase } from '../../../core/db/database.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { createLogger } from '../../../core/logging.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND } from '../../../plugins/services/salesforce/index.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { FakeSalesforce, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../../helpers/process.ts';
import { salesforceEnv } from './harness.ts';

const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, p?: RunningProcess): Promise<T> {
  for (let i = 0; i < 900; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}${p ? `\n${p.stdout().slice(-3000)}\n${p.stderr()}` : ''}`);
}

describe('SIGKILL of the appliance during a Salesforce backup', () => {
  it('leaves no partial snapshot, keeps the previous one readable, and resumes the job after the restart', async () => {
    const fake = await new FakeSalesforce({ seed: 5 }).start();
    cleanups.push(() => fake.stop());
    seedDemoOrg(fake.org, { accounts: 300, contactsPerAccount: 10 });
    fake.pageSize = 200;
    const dir = tempDir();
    cleanups.push(dir.remove);
    const env = {
      ...salesforceEnv(fake),
      // Long enough that a worker's renewals (every third of it) survive a busy machine's stalls.
      HOLDFAST_JOB_LEASE_SECONDS: '10',
      HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1',
      HOLDFAST_JOB_MAX_ATTEMPTS: '3',
    };
    const config = testConfig(dir.path, env);

    // A task of the stand-in's org, its objects discovered, through a kernel on the data folder.
    const kernel = await openKernel(config, createLogger('silent'));
    const em = kernel.orm.em.fork();
    const orgId = crypto.randomUUID();
    const org = em.create(Organization, { id: orgId, kind: 'root', path: `/${orgId}/`, name: 'Crash test' });
    await em.flush();
    const plugin = servicePlugin(SALESFORCE_KIND);
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
        service: SALESFORCE_KIND,
        name: 'Salesforce crash test',
        connection: {
          environment: 'production',
          orgId: fake.org.id,
          orgName: fake.org.name,
          refreshToken: fake.grant().refreshToken,
        },
        settings: {},
      },
      { label: 'admin@crash.example' },
    );
    await discoverEntities(em, task, plugin as never, kernel.credentials, {
      signal: AbortSignal.timeout(10_000),
      log: kernel.deps.log,
      now: new Date(),
    });
    const entity = await em.findOneOrFail(TaskEntity, { task, name: 'Contact' });
    const queue = async () => {
      const { jobIds } = await backupNow(
        kernel.orm.em.fork(),
        await kernel.orm.em.fork().findOneOrFail(BackupTask, { id: task.id }),
        [entity.id],
        { kind: 'user', label: 'admin@crash.example' },
        new Date(),
        3,
      );
      return jobIds[0] as string;
    };
    const snapshots = async () => {
      const opened = await kernel.storage.open({ id: task.id, organizationId: orgId, storageLocation: null });
      try {
        return (await opened.repo.listSnapshots()).filter((s) => s.manifest.entity === entity.externalId);
      } finally {
        await opened.close();
      }
    };
    const contactsIn = async (snapshotId: string) => {
      const opened = await kernel.storage.open({ id: task.id, organizationId: orgId, storageLocation: null });
      try {
        const reader = await SnapshotReader.open(opened.repo, snapshotId);
        const out = new Map<string, Record<string, unknown>>();
        for await (const item of reader.items()) {
          if (item.kind !== 'record') continue;
          const parts: Buffer[] = [];
          for await (const chunk of reader.content(item)) parts.push(chunk as Buffer);
          out.set(item.key, JSON.parse(Buffer.concat(parts).toString()));
        }
        return out;
      } finally {
        await opened.close();
      }
    };

    const db: MikroORM = await openDatabase(config);
    cleanups.push(() => db.close());
    const job = (id: string) => db.em.fork().findOneOrFail(Job, { id });
    const start = async () => {
      const p = await startApplianceProcess(baseEnv(dir.path, env));
      cleanups.push(() => {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      });
      return p;
    };

    // A first snapshot, made by the appliance process.
    const first = await start();
    const firstJob = await queue();
    const done = await waitFor(
      'the first backup',
      async () => {
        const j = await job(firstJob);
        return ['succeeded', 'failed'].includes(j.state) ? j : undefined;
      },
      first,
    );
    expect([done.state, done.error]).toEqual(['succeeded', null]);
    const [previous] = await snapshots();
    expect(previous).toBeDefined();
    expect((await contactsIn(previous?.id as string)).size).toBe(3000);

    // A new field: the next run reads all 3000 contacts again (15 pages), slowly enough to be killed.
    fake.org.addField('Contact', { name: 'Region__c', type: 'picklist', custom: true });
    fake.latencyMs = 250;
    fake.resetCounters();
    const killedJob = await queue();
    await waitFor(
      'the second backup to read a few pages',
      async () => (fake.count('queryMore') >= 3 ? true : undefined),
      first,
    );
    expect((await job(killedJob)).state).toBe('in_progress');
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    // Killed: only the previous snapshot exists, whole; the entity still points at it.
    expect((await snapshots()).map((s) => s.id)).toEqual([previous?.id]);
    expect((await db.em.fork().findOneOrFail(TaskEntity, { id: entity.id })).lastSnapshotId).toBe(previous?.id);
    const kept = await contactsIn(previous?.id as string);
    expect([...kept.keys()].sort()).toEqual(fake.org.liveIds('Contact').sort());
    for (const record of kept.values()) expect(record).not.toHaveProperty('Region__c');

    // Restarted: the job resumes once its lease lapses, and ends.
    fake.latencyMs = 0;
    const second = await start();
    const ended = await waitFor(
      'the killed job to end',
      async () => {
        const j = await job(killedJob);
        return ['succeeded', 'failed'].includes(j.state) ? j : undefined;
      },
      second,
    );
    expect(ended.log.some((l) => l.message.startsWith('the appliance stopped during the run'))).toBe(true);
    expect([ended.state, ended.attempts]).toEqual(['succeeded', 2]);
    const after = await snapshots();
    expect(after.map((s) => s.id)).toContain(previous?.id);
    expect(after).toHaveLength(2);
    const latest = after.find((s) => s.id !== previous?.id);
    const read = await contactsIn(latest?.id as string);
    expect(read.size).toBe(3000);
    for (const record of read.values()) expect(record).toHaveProperty('Region__c', null);
    // The previous snapshot is still whole.
    expect((await contactsIn(previous?.id as string)).size).toBe(3000);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await kernel.close();
  }, 180_000);
});
