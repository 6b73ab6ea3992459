// Restore and export jobs end to end over real snapshots of the test service: a restore hands the
// chosen items (with their content) to the plugin's restore(), partial when the service refuses
// some; an export writes a ZIP (or TAR) whose names and bytes equal the snapshot's items, can be
// OpenPGP-encrypted so that gpg opens it, and leaves nothing behind when cancelled mid-way.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogSnapshot } from '../../../core/catalog/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import type { WorkContext } from '../../../core/jobs/context.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { InlineExecutor } from '../../../core/jobs/executors.ts';
import { cancelJob } from '../../../core/jobs/jobs-service.ts';
import { JobRunner } from '../../../core/jobs/runner.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { exportsFolder } from '../../../core/recovery/export-job.ts';
import { startExport, startRestore } from '../../../core/recovery/start.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import type { ITaskEntity } from '../../../core/tasks/entities.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { restoredRuns } from '../../fakes/test-service.ts';
import { damageBlobInSink } from '../../helpers/damage.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { type BackedUp, backedUpTask, readZip, startContext } from '../../helpers/recovery.ts';

let h: JobsHarness;
let org: IOrganization;
let source: BackedUp;
/** The snapshot's items as the repository holds them: path → content. */
const expected = new Map<string, string>();
const keys: string[] = [];

async function job(id: string) {
  return h.em().findOneOrFail(Job, { id });
}

