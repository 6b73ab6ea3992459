// Appliance disaster recovery end to end: an appliance with 2 partners, 3 accounts with users and
// tasks on two storage locations (outside its data folder) backs up; its configuration backup is
// written into both locations by the loop the server runs; the recovery sheet gives the master
// key. Its data folder is deleted. `holdfast dr restore` (the real CLI, in a fresh data folder)
// then brings back organizations, users, tasks, schedules and locations from one location, and
// re-attaches every repository: the test compares before and after, signs in with the old
// password, and reads every snapshot back. The recovery passphrase opens it too; a wrong key,
// the storage credentials alone, and an appliance that is already set up are refused.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../core/app.ts';
import { openKernel } from '../../../core/appliance.ts';
import { CatalogSnapshot } from '../../../core/catalog/entities.ts';
import { ConfigBackupLoop, configurationRows } from '../../../core/dr/config-backup.ts';
import { CONFIG_BACKUP_KEY, configBackupHeader } from '../../../core/dr/sealed-backup.ts';
import { setDrillPolicy } from '../../../core/drills/drill-policy.ts';
import { Organization, User } from '../../../core/identity/entities.ts';
import { createLogger } from '../../../core/logging.ts';
import { setOrganizationLocation } from '../../../core/storage-locations/assignment.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import { createLocation } from '../../../core/storage-locations/locations.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import type { TaskStorage } from '../../../core/tasks/storage.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { addOrganization, addUser } from '../../helpers/api.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { ADMIN, completeSetupVia, ORIGIN, signIn } from '../../helpers/kernel.ts';
import { baseEnv, runToEnd } from '../../helpers/process.ts';
import { rootOf } from '../../helpers/tenants.ts';

const dirs = [tempDir('holdfast-vault-a-'), tempDir('holdfast-vault-b-'), tempDir('holdfast-dr-')];
const [vaultA, vaultB, work] = dirs as [
  ReturnType<typeof tempDir>,
  ReturnType<typeof tempDir>,
  ReturnType<typeof tempDir>,
];
afterAll(() => {
  for (const d of dirs) d.remove();
});

const PASSPHRASE = 'correct horse battery staple recovery';
const USER_PASSWORD = 'Customer-user-pass-2026';

/** What must survive: organizations, users, locations, tasks with their schedules, entities. */
async function state(em: EntityManager) {
  const orgs = await em.find(Organization, {}, { orderBy: { path: 'asc' } });
  const users = await em.find(User, {}, { orderBy: { email: 'asc' }, populate: ['organization'] });
  const locations = await em.find(StorageLocation, {}, { orderBy: { name: 'asc' } });
  const tasks = await em.find(BackupTask, {}, { orderBy: { name: 'asc' } });
  const entities = await em.find(TaskEntity, {}, { orderBy: { id: 'asc' } });
  return {
    organizations: orgs.map((o) => ({ id: o.id, name: o.name, kind: o.kind, path: o.path, status: o.status })),
    users: users.map((u) => ({
      email: u.email,
      organization: u.organization.id,
      role: u.role,
      passwordHash: u.passwordHash,
    })),
    locations: locations.map((l) => ({
      id: l.id,
      name: l.name,
      kind: l.kind,
      settings: l.settings,
      builtin: l.builtin,
    })),
    tasks: tasks.map((t) => ({
      id: t.id,
      organization: t.organization.id,
      name: t.name,
      frequency: t.frequency,
      backupHour: t.backupHour,
      storageLocation: t.storageLocation,
      status: t.status,
      connection: t.connection,
    })),
    entities: entities.map((e) => ({
      id: e.id,
      task: e.task.id,
      name: e.name,
      status: e.status,
      lastSnapshotId: e.lastSnapshotId,
    })),
  };
}

/** Every snapshot of every task, read back whole: id → item key → content. */
async function everySnapshot(em: EntityManager, storage: TaskStorage) {
  const out = new Map<string, Map<string, string>>();
  for (const task of await em.find(BackupTask, {}, { orderBy: { name: 'asc' } })) {
    const opened = await storage.open({
      id: task.id,
      organizationId: task.organization.id,
      storageLocation: task.storageLocation ?? null,
    });
    try {
      for (const { id } of await opened.repo.listSnapshots()) {
        const reader = await SnapshotReader.open(opened.repo, id);
        const items = new Map<string, string>();
        for await (const item of reader.items()) {
          const parts: Buffer[] = [];
          for await (const chunk of reader.content(item)) parts.push(chunk as Buffer);
          items.set(item.key, Buffer.concat(parts).toString('base64'));
        }
        out.set(id, items);
      }
    } finally {
      await opened.close();
    }
  }
  return out;
}

