// The service conformance suite. Every connector runs it (plugin authors too), through the real
// kernel — task, discovery, backup and restore jobs, the repository — against a source the test
// controls:
//
//   runServiceConformance('my-service', async () => ({ h, plugin, connection, entityName, … }));
//
// It checks what docs/PLUGINS.md asks of a service plugin: discovery yields the entity with a
// declared kind; a first backup stores every file; the next run carries unchanged files over
// without reading them and records changes, additions and deletions; a non-destructive restore
// brings the same files back (round trip); a cancelled run stops and commits nothing; refused
// credentials leave the task Disconnected. The steps run in order on one task.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../core/identity/entities.ts';
import { Job } from '../../core/jobs/entities.ts';
import { requestCancel } from '../../core/jobs/queue.ts';
import type { ServicePlugin } from '../../core/plugins/service.ts';
import { restoredFolderName, startRestore } from '../../core/recovery/start.ts';
import { discoverEntities } from '../../core/tasks/discovery.ts';
import { BackupTask, type IBackupTask, type ITaskEntity, TaskEntity } from '../../core/tasks/entities.ts';
import { activateEntities, backupNow } from '../../core/tasks/entity-actions.ts';
import { createTask } from '../../core/tasks/tasks-service.ts';
import { SnapshotReader } from '../../storage/snapshot-reader.ts';
import { ACTOR, type JobsHarness } from '../helpers/jobs.ts';
import { startContext } from '../helpers/recovery.ts';

/** A connector and a source the suite can change, on a kernel that runs jobs inline. */
export interface ServiceUnderTest {
  /** A kernel with the plugin registered (tests/helpers/jobs.ts). */
  h: JobsHarness;
  plugin: ServicePlugin;
  /** The connection settings a new task stores, as its add-task flow would have made them. */
  connection(): Promise<Record<string, unknown>>;
  /** The name discovery gives the entity whose files the suite changes. */
  entityName: string;
  /** Creates or replaces a file of the entity at the source ("/name.txt"). */
  putFile(path: string, content: string): void | Promise<void>;
  removeFile(path: string): void | Promise<void>;
  /** The entity's files at the source now: path → content (folders left out). */
  files(): Promise<Map<string, string>>;
  /** What a non-destructive restore put into the folder it named `folderName`: path inside it → content. */
  restoredFiles(folderName: string): Promise<Map<string, string>>;
  /** How often the source has served this file's content. */
  reads(path: string): number;
  /** From now on the source refuses the task's credentials. */
  revoke(): void | Promise<void>;
  /** Content reads wait until `release()`; `reached` resolves when the first one waits. */
  hold(): { reached: Promise<void>; release(): void };
  close(): Promise<void>;
}

const sorted = (values: Iterable<string>) => [...values].sort();

