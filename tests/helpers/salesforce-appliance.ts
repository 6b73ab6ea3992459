// A Salesforce task of the stand-in's org for the appliance as a real process (jobs in worker
// threads): made and discovered through a kernel opened on the data folder, its backups queued
// there and followed in the database; its repository's snapshots read back. Used by the SIGKILL
// test and bench/salesforce.ts.
import type { MikroORM } from '@mikro-orm/core';
import type { Config } from '../../config/schema.ts';
import { type Kernel, openKernel } from '../../core/appliance.ts';
import { openDatabase } from '../../core/db/database.ts';
import { Organization } from '../../core/identity/entities.ts';
import { type IJob, Job } from '../../core/jobs/entities.ts';
import { createLogger } from '../../core/logging.ts';
import { servicePlugin } from '../../core/plugins/registry.ts';
import { discoverEntities } from '../../core/tasks/discovery.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../../core/tasks/entities.ts';
import { backupNow } from '../../core/tasks/entity-actions.ts';
import { createTask } from '../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND } from '../../plugins/services/salesforce/index.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import type { FakeSalesforce } from '../fakes/salesforce/index.ts';
import { testConfig } from './config.ts';

export interface SalesforceApplianceTask {
  kernel: Kernel;
  db: MikroORM;
  config: Config;
  task: IBackupTask;
  organizationId: string;
  /** Entity id by name (object API name, or metadata type). */
  entities: Map<string, string>;
  /** Queues a backup of the named entities (all without names); returns the job ids. */
  queue(names?: string[]): Promise<string[]>;
  job(id: string): Promise<IJob>;
  /** The entity's snapshots in the repository, oldest first. */
  snapshots(name: string): Promise<{ id: string }[]>;
  /** The records (key → fields) of a snapshot. */
  records(snapshotId: string): Promise<Map<string, Record<string, unknown>>>;
  close(): Promise<void>;
}

/** The appliance settings (HOLDFAST_SALESFORCE_*) of a connected app at the stand-in. */
export function salesforceAppEnv(fake: FakeSalesforce): Record<string, string> {
  return {
    HOLDFAST_SALESFORCE_CLIENT_ID: fake.clientId,
    HOLDFAST_SALESFORCE_CLIENT_SECRET: fake.clientSecret,
    HOLDFAST_SALESFORCE_LOGIN_URL: fake.url,
  };
}

export async function salesforceApplianceTask(
  fake: FakeSalesforce,
  dataDir: string,
  env: Record<string, string>,
): Promise<SalesforceApplianceTask> {
  const config = testConfig(dataDir, env);
  const kernel = await openKernel(config, createLogger('silent'));
  const em = kernel.orm.em.fork();
  const organizationId = crypto.randomUUID();
  const org = em.create(Organization, {
    id: organizationId,
    kind: 'root',
    path: `/${organizationId}/`,
    name: 'Salesforce customer',
  });
  await em.flush();
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
      name: 'Salesforce backup',
      connection: {
        environment: 'production',
        orgId: fake.org.id,
        orgName: fake.org.name,
        refreshToken: fake.grant().refreshToken,
      },
      settings: {},
    },
    { label: 'admin@stand-in.example' },
  );
  await discoverEntities(em, task, servicePlugin(SALESFORCE_KIND) as never, kernel.credentials, {
    signal: AbortSignal.timeout(60_000),
    log: kernel.deps.log,
    now: new Date(),
  });
  const found = await em.find(TaskEntity, { task });
  const entities = new Map(found.map((e) => [e.name, e.id]));
  const externalIds = new Map(found.map((e) => [e.name, e.externalId]));
  const db = await openDatabase(config);
  const open = () => kernel.storage.open({ id: task.id, organizationId, storageLocation: null });

  return {
    kernel,
    db,
    config,
    task,
    organizationId,
    entities,
    async queue(names) {
      const ids = names ? names.map((n) => entities.get(n) as string) : [...entities.values()];
      const e = kernel.orm.em.fork();
      const { jobIds } = await backupNow(
        e,
        await e.findOneOrFail(BackupTask, { id: task.id }),
        ids,
        { kind: 'user', label: 'admin@stand-in.example' },
        new Date(),
        3,
      );
      return jobIds;
    },
    job: (id) => db.em.fork().findOneOrFail(Job, { id }),
    async snapshots(name) {
      const opened = await open();
      try {
        return (await opened.repo.listSnapshots()).filter((s) => s.manifest.entity === externalIds.get(name));
      } finally {
        await opened.close();
      }
    },
    async records(snapshotId) {
      const opened = await open();
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
    },
    async close() {
      await db.close();
      await kernel.close();
    },
  };
}
