// A record restore streams: its records, id maps and report rows are kept in a spool database in
// the job's work folder under the data folder and read back a page at a time. With the page
// lowered to 5, a 25-record hierarchy (an account, its child accounts through the self-lookup
// ParentId, its contacts, and its child accounts' contacts) is restored whole and linked while the
// restore never holds more than a page of records (the store's counter of records read into
// memory, not the process's memory), and the work folder is gone when the job ends. The restore
// dialog's plan spools the same way, in a folder of its own under the data folder.
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { runMaintenance } from '../../../core/maintenance.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import type { RestorePlanRun, ServiceConnection, ServicePlugin } from '../../../core/plugins/service.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { planRestore } from '../../../core/recovery/plan.ts';
import { startRestore } from '../../../core/recovery/start.ts';
import { TaskEntity } from '../../../core/tasks/entities.ts';
import { tuneSalesforce } from '../../../plugins/services/salesforce/index.ts';
import { lastRestoreStats } from '../../../plugins/services/salesforce/restore-store.ts';
import { defineHierarchyObjects, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { readZip, startContext } from '../../helpers/recovery.ts';
import { backup, createSalesforceHarness, entity, type SalesforceHarness } from './harness.ts';
import { discoveredTask, restoreInPlace } from './restore-harness.ts';

const PAGE = 5;

let s: SalesforceHarness;
let org: IOrganization;
let taskId: string;
/** The first test's chosen account (a key of the Account snapshot). */
let chosenKey = '';

beforeAll(async () => {
  s = await createSalesforceHarness();
  tuneSalesforce({ retry: { attempts: 8, baseDelayMs: 1, maxDelayMs: 5 }, bulkPollMs: 1, restorePageSize: PAGE });
  seedDemoOrg(s.fake.org, { accounts: 1, contactsPerAccount: 1 });
  defineHierarchyObjects(s.fake.org);
  ({ taskId, org } = await discoveredTask(s));
});
afterAll(async () => {
  tuneSalesforce({});
  await s.close();
});

describe('Salesforce restore streaming', () => {
  it('restores more records than a page while holding at most a page of them, its spool under the data folder', async () => {
    const sf = s.fake.org;
    const top = sf.insert('Account', { Name: 'Stream Co' });
    chosenKey = top;
    const branches = [1, 2, 3, 4, 5, 6].map((n) => sf.insert('Account', { Name: `Stream Branch ${n}`, ParentId: top }));
    const contacts = Array.from({ length: 12 }, (_, n) =>
      sf.insert('Contact', { FirstName: 'Pat', LastName: `Top ${n}`, AccountId: top }),
    );
    const branchContacts = branches.map((b, n) =>
      sf.insert('Contact', { FirstName: 'Sam', LastName: `Branch ${n}`, AccountId: b }),
    );
    const names = (await s.h.em().find(TaskEntity, { task: taskId, kind: 'data' })).map((e) => e.name);
    await backup(s, taskId, names);
    for (const id of [...contacts, ...branchContacts]) sf.delete('Contact', id);
    for (const id of [...branches, top]) sf.delete('Account', id);

    const job = await restoreInPlace(s, { taskId, org }, [top], { recordMode: 'bypass', hierarchyDepth: 2 });
    expect(job.state).toBe('succeeded');
    expect(job.result?.counts).toEqual({ created: 25, updated: 0, skipped: 0, failed: 0 });

    // Streamed: 25 records went through the store, never more than a page of them in memory.
    expect(lastRestoreStats.records).toBe(25);
    expect(lastRestoreStats.pageSize).toBe(PAGE);
    expect(lastRestoreStats.peakRecordsHeld).toBeGreaterThan(0);
    expect(lastRestoreStats.peakRecordsHeld).toBeLessThanOrEqual(PAGE);
    // The spool was a file of the job's work folder under the data folder, removed with it.
    const workDir = join(s.h.ctx.settings.dataDir, 'restores', job.id);
    expect(lastRestoreStats.spoolFile.startsWith(`${workDir}/`)).toBe(true);
    expect(existsSync(workDir)).toBe(false);

    // Every record back and linked to the new ids, across pages (the self-lookup included).
    const alive = (object: string) => [...(sf.object(object)?.records.values() ?? [])].filter((r) => !r.deletedAt);
    const newTop = alive('Account').find((r) => r.values.Name === 'Stream Co');
    expect(newTop).toBeDefined();
    const newTopId = newTop?.values.Id as string;
    expect(newTopId).not.toBe(top);
    const newBranches = alive('Account').filter((r) => String(r.values.Name).startsWith('Stream Branch '));
    expect(newBranches.map((r) => r.values.ParentId)).toEqual(Array(6).fill(newTopId));
    const branchIds = new Set(newBranches.map((r) => r.values.Id));
    const restoredContacts = alive('Contact').filter((r) => /^(Top|Branch) \d+$/.test(String(r.values.LastName)));
    expect(restoredContacts).toHaveLength(18);
    expect(restoredContacts.filter((r) => r.values.AccountId === newTopId)).toHaveLength(12);
    expect(restoredContacts.filter((r) => branchIds.has(r.values.AccountId))).toHaveLength(6);

    // The report, written to a file as its rows were read: a line per record with its new id.
    const result = await s.h.em().findOneOrFail(ExportResult, { job: job.id });
    const [csv] = [...(await readZip(result.filePath)).values()] as [Buffer];
    const lines = csv.toString().trim().split('\r\n').slice(1);
    expect(lines).toHaveLength(25);
    const newIds = new Set([newTopId, ...branchIds, ...restoredContacts.map((r) => r.values.Id)]);
    expect(new Set(lines.map((l) => l.split(',')[2]))).toEqual(newIds);
    expect(lines.every((l) => l.split(',')[3] === 'created')).toBe(true);
  });

  it('leaves no spool behind a killed restore: maintenance removes the work folders of jobs that are over', async () => {
    const dataDir = s.h.ctx.settings.dataDir;
    const over = await s.h.em().findOneOrFail(Job, { kind: 'restore', state: 'succeeded' });
    const account = await entity(s, taskId, 'Account');
    const pending = await startRestore(startContext(s.h, org), {
      taskId,
      entityId: account.id,
      snapshotId: account.lastSnapshotId as string,
      keys: [chosenKey],
      mode: 'in_place',
      options: { recordMode: 'bypass', hierarchyDepth: 0 },
    });
    // As a SIGKILL leaves them: a finished job's folder, one of no job, and a pending job's.
    for (const id of [over.id, 'no-such-job', pending.id]) {
      mkdirSync(join(dataDir, 'restores', id), { recursive: true });
      writeFileSync(join(dataDir, 'restores', id, 'restore.sqlite'), 'spool');
    }
    const report = await runMaintenance(s.h.ctx.orm, s.h.ctx.log, new Date(), { activityRetentionDays: 365, dataDir });
    expect(report.restoreFoldersDeleted).toBe(2);
    expect(existsSync(join(dataDir, 'restores', over.id))).toBe(false);
    expect(existsSync(join(dataDir, 'restores', 'no-such-job'))).toBe(false);
    expect(existsSync(join(dataDir, 'restores', pending.id))).toBe(true);
    await s.h.runner.runUntilIdle();
    expect(existsSync(join(dataDir, 'restores', pending.id))).toBe(false);
  });

  it('plans a restore with its spool in a work folder under the data folder, removed after', async () => {
    const dataDir = s.h.ctx.settings.dataDir;
    const account = await entity(s, taskId, 'Account');
    const seen: { workDir: string | undefined; existed: boolean }[] = [];
    // The Salesforce plugin, its connection's plan() watched: where it is told to spool.
    const watched = (kind: string): ServicePlugin | undefined => {
      const plugin = servicePlugin(kind);
      if (!plugin) return undefined;
      return {
        ...plugin,
        connect: async (...args: Parameters<ServicePlugin['connect']>) => {
          const connection: ServiceConnection = await plugin.connect(...args);
          const plan = connection.plan?.bind(connection);
          if (plan) {
            connection.plan = (run: RestorePlanRun) => {
              seen.push({ workDir: run.workDir, existed: !!run.workDir && existsSync(run.workDir) });
              return plan(run);
            };
          }
          return connection;
        },
      } as ServicePlugin;
    };
    const plan = await planRestore(
      {
        storage: s.h.ctx.storage,
        services: watched,
        credentials: s.h.ctx.credentials,
        log: s.h.ctx.log,
        signal: AbortSignal.timeout(20_000),
        dataDir,
      },
      startContext(s.h, org),
      {
        taskId,
        entityId: account.id,
        snapshotId: account.lastSnapshotId as string,
        keys: [chosenKey],
        mode: 'in_place',
        options: { recordMode: 'bypass', hierarchyDepth: 1 },
      },
    );
    expect(plan?.columns[0]).toBe('Object');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.existed).toBe(true);
    expect(seen[0]?.workDir?.startsWith(join(dataDir, 'restore-plans'))).toBe(true);
    expect(existsSync(seen[0]?.workDir as string)).toBe(false);
    expect(readdirSync(join(dataDir, 'restore-plans'))).toEqual([]);
  });

  it('maintenance removes a plan folder a killed process left, once older than any plan runs', async () => {
    const dataDir = s.h.ctx.settings.dataDir;
    const old = join(dataDir, 'restore-plans', 'left-by-a-crash');
    const fresh = join(dataDir, 'restore-plans', 'a-plan-running-now');
    for (const dir of [old, fresh]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'restore.sqlite'), 'spool');
    }
    const now = new Date();
    const twoHoursAgo = new Date(now.getTime() - 2 * 3600_000);
    utimesSync(old, twoHoursAgo, twoHoursAgo);
    const report = await runMaintenance(s.h.ctx.orm, s.h.ctx.log, now, { activityRetentionDays: 365, dataDir });
    expect(report.restoreFoldersDeleted).toBe(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });
});
