// Restore and export set-up shared by tests: a backup task of the test service with real
// snapshots, a caller to start jobs as, and reading ZIP archives back.
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { principalForApiKey } from '../../core/access/principal.ts';
import type { IOrganization, IUser } from '../../core/identity/entities.ts';
import type { StartContext } from '../../core/recovery/start.ts';
import { discoverEntities } from '../../core/tasks/discovery.ts';
import { BackupTask, type IBackupTask, type ITaskEntity, TaskEntity } from '../../core/tasks/entities.ts';
import { activateEntities, backupNow } from '../../core/tasks/entity-actions.ts';
import testServicePlugin, { type TestServiceInput } from '../fakes/test-service.ts';
import { ACTOR, type JobsHarness } from './jobs.ts';

export interface BackedUp {
  task: IBackupTask;
  entities: ITaskEntity[];
  /** The last snapshot of the first entity. */
  snapshotId: string;
}

/** A task whose first entity has `runs` snapshots (the others are discovered, not backed up). */
export async function backedUpTask(
  h: JobsHarness,
  org: IOrganization,
  connection: Partial<TestServiceInput> = {},
  runs = 1,
  name = 'Test backup',
): Promise<BackedUp> {
  const created = await h.task(org, { entities: 2, items: 5, changesPerRun: 1, ...connection }, { name });
  const em0 = h.em();
  const task = await em0.findOneOrFail(BackupTask, { id: created.id });
  task.name = name;
  await em0.flush();
  await discoverEntities(h.em(), task, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  const entities = await h.em().find(TaskEntity, { task: task.id }, { orderBy: { externalId: 'asc' } });
  const first = entities[0] as ITaskEntity;
  await activateEntities(h.em(), task, [first.id], ACTOR);
  for (let run = 0; run < runs; run++) {
    const em = h.em();
    await backupNow(
      em,
      await em.findOneOrFail(BackupTask, { id: task.id }),
      [first.id],
      { kind: 'user', ...ACTOR },
      h.clock.now,
      3,
    );
    await h.runner.runUntilIdle();
    // Snapshot times come from the real clock: keep them apart.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const fresh = await h.em().findOneOrFail(TaskEntity, { id: first.id });
  if (!fresh.lastSnapshotId) throw new Error('the backup did not commit');
  return { task, entities, snapshotId: fresh.lastSnapshotId };
}

/** Starts jobs as an API key of the organization (an administrator's scope). */
export function startContext(h: JobsHarness, org: IOrganization): StartContext {
  return {
    em: h.em(),
    principal: principalForApiKey(
      'hfk_testkey0000000000',
      org,
      { role: 'administrator', permissions: [], accessibleAccounts: 'all', accessibleOrganizationIds: [] },
      { id: 'creator' } as IUser,
    ),
    organization: org,
    actor: { label: 'API key hfk_testkey0000000000', id: 'hfk_testkey0000000000' },
    credentials: h.ctx.credentials,
    now: h.clock.now,
    maxAttempts: 3,
  };
}

/** Every entry of a ZIP file: name → content (folders end with "/" and have empty content). */
export function readZip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const entries = new Map<string, Buffer>();
      zip.on('error', reject);
      zip.on('end', () => resolve(entries));
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (openErr, stream) => {
          if (openErr || !stream) return reject(openErr);
          const chunks: Buffer[] = [];
          (stream as Readable).on('data', (c: Buffer) => chunks.push(c));
          (stream as Readable).on('end', () => {
            entries.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}
