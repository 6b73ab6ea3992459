// `holdfast db migrate-to-postgres` end to end (the real CLI): an appliance on SQLite with an
// account, users, a task whose backups ran (jobs, snapshots in the catalog, items), sessions and
// audit events is stopped and copied into a PostgreSQL database; every table's rows and checksum
// agree. The appliance then opens on PostgreSQL with the same master key: the old session
// still signs in, the password works, the homepage lists the task and the Recovery page's item
// search finds the same items. A target holding rows is refused unless --force; a target that
// loses rows is caught by the verification (non-zero exit).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../core/app.ts';
import { openKernel } from '../../../core/appliance.ts';
import { createLogger } from '../../../core/logging.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { addOrganization, addUser } from '../../helpers/api.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { ACTOR, createJobsHarness } from '../../helpers/jobs.ts';
import { ADMIN, completeSetupVia, signIn } from '../../helpers/kernel.ts';
import { dropDatabase, freshDatabaseUrl, testPostgresUrl } from '../../helpers/postgres.ts';
import { baseEnv, runToEnd } from '../../helpers/process.ts';
import { rootOf } from '../../helpers/tenants.ts';

const work = tempDir('holdfast-to-pg-');
const targets: string[] = [];
afterAll(async () => {
  for (const url of targets) await dropDatabase(url);
  work.remove();
});

const USER = { email: 'user@customer.example', password: 'Customer-user-pass-2026' };

/** Task names in the homepage's table. */
function taskNames(html: string): string[] {
  return [...html.matchAll(/class="task-link"[^>]*>([^<]+)<\/a>/g)].map((m) => m[1] as string);
}

/** Item names the Recovery page's search lists. */
function hitNames(html: string): string[] {
  return [...html.matchAll(/>(item \d+)</g)].map((m) => m[1] as string).sort();
}

function migrateToPostgres(from: string, to: string, ...extra: string[]) {
  return runToEnd(
    ['core/cli.ts', 'db', 'migrate-to-postgres', '--from', from, '--to', to, ...extra],
    // The command names both databases itself; the environment's database is not used.
    baseEnv(join(work.path, 'cli'), { HOLDFAST_DATABASE_URL: '' }),
  );
}

