// SIGKILL of the appliance in the middle of a Salesforce backup (the appliance as a real process,
// its jobs in worker threads, the stand-in in this process): no partial snapshot ever appears,
// the previous snapshot stays whole and readable, and after the restart the job resumes once its
// lease lapses and completes — never a half-written snapshot.
import { afterAll, describe, expect, it } from 'vitest';
import { TaskEntity } from '../../../core/tasks/entities.ts';
import { FakeSalesforce, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { tempDir } from '../../helpers/config.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../../helpers/process.ts';
import { salesforceAppEnv, salesforceApplianceTask } from '../../helpers/salesforce-appliance.ts';

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
      ...salesforceAppEnv(fake),
      // Long enough that a worker's renewals (every third of it) survive a busy machine's stalls.
      HOLDFAST_JOB_LEASE_SECONDS: '10',
      HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1',
      HOLDFAST_JOB_MAX_ATTEMPTS: '3',
    };
    const sf = await salesforceApplianceTask(fake, dir.path, env);
    cleanups.push(() => sf.close());
    const start = async () => {
      const p = await startApplianceProcess(baseEnv(dir.path, env));
      cleanups.push(() => {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      });
      return p;
    };
    const ended = (id: string, p: RunningProcess) =>
      waitFor(
        `job ${id} to end`,
        async () => {
          const j = await sf.job(id);
          return ['succeeded', 'failed'].includes(j.state) ? j : undefined;
        },
        p,
      );

    // A first snapshot, made by the appliance process.
    const first = await start();
    const done = await ended((await sf.queue(['Contact']))[0] as string, first);
    expect([done.state, done.error]).toEqual(['succeeded', null]);
    const [previous] = await sf.snapshots('Contact');
    expect(previous).toBeDefined();
    expect((await sf.records(previous?.id as string)).size).toBe(3000);

    // A new field: the next run reads all 3000 contacts again (15 pages), slowly enough to be killed.
    fake.org.addField('Contact', { name: 'Region__c', type: 'picklist', custom: true });
    fake.latencyMs = 250;
    fake.resetCounters();
    const [killedJob] = (await sf.queue(['Contact'])) as [string];
    await waitFor(
      'the second backup to read a few pages',
      async () => (fake.count('queryMore') >= 3 ? true : undefined),
      first,
    );
    expect((await sf.job(killedJob)).state).toBe('in_progress');
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    // Killed: only the previous snapshot exists, whole; the entity still points at it.
    expect((await sf.snapshots('Contact')).map((s) => s.id)).toEqual([previous?.id]);
    const entity = await sf.db.em.fork().findOneOrFail(TaskEntity, { id: sf.entities.get('Contact') as string });
    expect(entity.lastSnapshotId).toBe(previous?.id);
    const kept = await sf.records(previous?.id as string);
    expect([...kept.keys()].sort()).toEqual(fake.org.liveIds('Contact').sort());
    for (const record of kept.values()) expect(record).not.toHaveProperty('Region__c');

    // Restarted: the job resumes once its lease lapses, and completes.
    fake.latencyMs = 0;
    const second = await start();
    const resumed = await ended(killedJob, second);
    expect(resumed.log.some((l) => l.message.startsWith('the appliance stopped during the run'))).toBe(true);
    expect([resumed.state, resumed.attempts]).toEqual(['succeeded', 2]);
    const after = await sf.snapshots('Contact');
    expect(after).toHaveLength(2);
    expect(after[0]?.id).toBe(previous?.id);
    const read = await sf.records(after[1]?.id as string);
    expect(read.size).toBe(3000);
    for (const record of read.values()) expect(record).toHaveProperty('Region__c', null);
    // The previous snapshot is still whole.
    expect((await sf.records(previous?.id as string)).size).toBe(3000);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 180_000);
});