export function runServiceConformance(name: string, setup: () => Promise<ServiceUnderTest>): void {
  describe(`service conformance: ${name}`, () => {
    let s: ServiceUnderTest;
    let org: IOrganization;
    let task: IBackupTask;
    let entity: ITaskEntity;

    const em = () => s.h.em();
    const freshEntity = () => em().findOneOrFail(TaskEntity, { id: entity.id });
    const freshTask = () => em().findOneOrFail(BackupTask, { id: task.id });

    async function startBackup(): Promise<string> {
      const e = em();
      const { jobIds } = await backupNow(
        e,
        await e.findOneOrFail(BackupTask, { id: task.id }),
        [entity.id],
        { kind: 'user', ...ACTOR },
        s.h.clock.now,
        1,
      );
      expect(jobIds).toHaveLength(1);
      return jobIds[0] as string;
    }

    async function backup() {
      const id = await startBackup();
      await s.h.runner.runUntilIdle();
      return em().findOneOrFail(Job, { id });
    }

    /** The contents of the files in the entity's last snapshot. */
    async function snapshotContents(): Promise<string[]> {
      const snapshotId = (await freshEntity()).lastSnapshotId;
      if (!snapshotId) throw new Error('no snapshot');
      const t = await freshTask();
      const opened = await s.h.ctx.storage.open({
        id: t.id,
        organizationId: org.id,
        storageLocation: t.storageLocation ?? null,
      });
      try {
        const reader = await SnapshotReader.open(opened.repo, snapshotId);
        const contents: string[] = [];
        for await (const item of reader.items()) {
          if (item.kind !== 'file') continue;
          const chunks: Buffer[] = [];
          for await (const chunk of reader.content(item)) chunks.push(Buffer.from(chunk as Uint8Array));
          contents.push(Buffer.concat(chunks).toString('utf8'));
        }
        return contents.sort();
      } finally {
        await opened.close();
      }
    }

    beforeAll(async () => {
      s = await setup();
      org = await s.h.organization(`Conformance ${name}`);
      const e = em();
      task = await createTask(
        e,
        s.h.deps,
        e.getReference(Organization, org.id),
        { service: s.plugin.kind, name: `${name} conformance`, connection: await s.connection(), settings: {} },
        ACTOR,
      );
    }, 60_000);

    afterAll(async () => {
      await s?.close();
    });

    it('discovers the entity the source holds, with a kind the plugin declares', async () => {
      await s.putFile('/alpha.txt', 'alpha: never changes');
      await s.putFile('/beta.txt', 'beta: first version');
      await s.putFile('/gamma.txt', 'gamma: deleted later');
      const report = await discoverEntities(em(), await freshTask(), s.plugin, s.h.ctx.credentials, {
        signal: AbortSignal.timeout(30_000),
        log: s.h.ctx.log,
        now: s.h.clock.now,
      });
      expect(report.found).toBeGreaterThanOrEqual(1);
      entity = await em().findOneOrFail(TaskEntity, { task: task.id, name: s.entityName });
      expect(s.plugin.entityKinds.map((k) => k.kind)).toContain(entity.kind);
      await activateEntities(em(), await freshTask(), [entity.id], ACTOR);
      expect((await freshTask()).connectionState).toBe('connected');
    });

    it('stores every file of the entity in a first backup', async () => {
      const job = await backup();
      expect(job.state).toBe('succeeded');
      expect(await snapshotContents()).toEqual(sorted((await s.files()).values()));
      expect(s.reads('/alpha.txt')).toBe(1);
    });

    it('carries unchanged files over unread and records changes, additions and deletions', async () => {
      const first = (await freshEntity()).lastSnapshotId;
      await s.putFile('/beta.txt', 'beta: second version');
      await s.putFile('/delta.txt', 'delta: added');
      await s.removeFile('/gamma.txt');
      const job = await backup();
      expect(job.state).toBe('succeeded');
      expect((await freshEntity()).lastSnapshotId).not.toBe(first);
      const contents = await snapshotContents();
      expect(contents).toEqual(sorted((await s.files()).values()));
      expect(contents).toEqual(['alpha: never changes', 'beta: second version', 'delta: added']);
      expect(s.reads('/alpha.txt')).toBe(1);
      expect(s.reads('/beta.txt')).toBe(2);
    });

    it('restores the snapshot into a new folder with the same files (round trip)', async () => {
      const source = await s.files();
      const current = await freshEntity();
      const started = await startRestore(startContext(s.h, org), {
        taskId: task.id,
        entityId: entity.id,
        snapshotId: current.lastSnapshotId as string,
        mode: 'non_destructive',
      });
      await s.h.runner.runUntilIdle();
      const job = await em().findOneOrFail(Job, { id: started.id });
      expect(job.state).toBe('succeeded');
      expect(await s.restoredFiles(restoredFolderName(job.createdAt))).toEqual(source);
    });

    it('stops a run it is asked to cancel and commits nothing', async () => {
      const before = (await freshEntity()).lastSnapshotId;
      await s.putFile('/alpha.txt', 'alpha: changed, so the run must read it');
      const held = s.hold();
      try {
        const id = await startBackup();
        const running = s.h.runner.runUntilIdle();
        await held.reached;
        expect(await requestCancel(em(), id, s.h.clock.now, 'admin')).toBe('requested');
        await running;
        const job = await em().findOneOrFail(Job, { id });
        expect(job.state).toBe('canceled');
      } finally {
        held.release();
      }
      expect((await freshEntity()).lastSnapshotId).toBe(before);
    });

    it('leaves the task Disconnected when the service refuses its credentials', async () => {
      await s.revoke();
      const job = await backup();
      expect(job.state).toBe('failed');
      const t = await freshTask();
      expect(t.connectionState).toBe('disconnected');
      // The task shows the service's own refusal, the sentence the run failed with.
      expect(t.connectionProblem).toEqual(expect.any(String));
      expect(job.error).toContain(t.connectionProblem);
    });
  });
}