describe('holdfast db migrate-to-postgres', () => {
  it('copies a SQLite appliance into PostgreSQL, verified, and the appliance works there', async () => {
    const server = testPostgresUrl();
    if (!server) throw new Error('this file runs in the postgres project only');
    // The source: an appliance on SQLite (the run's PostgreSQL left out).
    const h = await createJobsHarness({ HOLDFAST_DATABASE_URL: '' });
    const config = h.app.kernel.deps.config;
    expect(config.databaseUrl).toBeUndefined();
    await completeSetupVia(h.app.app);
    await signIn(h.app.app);
    const customer = await addOrganization(h.app, await rootOf(h.em()), 'customer', 'Customer One');
    await addUser(h.app, customer, USER.email, USER.password, 'administrator');
    // The account's own administrator: the homepage and Recovery page show the account's task.
    const cookie = await signIn(h.app.app, USER.email, USER.password);
    const task = await h.task(customer);
    const e = h.em();
    const stored = await e.findOneOrFail(BackupTask, { id: task.id });
    await discoverEntities(e, stored, testServicePlugin as never, h.ctx.credentials, {
      signal: AbortSignal.timeout(10_000),
      log: h.ctx.log,
      now: h.clock.now,
    });
    const entities = await e.find(TaskEntity, { task: task.id }, { orderBy: { externalId: 'asc' } });
    await backupNow(
      e,
      stored,
      entities.map((x) => x.id),
      { kind: 'user', ...ACTOR },
      h.clock.now,
      1,
    );
    await h.runner.runUntilIdle();
    const entity = entities[0] as (typeof entities)[number];
    const searchPath = `/recovery/tasks/${task.id}/entities/${entity.id}?mode=search&q=item`;
    const homeBefore = taskNames(await (await h.app.app.request('/', { headers: { cookie } })).text());
    const hitsBefore = hitNames(await (await h.app.app.request(searchPath, { headers: { cookie } })).text());
    expect(homeBefore).toEqual(['Test backup']);
    expect(hitsBefore).toEqual(['item 0', 'item 1', 'item 2', 'item 3', 'item 4']);
    const masterKey = h.app.kernel.masterKey.toString('base64');
    const databasePath = config.databasePath;
    // The appliance stops before its database is copied.
    await h.runner.stop(1000);
    await h.app.kernel.close();

    const target = freshDatabaseUrl(server);
    targets.push(target);
    const copied = await migrateToPostgres(databasePath, target);
    expect(copied.stderr).toBe('');
    expect(copied.code).toBe(0);
    const lines = copied.stdout.split('\n');
    for (const table of ['organizations', 'users', 'sessions', 'backup_tasks', 'task_entities', 'jobs', 'audit_events'])
      expect(lines.find((l) => l.startsWith(`${table} `))).toMatch(/^\S+\s+([1-9]\d*)\s+\1\s+[0-9a-f]{32}\s+ok$/);
    expect(lines.find((l) => l.startsWith('catalog_items '))).toMatch(/^\S+\s+([1-9]\d*)\s+\1\s+[0-9a-f]{32}\s+ok$/);
    expect(copied.stdout).not.toContain('MISMATCH');
    expect(copied.stdout).toMatch(/^Copied and verified \d+ tables, \d+ rows\./m);
    expect(copied.stdout).not.toContain(':holdfast-test@');

    // The appliance on PostgreSQL, with the same master key.
    const kernel = await openKernel(
      testConfig(join(work.path, 'on-postgres'), { HOLDFAST_DATABASE_URL: target, HOLDFAST_MASTER_KEY: masterKey }),
      createLogger('silent'),
    );
    try {
      const app = createApp(kernel.deps);
      expect(kernel.deps.setupState.complete).toBe(true);
      // The session made on SQLite still holds; the passwords sign in.
      expect(taskNames(await (await app.request('/', { headers: { cookie } })).text())).toEqual(homeBefore);
      expect(await signIn(app, ADMIN.email, ADMIN.password)).toMatch(/^holdfast_session=/);
      const userCookie = await signIn(app, USER.email, USER.password);
      const hitsAfter = hitNames(await (await app.request(searchPath, { headers: { cookie: userCookie } })).text());
      expect(hitsAfter).toEqual(hitsBefore);
      // New rows get new ids: the sequences were moved past the copied ones.
      const entityIds = entities.map((x) => x.id);
      await backupNow(
        kernel.orm.em.fork(),
        await kernel.orm.em.fork().findOneOrFail(BackupTask, { id: task.id }),
        entityIds,
        { kind: 'user', ...ACTOR },
        new Date(),
        1,
      );
    } finally {
      await kernel.close();
    }

    // A target holding rows is refused, and kept as it was.
    const again = await migrateToPostgres(databasePath, target);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/the target already holds rows \(.+\): copy into an empty database, or give --force/);

    // A target that loses rows (here: a rule dropping audit events) fails the verification.
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      await client.query('create rule lose_audit as on insert to audit_events do instead nothing');
    } finally {
      await client.end();
    }
    const lossy = await migrateToPostgres(databasePath, target, '--force');
    expect(lossy.code).toBe(1);
    expect(lossy.stdout).toMatch(/^audit_events\s+([1-9]\d*)\s+0\s+[0-9a-f]{32}\s+MISMATCH/m);
    expect(lossy.stderr).toMatch(/the copy differs from the source/);
  }, 180_000);

  it('refuses what it cannot copy: no file, not Holdfast, a URL that is not PostgreSQL', async () => {
    const missing = await migrateToPostgres(join(work.path, 'none.sqlite'), 'postgres://u:p@127.0.0.1:1/x');
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/cannot open .*none\.sqlite as an SQLite database/);
    const notHoldfast = join(work.path, 'other.sqlite');
    new Database(notHoldfast).close();
    const other = await migrateToPostgres(notHoldfast, 'postgres://u:p@127.0.0.1:1/x');
    expect(other.code).toBe(4);
    expect(other.stderr).toMatch(/the source is not a Holdfast database/);
    const badUrl = await migrateToPostgres(join(work.path, 'none.sqlite'), 'mysql://u:p@host/x');
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/--to postgres:\/\//);
    // Three CLI processes: a ceiling for a busy machine, not an estimate.
  }, 120_000);
});