beforeAll(async () => {
  h = await createJobsHarness();
  org = await h.organization('Restore Co');
  source = await backedUpTask(h, org, { items: 6, itemBytes: 6000, failRestoreKeys: ['items/00002'] }, 2);
  const opened = await h.ctx.storage.open({ id: source.task.id, organizationId: org.id, storageLocation: 'default' });
  const reader = await SnapshotReader.open(opened.repo, source.snapshotId);
  for await (const item of reader.items()) {
    const chunks: Buffer[] = [];
    for await (const chunk of reader.content(item)) chunks.push(chunk as Buffer);
    expected.set(String(item.meta?.path).replace(/^\//, ''), Buffer.concat(chunks).toString('utf8'));
    keys.push(item.key);
  }
  await opened.close();
}, 60_000);

afterAll(async () => {
  await h.close();
});

describe('restore jobs', () => {
  it('hands the selected items with their content to the plugin; a refused item makes the job partial', async () => {
    const first = source.entities[0] as ITaskEntity;
    const started = await startRestore(startContext(h, org), {
      taskId: source.task.id,
      entityId: first.id,
      snapshotId: source.snapshotId,
      mode: 'non_destructive',
      label: 'Bring back everything',
    });
    await h.runner.runUntilIdle();
    const done = await job(started.id);
    expect(done.state).toBe('partially_succeeded');
    expect(done.result).toMatchObject({ items: 6, restored: 5, skipped: 0, failedItems: 1 });
    expect(done.result?.failed).toEqual([{ key: 'items/00002', reason: 'the test service refused this item (409)' }]);
    expect(
      done.log.some(
        (e) =>
          e.level === 'warn' && e.message === 'items/00002 was not restored: the test service refused this item (409)',
      ),
    ).toBe(true);
    const runs = restoredRuns.get(`acct-${org.id.slice(0, 8)}`) ?? [];
    const run = runs[runs.length - 1];
    expect(run?.mode).toBe('non_destructive');
    expect(run?.destination).toBe(first.externalId);
    expect(run?.folderName).toMatch(/^Restored \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
    expect(run?.failed).toEqual(['items/00002']);
    const written = new Map(run?.written.map((w) => [String(w.path).replace(/^\//, ''), w.content]));
    expect(written.size).toBe(5);
    for (const [path, content] of written) expect(content).toBe(expected.get(path));
  });

  it('restores chosen keys and folders in place to another entity of the same task', async () => {
    const [first, second] = source.entities as [ITaskEntity, ITaskEntity];
    const started = await startRestore(startContext(h, org), {
      taskId: source.task.id,
      entityId: first.id,
      snapshotId: source.snapshotId,
      keys: ['items/00004'],
      paths: [],
      destinationEntityId: second.id,
      mode: 'in_place',
    });
    await h.runner.runUntilIdle();
    const done = await job(started.id);
    expect(done.state).toBe('succeeded');
    expect(done.label).toBe(`Restore of ${first.name}`.slice(0, 50));
    expect(done.result).toMatchObject({ items: 1, restored: 1, failedItems: 0, destination: second.name });
    const runs = restoredRuns.get(`acct-${org.id.slice(0, 8)}`) ?? [];
    const run = runs[runs.length - 1];
    expect(run?.destination).toBe(second.externalId);
    expect(run?.mode).toBe('in_place');
    expect(run?.written.map((w) => w.key)).toEqual(['items/00004']);
  });

  it('fails a restore the appliance stops in the middle of, rather than running it twice', async () => {
    const slow = await backedUpTask(h, org, { items: 6, restoreDelayMs: 200 }, 1, 'Slow restores');
    const started = await startRestore(startContext(h, org), {
      taskId: slow.task.id,
      entityId: slow.entities[0]?.id as string,
      snapshotId: slow.snapshotId,
      mode: 'in_place',
    });
    const runner = new JobRunner(h.ctx, new InlineExecutor(h.ctx));
    void runner.poke();
    for (let i = 0; i < 200 && (await job(started.id)).state !== 'in_progress'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await runner.stop(0);
    const done = await job(started.id);
    expect(done.state).toBe('failed');
    expect(done.error).toBe(
      'The appliance stopped during the restore; the items restored so far stay restored. Start the restore again for the rest.',
    );
  });

  it('refuses a destination of another task, a snapshot of another entity, and a label over 50 characters', async () => {
    const first = source.entities[0] as ITaskEntity;
    const other = await backedUpTask(h, org, {}, 1, 'Other task');
    const ctx = startContext(h, org);
    await expect(
      startRestore(ctx, {
        taskId: source.task.id,
        entityId: first.id,
        snapshotId: source.snapshotId,
        destinationEntityId: other.entities[0]?.id,
        mode: 'in_place',
      }),
    ).rejects.toMatchObject({ status: 404, message: 'No such user, team folder or object in this backup task.' });
    await expect(
      startRestore(ctx, { taskId: source.task.id, entityId: first.id, snapshotId: other.snapshotId, mode: 'in_place' }),
    ).rejects.toMatchObject({ status: 404, message: 'No such snapshot of this user, team folder or object.' });
    await expect(
      startExport(ctx, {
        taskId: source.task.id,
        entityId: first.id,
        snapshotId: source.snapshotId,
        label: 'x'.repeat(51),
      }),
    ).rejects.toMatchObject({ status: 422, fields: { label: 'The job label is at most 50 characters.' } });
    const stranger = await h.organization('Stranger');
    await expect(
      startExport(startContext(h, stranger), {
        taskId: source.task.id,
        entityId: first.id,
        snapshotId: source.snapshotId,
      }),
    ).rejects.toMatchObject({ status: 404, message: 'No such backup task.' });
  });
});

describe('export jobs', () => {
  it('writes a ZIP whose names and bytes equal the snapshot items, offered for 72 hours', async () => {
    const first = source.entities[0] as ITaskEntity;
    const started = await startExport(startContext(h, org), {
      taskId: source.task.id,
      entityId: first.id,
      snapshotId: source.snapshotId,
      label: 'Quarter close',
    });
    await h.runner.runUntilIdle();
    const done = await job(started.id);
    expect(done.state).toBe('succeeded');
    expect(done.result).toMatchObject({ items: 6, destination: 'Download' });
    const result = await h.em().findOneOrFail(ExportResult, { job: started.id });
    expect(result.fileName).toBe(`Quarter-close-${h.clock.now.toISOString().slice(0, 10)}.zip`);
    expect(result.expiresAt.getTime() - result.createdAt.getTime()).toBe(72 * 3_600_000);
    const entries = await readZip(result.filePath);
    expect([...entries.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, content] of entries) expect(content.toString('utf8')).toBe(expected.get(name));
    expect(readdirSync(exportsFolder(h.ctx.settings.dataDir, org.id)).filter((f) => f.endsWith('.partial'))).toEqual(
      [],
    );
  });

  it('writes a TAR of the chosen folder', async () => {
    const first = source.entities[0] as ITaskEntity;
    const started = await startExport(startContext(h, org), {
      taskId: source.task.id,
      entityId: first.id,
      snapshotId: source.snapshotId,
      paths: [first.externalId],
      format: 'tar',
    });
    await h.runner.runUntilIdle();
    const result = await h.em().findOneOrFail(ExportResult, { job: started.id });
    const entries = new Map<string, string>();
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        entries.set(header.name, Buffer.concat(chunks).toString('utf8'));
        next();
      });
    });
    const finished = new Promise<void>((resolve) => extract.on('finish', () => resolve()));
    extract.end(readFileSync(result.filePath));
    await finished;
    expect(entries).toEqual(expected);
  });

  it('fails an export and a restore whose selection matches nothing in a snapshot outside the catalog', async () => {
    // A task not indexed for search: its snapshots are not in the catalog, so start cannot check.
    const unindexed = await backedUpTask(h, org, { items: 2 }, 1, 'Not indexed');
    await h.em().nativeDelete(CatalogSnapshot, { task: unindexed.task.id });
    const first = unindexed.entities[0] as ITaskEntity;
    const request = {
      taskId: unindexed.task.id,
      entityId: first.id,
      snapshotId: unindexed.snapshotId,
      paths: ['No such folder'],
    };
    const exported = await startExport(startContext(h, org), request);
    const restored = await startRestore(startContext(h, org), { ...request, mode: 'in_place' });
    await h.runner.runUntilIdle();
    for (const id of [exported.id, restored.id]) {
      const done = await job(id);
      expect({ state: done.state, error: done.error }).toEqual({
        state: 'failed',
        error: 'Nothing in the snapshot matches the folder "No such folder"',
      });
    }
    expect(await h.em().count(ExportResult, { job: exported.id })).toBe(0);
  });

  it('encrypts to a passphrase and to a public key so that GnuPG (gpg) opens the ZIP', async () => {
    // gpg compatibility is the point: no other OpenPGP implementation stands in for it.
    const gpgVersion = spawnSync('gpg', ['--version']);
    if (gpgVersion.status !== 0) {
      throw new Error(
        `GnuPG (gpg) is needed to check that exports open with it, and it is not on PATH (${gpgVersion.error?.message ?? `exit ${gpgVersion.status}`}): apt-get install gnupg`,
      );
    }
    const first = source.entities[0] as ITaskEntity;
    const home = mkdtempSync(join(tmpdir(), 'holdfast-gpg-'));
    // "default" makes a signing primary key with an encryption subkey.
    execFileSync(
      'gpg',
      [
        '--homedir',
        home,
        '--batch',
        '--quiet',
        '--passphrase',
        '',
        '--quick-gen-key',
        'Export Test <export@test.example>',
        'default',
        'default',
        'never',
      ],
      { stdio: 'ignore' },
    );
    const armoredKey = execFileSync('gpg', [
      '--homedir',
      home,
      '--armor',
      '--export',
      'export@test.example',
    ]).toString();
    const decrypt = (file: string, passphrase?: string): Buffer => {
      const args = ['--homedir', home, '--batch', '--quiet', '--pinentry-mode', 'loopback'];
      if (passphrase) args.push('--passphrase', passphrase);
      return execFileSync('gpg', [...args, '--decrypt', file], { stdio: ['ignore', 'pipe', 'ignore'] });
    };

    for (const request of [
      { encryption: 'passphrase' as const, passphrase: 'correct horse battery' },
      { encryption: 'public_key' as const, publicKey: armoredKey },
    ]) {
      const started = await startExport(startContext(h, org), {
        taskId: source.task.id,
        entityId: first.id,
        snapshotId: source.snapshotId,
        ...request,
      });
      await h.runner.runUntilIdle();
      expect((await job(started.id)).state).toBe('succeeded');
      const result = await h.em().findOneOrFail(ExportResult, { job: started.id });
      expect(result.fileName.endsWith('.zip.gpg')).toBe(true);
      // The passphrase is kept sealed, never in the job's parameters.
      expect(JSON.stringify((await job(started.id)).params)).not.toContain('correct horse');
      const zipFile = join(home, `${request.encryption}.zip`);
      writeFileSync(
        zipFile,
        decrypt(result.filePath, request.encryption === 'passphrase' ? request.passphrase : undefined),
      );
      const entries = await readZip(zipFile);
      expect([...entries.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [name, content] of entries) expect(content.toString('utf8')).toBe(expected.get(name));
    }
    await expect(
      startExport(startContext(h, org), {
        taskId: source.task.id,
        entityId: first.id,
        snapshotId: source.snapshotId,
        encryption: 'public_key',
        publicKey: 'not a key',
      }),
    ).rejects.toMatchObject({
      status: 422,
      fields: { publicKey: 'This is not an OpenPGP public key that can encrypt (armored, with an encryption subkey).' },
    });
  });

  it('writes the export to a storage location instead of offering a download', async () => {
    const first = source.entities[0] as ITaskEntity;
    const folder = mkdtempSync(join(tmpdir(), 'holdfast-export-location-'));
    const em = h.em();
    const location = em.create(StorageLocation, {
      organization: org.id,
      name: 'Archive share',
      kind: 'local',
      settings: { path: folder },
      sealedSecrets: null,
      description: null,
      lastTestedAt: null,
      lastTestOk: null,
      lastTestSentence: null,
      lastTestDetail: null,
    });
    await em.flush();
    const started = await startExport(startContext(h, org), {
      taskId: source.task.id,
      entityId: first.id,
      snapshotId: source.snapshotId,
      label: 'To the share',
      locationId: location.id,
    });
    await h.runner.runUntilIdle();
    const done = await job(started.id);
    expect(done.state).toBe('succeeded');
    const fileName = `To-the-share-${h.clock.now.toISOString().slice(0, 10)}.zip`;
    const key = `exports/organizations/${org.id}/${started.id}/${fileName}`;
    expect(done.result).toMatchObject({ items: 6, destination: `Archive share: ${key}`, fileName });
    expect(await h.em().count(ExportResult, { job: started.id })).toBe(0);
    const entries = await readZip(join(folder, key));
    expect([...entries.keys()].sort()).toEqual([...expected.keys()].sort());
  });

  it('leaves no result when cancelled during the export', async () => {
    const first = source.entities[0] as ITaskEntity;
    // Content reads after the first few wait at a gate that opens only after the cancel.
    let reads = 0;
    let reachedGate: () => void = () => undefined;
    const atGate = new Promise<void>((resolve) => {
      reachedGate = resolve;
    });
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const ctx: WorkContext = {
      ...h.ctx,
      storage: {
        removeOrganization: (id) => h.ctx.storage.removeOrganization(id),
        async open(task) {
          const opened = await h.ctx.storage.open(task);
          const read = opened.repo.readBlobs.bind(opened.repo);
          opened.repo.readBlobs = async (ids: string[]) => {
            const plain = await read(ids);
            if (++reads > 3) {
              reachedGate();
              await gate;
            }
            return plain;
          };
          return opened;
        },
      },
    };
    const runner = new JobRunner(ctx, new InlineExecutor(ctx));
    const started = await startExport(startContext(h, org), {
      taskId: source.task.id,
      entityId: first.id,
      snapshotId: source.snapshotId,
    });
    const running = runner.runUntilIdle();
    await Promise.race([
      atGate,
      running.then(() => {
        throw new Error('the export finished before it reached the gate');
      }),
    ]);
    expect(await cancelJob(h.em(), org, started.id, ACTOR, h.clock.now)).toBe('requested');
    await running;
    openGate();
    const done = await job(started.id);
    expect(done.state).toBe('canceled');
    expect(await h.em().count(ExportResult, { job: started.id })).toBe(0);
    const folder = exportsFolder(h.ctx.settings.dataDir, org.id);
    const leftovers = existsSync(folder) ? readdirSync(folder).filter((f) => f.startsWith(started.id)) : [];
    expect(leftovers).toEqual([]);
    await runner.stop(1000);
  });
});

describe('a backup with a damaged blob', () => {
  it('restores and exports every other item; both jobs end partially succeeded naming the damaged one', async () => {
    const damagedOrg = await h.organization('Damage Co');
    const backed = await backedUpTask(h, damagedOrg, { items: 6, itemBytes: 6000 }, 1, 'Damaged');
    const entity = backed.entities[0] as ITaskEntity;
    const opened = await h.ctx.storage.open({
      id: backed.task.id,
      organizationId: damagedOrg.id,
      storageLocation: 'default',
    });
    const reader = await SnapshotReader.open(opened.repo, backed.snapshotId);
    const victim = await reader.item('items/00003');
    expect(victim?.content?.length).toBe(1);
    await damageBlobInSink(opened.repo, victim?.content?.[0] as string);
    await opened.close();
    const reason = /^the backup's copy is damaged: blob [0-9a-f]{64} in pack [0-9a-f]{64} failed authentication/;

    const restore = await startRestore(startContext(h, damagedOrg), {
      taskId: backed.task.id,
      entityId: entity.id,
      snapshotId: backed.snapshotId,
      mode: 'non_destructive',
    });
    await h.runner.runUntilIdle();
    const restored = await job(restore.id);
    expect(restored.state).toBe('partially_succeeded');
    expect(restored.result).toMatchObject({ items: 6, restored: 5, failedItems: 1 });
    expect(restored.result?.failed).toEqual([{ key: 'items/00003', reason: expect.stringMatching(reason) }]);
    expect(
      restored.log.some((e) => e.level === 'warn' && e.message.startsWith('items/00003 was not restored: the backup')),
    ).toBe(true);
    const run = (restoredRuns.get(`acct-${damagedOrg.id.slice(0, 8)}`) ?? []).at(-1);
    expect(run?.written.map((w) => w.key)).toEqual([
      'items/00000',
      'items/00001',
      'items/00002',
      'items/00004',
      'items/00005',
    ]);

    const exported = await startExport(startContext(h, damagedOrg), {
      taskId: backed.task.id,
      entityId: entity.id,
      snapshotId: backed.snapshotId,
    });
    await h.runner.runUntilIdle();
    const done = await job(exported.id);
    expect(done.state).toBe('partially_succeeded');
    expect(done.result).toMatchObject({ items: 5, failedItems: 1 });
    expect(done.result?.failed).toEqual([{ key: 'items/00003', reason: expect.stringMatching(reason) }]);
    expect(
      done.log.some((e) => e.level === 'warn' && e.message.startsWith('items/00003 was not exported: the backup')),
    ).toBe(true);
    const result = await h.em().findOneOrFail(ExportResult, { job: exported.id });
    const names = [...(await readZip(result.filePath)).keys()];
    expect(names).toHaveLength(5);
    expect(names.some((n) => n.includes('00003'))).toBe(false);
  });
});
