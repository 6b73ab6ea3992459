// Restore drills end to end through the kernel's job runner: on the Dropbox stand-in (files,
// checked against Dropbox's content_hash too) and on the Salesforce stand-in (records) a drill
// passes and records "Last verified restorable" with its cost; over a repository with one damaged
// pack under a sampled item it fails naming that item, opens an exceptions incident, and a later
// drill that passes resolves it. The scratch folder under the data folder is gone after each.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentIdOf } from '../../../core/catalog/content-id.ts';
import { runSql } from '../../../core/db/run-sql.ts';
import { startDrill } from '../../../core/drills/drill-schedule.ts';
import { describeDrill } from '../../../core/drills/drill-status.ts';
import { RestoreDrill } from '../../../core/drills/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { Notification } from '../../../core/notifications/entities.ts';
import { BackupTask } from '../../../core/tasks/entities.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import type { ItemEntry } from '../../../storage/tree.ts';
import { seedDemoMetadata, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { damageBlobInSink } from '../../helpers/damage.ts';
import {
  backup,
  createDropboxHarness,
  type DropboxHarness,
  discover,
  dropboxTask,
  entity,
} from '../../helpers/dropbox.ts';
import { ACTOR, type JobsHarness } from '../../helpers/jobs.ts';
import * as sf from '../salesforce/harness.ts';

async function drill(h: JobsHarness, taskId: string) {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId }, { populate: ['organization'] });
  const jobId = await startDrill(em, task, { kind: 'user', ...ACTOR }, h.clock.now, 1);
  await h.runner.runUntilIdle();
  const job = await h.em().findOneOrFail(Job, { id: jobId });
  const row = await h.em().findOne(RestoreDrill, { jobId });
  return { job, row };
}

function scratchLeft(h: JobsHarness): string[] {
  const folder = join(h.app.kernel.deps.config.dataDir, 'drills');
  return existsSync(folder) ? readdirSync(folder) : [];
}

describe('restore drills on the Dropbox stand-in', () => {
  let d: DropboxHarness;
  beforeAll(async () => {
    d = await createDropboxHarness(3);
  });
  afterAll(async () => {
    await d.close();
  });

  it('passes, with the sample restored into scratch, checked and removed, and its cost recorded', async () => {
    const m = d.fake.team.addMember({ email: 'dora@acme.example' });
    // Random contents: they do not compress, so what the drill reads from storage is at least
    // what it restores, whichever 20 files it samples.
    for (let i = 0; i < 30; i++) m.namespace.writeFile(`/Docs/file-${i}.bin`, randomBytes(64 + i * 17));
    const task = await dropboxTask(d);
    await discover(d, task.id);
    const [job] = await backup(d, task.id, ['dora@acme.example']);
    expect(job?.state).toBe('succeeded');

    const { job: drillJob, row } = await drill(d.h, task.id);
    expect(drillJob.state).toBe('succeeded');
    expect(row?.passed).toBe(true);
    // HOLDFAST_DRILL_SAMPLE_ITEMS defaults to 20 of the 30 files.
    expect(row?.items).toBe(20);
    expect(row?.snapshots).toBe(1);
    expect(row?.failures).toEqual([]);
    expect(Number(row?.bytes)).toBeGreaterThanOrEqual(20 * 64);
    // Its cost: what it read from storage (no call to Dropbox is made).
    expect(Number(row?.storageBytesRead)).toBeGreaterThanOrEqual(Number(row?.bytes));
    expect(drillJob.log.at(-1)?.message).toMatch(/^Last verified restorable: .*, 20 items, .* no service API calls$/);
    expect(scratchLeft(d.h)).toEqual([]);
  });
});

