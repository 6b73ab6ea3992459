// Salesforce tasks against the loopback stand-in, through the real kernel: the appliance is
// configured with the stand-in as the connector's login host (HOLDFAST_SALESFORCE_*) and fast
// retries, a task is connected with a
// refresh token the stand-in granted, and backups run as jobs. Also: reading a snapshot back.
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND, tuneSalesforce } from '../../../plugins/services/salesforce/index.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { FakeSalesforce, type Org } from '../../fakes/salesforce/index.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

export interface SalesforceHarness {
  fake: FakeSalesforce;
  h: JobsHarness;
  /** The org's clock (ms): tests move it between runs. */
  clock: { now: number };
  close(): Promise<void>;
}

/** The appliance settings (HOLDFAST_SALESFORCE_*) of a connected app at the stand-in. */
export function salesforceEnv(fake: FakeSalesforce): Record<string, string> {
  return {
    HOLDFAST_SALESFORCE_CLIENT_ID: fake.clientId,
    HOLDFAST_SALESFORCE_CLIENT_SECRET: fake.clientSecret,
    HOLDFAST_SALESFORCE_LOGIN_URL: fake.url,
  };
}

export async function createSalesforceHarness(seed = 1, env: Record<string, string> = {}): Promise<SalesforceHarness> {
  const fake = await new FakeSalesforce({ seed }).start();
  const clock = { now: Date.parse('2026-12-01T08:00:00Z') };
  fake.org.now = () => new Date(clock.now);
  // Objects of 1000 rows or more are read in full through the Bulk API.
  tuneSalesforce({ retry: { attempts: 8, baseDelayMs: 1, maxDelayMs: 5 }, bulkThreshold: 1000, bulkPollMs: 1 });
  const h = await createJobsHarness({ ...salesforceEnv(fake), ...env });
  return {
    fake,
    h,
    clock,
    async close() {
      await h.close();
      await fake.stop();
    },
  };
}

export async function salesforceTask(
  s: SalesforceHarness,
  options: { org?: Org; apiUsageLimitPercent?: number } = {},
): Promise<IBackupTask> {
  const org = await s.h.organization();
  const e = s.h.em();
  const sfOrg = options.org ?? s.fake.org;
  return createTask(
    e,
    s.h.deps,
    e.getReference(Organization, org.id),
    {
      service: SALESFORCE_KIND,
      name: 'Salesforce backup',
      connection: {
        environment: 'production',
        orgId: sfOrg.id,
        orgName: sfOrg.name,
        refreshToken: s.fake.grant(sfOrg).refreshToken,
      },
      settings: options.apiUsageLimitPercent ? { apiUsageLimitPercent: options.apiUsageLimitPercent } : {},
    },
    ACTOR,
  );
}

export async function discover(s: SalesforceHarness, taskId: string) {
  const em = s.h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  return discoverEntities(em, task, servicePlugin(SALESFORCE_KIND) as never, s.h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: s.h.ctx.log,
    now: s.h.clock.now,
  });
}

export async function entity(s: SalesforceHarness, taskId: string, name: string) {
  return s.h.em().findOneOrFail(TaskEntity, { task: taskId, name });
}

/** Backs up the named objects (one job each) and returns the jobs. */
export async function backup(s: SalesforceHarness, taskId: string, names: string[]) {
  const em = s.h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  const ids = (await em.find(TaskEntity, { task: taskId, name: { $in: names } })).map((e) => e.id);
  const result = await backupNow(em, task, ids, { kind: 'user', ...ACTOR }, s.h.clock.now, 3);
  await s.h.runner.runUntilIdle();
  s.h.advance(60_000);
  return s.h.em().find(Job, { id: { $in: result.jobIds } });
}

/** The object's last snapshot: key → kind, meta, content (as text). */
export async function snapshotItems(
  s: SalesforceHarness,
  taskId: string,
  name: string,
): Promise<Map<string, { kind: string; meta: Record<string, unknown>; content: string }>> {
  const em = s.h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId }, { populate: ['organization'] });
  const e = await entity(s, taskId, name);
  const opened = await s.h.ctx.storage.open({
    id: task.id,
    organizationId: task.organization.id,
    storageLocation: task.storageLocation ?? null,
  });
  try {
    const reader = await SnapshotReader.open(opened.repo, e.lastSnapshotId as string);
    const out = new Map<string, { kind: string; meta: Record<string, unknown>; content: string }>();
    for await (const item of reader.items()) {
      const parts: Buffer[] = [];
      for await (const chunk of reader.content(item)) parts.push(chunk as Buffer);
      out.set(item.key, { kind: item.kind, meta: item.meta ?? {}, content: Buffer.concat(parts).toString() });
    }
    return out;
  } finally {
    await opened.close();
  }
}