async function catalogSnapshots(em: EntityManager): Promise<string[]> {
  return (await em.find(CatalogSnapshot, {}, { orderBy: { id: 'asc' } })).map((s) => s.id);
}

let h: JobsHarness;

async function postForm(path: string, cookie: string, fields: Record<string, string>) {
  return h.app.app.request(path, {
    method: 'POST',
    headers: { origin: ORIGIN, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

describe('appliance disaster recovery', () => {
  it('recovers organizations, users, tasks, schedules and every snapshot from one location and the recovery sheet', async () => {
    h = await createJobsHarness();
    h.app.kernel.deps.now = () => h.clock.now;
    await completeSetupVia(h.app.app);
    const admin = await signIn(h.app.app);
    const em = h.em();
    const root = await rootOf(em);
    const storageCtx = { em, credentials: h.app.kernel.credentials, storageDir: h.app.kernel.deps.config.storageDir };
    const actor = { label: ADMIN.email };
    const a = await createLocation(
      storageCtx,
      root,
      { name: 'Vault A', kind: 'local', settings: { path: vaultA.path } },
      'json',
      actor,
      h.clock.now,
    );
    const b = await createLocation(
      storageCtx,
      root,
      { name: 'Vault B', kind: 'local', settings: { path: vaultB.path } },
      'json',
      actor,
      h.clock.now,
    );
    const partnerOne = await addOrganization(h.app, root, 'partner', 'Partner One');
    const partnerTwo = await addOrganization(h.app, root, 'partner', 'Partner Two');
    const accounts = [
      { org: await addOrganization(h.app, partnerOne, 'customer', 'Customer A1'), location: a.location.id },
      { org: await addOrganization(h.app, partnerOne, 'customer', 'Customer A2'), location: a.location.id },
      { org: await addOrganization(h.app, partnerTwo, 'customer', 'Customer B1'), location: b.location.id },
    ];
    for (const [i, { org, location }] of accounts.entries()) {
      await setOrganizationLocation(h.em(), await h.em().findOneOrFail(Organization, { id: org.id }), location, null);
      await addUser(h.app, org, `user${i}@customer.example`, USER_PASSWORD, 'administrator');
      const task = await h.task(org);
      const e = h.em();
      const stored = await e.findOneOrFail(BackupTask, { id: task.id });
      stored.name = `Backup of ${org.name}`;
      stored.frequency = i === 0 ? 'weekly' : 'every_3_days';
      stored.backupHour = 5 + i;
      await e.flush();
      await discoverEntities(e, stored, testServicePlugin as never, h.ctx.credentials, {
        signal: AbortSignal.timeout(10_000),
        log: h.ctx.log,
        now: h.clock.now,
      });
      const ids = (await e.find(TaskEntity, { task: task.id })).map((x) => x.id);
      await backupNow(e, stored, ids, { kind: 'user', ...ACTOR }, h.clock.now, 1);
      await h.runner.runUntilIdle();
      // A second run: a chain of snapshots, not just one.
      h.advance(60_000);
      await backupNow(h.em(), stored, ids, { kind: 'user', ...ACTOR }, h.clock.now, 1);
      await h.runner.runUntilIdle();
    }
    // A restore drill policy on one account: carried like every configuration table.
    await setDrillPolicy(h.em(), await h.em().findOneOrFail(Organization, { id: partnerTwo.id }), 3);
    // The recovery passphrase, set on Settings › Recovery.
    const set = await postForm('/settings/recovery/passphrase', admin, {
      passphrase: PASSPHRASE,
      confirmPassphrase: PASSPHRASE,
      currentPassword: ADMIN.password,
    });
    expect(set.status).toBe(303);
    // The recovery sheet: the master key export, after the password.
    const sheet = await (await postForm('/settings/recovery/sheet', admin, { password: ADMIN.password })).text();
    const exported =
      /Type it into a file as one line, without the spaces: <code class="wrap-anywhere">([A-Za-z0-9+/=]+)<\/code>/.exec(
        sheet,
      )?.[1];
    expect(exported).toBe(h.app.kernel.masterKey.toString('base64'));

    // The loop the server runs writes the configuration backup into every location.
    const kernel = h.app.kernel;
    const loop = new ConfigBackupLoop(
      () => ({
        em: kernel.orm.em.fork(),
        credentials: kernel.credentials,
        masterKey: kernel.masterKey,
        storageDir: kernel.deps.config.storageDir,
        now: new Date(),
      }),
      h.ctx.log,
    );
    await loop.check();
    const fileA = join(vaultA.path, CONFIG_BACKUP_KEY);
    const written = readFileSync(fileA);
    expect(readFileSync(join(vaultB.path, CONFIG_BACKUP_KEY)).length).toBeGreaterThan(0);
    expect(configBackupHeader(written).passphrase).toBe(true);
    // Nothing of it reads with the storage alone.
    for (const plain of ['Customer A1', 'user0@customer.example', exported as string])
      expect(written.toString('utf8')).not.toContain(plain);
    // Unchanged configuration: not written again.
    await loop.check();
    expect(readFileSync(fileA).equals(written)).toBe(true);

    const before = await state(h.em());
    // Every row of every table the configuration backup carries, as the backup was written.
    const rowsBefore = await configurationRows(h.em());
    expect(rowsBefore.drill_policies).toHaveLength(1);
    expect(before.organizations).toHaveLength(6);
    expect(before.tasks.map((t) => t.storageLocation).sort()).toEqual(
      [a.location.id, a.location.id, b.location.id].sort(),
    );
    const snapshotsBefore = await everySnapshot(h.em(), h.ctx.storage);
    expect(snapshotsBefore.size).toBe(18);
    const catalogBefore = await catalogSnapshots(h.em());
    expect(catalogBefore).toHaveLength(18);
    const dataDir = h.app.dataDir;
    await h.close();
    expect(existsSync(dataDir)).toBe(false);

    const locationFile = join(work.path, 'vault-a.json');
    writeFileSync(locationFile, JSON.stringify({ kind: 'local', path: vaultA.path }));
    const keyFile = join(work.path, 'master.key');
    writeFileSync(keyFile, `${exported}\n`);

    // A wrong key is refused, and nothing is written.
    const wrongKey = join(work.path, 'wrong.key');
    writeFileSync(wrongKey, Buffer.alloc(32, 7).toString('base64'));
    const wrongDir = join(work.path, 'wrong');
    const refused = await runToEnd(
      ['core/cli.ts', 'dr', 'restore', '--location', locationFile, '--master-key-file', wrongKey],
      baseEnv(wrongDir),
    );
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/this master key does not open the configuration backup/);
    expect(existsSync(join(wrongDir, 'master.key'))).toBe(false);

    const fresh = join(work.path, 'fresh');
    const recovered = await runToEnd(
      ['core/cli.ts', 'dr', 'restore', '--location', locationFile, '--master-key-file', keyFile],
      baseEnv(fresh),
    );
    expect(recovered.stderr).not.toMatch(/^holdfast: /m);
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toMatch(/: 6 organizations, 4 users, 3 tasks, 3 storage locations\./);
    expect(recovered.stdout.match(/^Re-attached the repository of .+: 6 snapshots\.$/gm)).toHaveLength(3);

    // A second recovery into the same folder is refused: it is set up now.
    const again = await runToEnd(
      ['core/cli.ts', 'dr', 'restore', '--location', locationFile, '--master-key-file', keyFile],
      baseEnv(fresh),
    );
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/already set up/);

    const reopened = await openKernel(testConfig(fresh), createLogger('silent'));
    try {
      const rem = reopened.orm.em.fork();
      expect(await state(rem)).toEqual(before);
      expect(await configurationRows(rem)).toEqual(rowsBefore);
      expect(await catalogSnapshots(rem)).toEqual(catalogBefore);
      const read = await everySnapshot(rem, reopened.storage);
      expect(read).toEqual(snapshotsBefore);
      // People sign in with their old passwords.
      const app = createApp(reopened.deps);
      expect(await signIn(app)).toMatch(/holdfast_session=/);
      const res = await app.request('/login', {
        method: 'POST',
        headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: 'user2@customer.example', password: USER_PASSWORD }).toString(),
      });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/');
    } finally {
      await reopened.close();
    }

    // The recovery passphrase opens it too, from the other location.
    const passphraseDir = join(work.path, 'by-passphrase');
    const locationB = join(work.path, 'vault-b.json');
    writeFileSync(locationB, JSON.stringify({ kind: 'local', path: vaultB.path }));
    const byPassphrase = await runToEnd(
      ['core/cli.ts', 'dr', 'restore', '--location', locationB],
      baseEnv(passphraseDir, { HOLDFAST_RECOVERY_PASSPHRASE: PASSPHRASE }),
    );
    expect(byPassphrase.code).toBe(0);
    expect(readFileSync(join(passphraseDir, 'master.key'), 'utf8').trim()).toBe(exported);
    // Four CLI processes and two appliances: a ceiling for a busy 2-core machine, not an estimate.
  }, 600_000);
});