describe('restore drills on the Salesforce stand-in', () => {
  let s: sf.SalesforceHarness;
  beforeAll(async () => {
    s = await sf.createSalesforceHarness(5);
    seedDemoOrg(s.fake.org, { accounts: 10, contactsPerAccount: 3 });
    seedDemoMetadata(s.fake.metadata());
  });
  afterAll(async () => {
    await s.close();
  });

  it('passes over the records of the latest backups', async () => {
    const task = await sf.salesforceTask(s);
    await sf.discover(s, task.id);
    const jobs = await sf.backup(s, task.id, ['Account', 'Contact']);
    expect(jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
    const { job, row } = await drill(s.h, task.id);
    expect(job.state).toBe('succeeded');
    expect(row?.passed).toBe(true);
    expect(row?.snapshots).toBe(2);
    expect(row?.items).toBe(20);
    expect(row?.failures).toEqual([]);
    expect(scratchLeft(s.h)).toEqual([]);
  });
});

describe('a restore drill against the catalog', () => {
  let d: DropboxHarness;
  beforeAll(async () => {
    d = await createDropboxHarness(6);
  });
  afterAll(async () => {
    await d.close();
  });

  it('compares each restored item with the content the catalog records, and fails naming one it disagrees with', async () => {
    const m = d.fake.team.addMember({ email: 'fay@acme.example' });
    m.namespace.writeFile('/Plans/a.bin', randomBytes(300));
    m.namespace.writeFile('/Plans/b.bin', randomBytes(400));
    const task = await dropboxTask(d);
    await discover(d, task.id);
    await backup(d, task.id, ['fay@acme.example']);

    // The catalog records each version's content id: the one of the entry in the snapshot.
    const member = await entity(d, task.id, 'fay@acme.example');
    const stored = await d.h.em().findOneOrFail(BackupTask, { id: task.id });
    const opened = await d.h.ctx.storage.open({
      id: task.id,
      organizationId: stored.organization.id,
      storageLocation: stored.storageLocation ?? null,
    });
    const reader = await SnapshotReader.open(opened.repo, member.lastSnapshotId as string);
    const entryB = await reader.item('/plans/b.bin');
    await opened.close();
    const recorded = async (key: string) =>
      (
        await runSql<{ content_id: string | null }[]>(
          d.h.em(),
          'select v.content_id from catalog_versions v join catalog_items i on i.id = v.item_id where i.key = ?',
          [key],
        )
      ).map((r) => r.content_id);
    expect(entryB).toBeDefined();
    expect(await recorded('/plans/b.bin')).toEqual([contentIdOf(entryB as ItemEntry)]);
    expect(await recorded('/plans/b.bin')).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/)]);

    const passed = await drill(d.h, task.id);
    expect(passed.row?.passed).toBe(true);

    // The catalog says b.bin held other content than the backup does: the drill names it.
    await runSql(
      d.h.em(),
      "update catalog_versions set content_id = '00000000000000000000000000000000' where item_id = (select id from catalog_items where key = ?)",
      ['/plans/b.bin'],
    );
    const failed = await drill(d.h, task.id);
    expect(failed.row?.passed).toBe(false);
    expect(failed.row?.failures).toEqual([
      {
        entity: 'fay@acme.example',
        item: 'Plans/b.bin',
        reason: 'the catalog records other content for this item than the backup holds',
      },
    ]);
  });
});

describe('a restore drill over a damaged pack', () => {
  let d: DropboxHarness;
  beforeAll(async () => {
    d = await createDropboxHarness(4);
  });
  afterAll(async () => {
    await d.close();
  });

  it('fails naming the item whose content is damaged, notifies once, and the next passing drill resolves it', async () => {
    const m = d.fake.team.addMember({ email: 'eve@acme.example' });
    m.namespace.writeFile('/Finance/ledger.csv', Buffer.from('date,amount\n2026-01-01,10\n'));
    m.namespace.writeFile('/Finance/notes.txt', Buffer.from('kept apart'));
    const task = await dropboxTask(d);
    await discover(d, task.id);
    await backup(d, task.id, ['eve@acme.example']);
    const member = await entity(d, task.id, 'eve@acme.example');
    const stored = await d.h.em().findOneOrFail(BackupTask, { id: task.id });
    const opened = await d.h.ctx.storage.open({
      id: task.id,
      organizationId: stored.organization.id,
      storageLocation: stored.storageLocation ?? null,
    });
    const reader = await SnapshotReader.open(opened.repo, member.lastSnapshotId as string);
    const ledger = await reader.item('/finance/ledger.csv');
    if (!ledger?.content?.[0]) throw new Error('the ledger has no content blob');
    await damageBlobInSink(opened.repo, ledger.content[0]);
    await opened.close();

    const failed = await drill(d.h, task.id);
    expect(failed.job.state).toBe('failed');
    expect(failed.row?.passed).toBe(false);
    expect(failed.row?.failures).toEqual([
      {
        entity: 'eve@acme.example',
        item: 'Finance/ledger.csv',
        reason: expect.stringMatching(/^the backup's copy is damaged: /),
      },
    ]);
    expect(failed.job.error).toMatch(
      /^Restore drill failed: .*: eve@acme\.example: Finance\/ledger\.csv \(the backup's copy is damaged: /,
    );
    expect(scratchLeft(d.h)).toEqual([]);
    const mails = async () =>
      (await d.h.em().find(Notification, { type: 'exceptions' }, { orderBy: { id: 'asc' } })).map(
        (n) => n.payload.event,
      );
    expect(await mails()).toEqual(['drill_failed']);
    // A second failing drill is the same incident: no second mail.
    await drill(d.h, task.id);
    expect(await mails()).toEqual(['drill_failed']);

    // The next backup stores the damaged content again (the repository noted the damaged copy).
    m.namespace.writeFile('/Finance/ledger.csv', Buffer.from('date,amount\n2026-01-01,10\n2026-01-02,5\n'), {
      mode: 'overwrite',
    });
    await backup(d, task.id, ['eve@acme.example']);
    const passed = await drill(d.h, task.id);
    expect(passed.row?.passed).toBe(true);
    expect(await mails()).toEqual(['drill_failed', 'drill_passed']);
    if (!passed.row) throw new Error('the passing drill left no row');
    expect(describeDrill({ ...passed.row, bytes: Number(passed.row.bytes) })).toMatch(/^Last verified restorable: /);
  });
});
