// The per-subtree health counters (`subtree_health`, kept by the triggers of migration
// ..._subtree_health) against a direct count after every kind of change: an entity's new
// result, size or run; an entity and a task deleted, restored and removed; a task added;
// accounts added at every level; an account purged with its subtree; an account moved with its
// own accounts; a health row deleted alone; a kind changed; and a row spoiled by hand, which the
// count at start puts right. The direct count
// sums the `account_health` rows (each organization's own figures) of every organization whose
// path lies under the row's. Runs on SQLite and, in the `postgres` project, on PostgreSQL.
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { createOrganization } from '../../../core/tenancy/organizations.ts';
import { purgeDueOrganizations } from '../../../core/tenancy/removal.ts';
import { recountSubtreeHealth } from '../../../core/tenancy/subtree-health.ts';
import { type PortalTree, portalTaskFields, seedPortalTree } from '../../fixtures/portal-tree.ts';
import { completeSetupVia, createTestApp, type TestApp } from '../../helpers/kernel.ts';
import { rootOf } from '../../helpers/tenants.ts';

let t: TestApp;
let tree: PortalTree;
const em = () => t.kernel.orm.em.fork();

type Row = Record<string, number | null>;

const toTime = (v: unknown): number | null =>
  v === null || v === undefined
    ? null
    : v instanceof Date
      ? v.getTime()
      : /^\d+$/.test(String(v))
        ? Number(v)
        : new Date(String(v)).getTime();

/** Every organization's subtree figures, counted here from organizations and account_health. */
async function directCount(): Promise<Record<string, Row>> {
  const conn = em().getConnection();
  const orgs = (await conn.execute('select id, kind, path from organizations', [], 'all')) as {
    id: string;
    kind: string;
    path: string;
  }[];
  const health = new Map(
    ((await conn.execute('select * from account_health', [], 'all')) as Record<string, unknown>[]).map((h) => [
      h.organization_id as string,
      h,
    ]),
  );
  const worst = (h: Record<string, unknown> | undefined) =>
    !h ? 0 : Number(h.failed) > 0 ? 3 : Number(h.partial) > 0 ? 2 : Number(h.success) > 0 ? 1 : 0;
  const out: Record<string, Row> = {};
  for (const org of orgs) {
    const row: Row = {
      tasks: 0,
      failed: 0,
      partial: 0,
      success: 0,
      protected: 0,
      bytes: 0,
      stored_bytes: 0,
      last_run_at: null,
      customers: 0,
      customers_success: 0,
      customers_partial: 0,
      customers_failed: 0,
    };
    for (const below of orgs) {
      if (!below.path.startsWith(org.path)) continue;
      const h = health.get(below.id);
      for (const c of ['tasks', 'failed', 'partial', 'success', 'protected', 'bytes', 'stored_bytes']) {
        row[c] = (row[c] as number) + Number(h?.[c] ?? 0);
      }
      const last = toTime(h?.last_run_at);
      if (last !== null && (row.last_run_at === null || last > (row.last_run_at as number))) row.last_run_at = last;
      if (below.kind === 'customer' && below.id !== org.id) {
        row.customers = (row.customers as number) + 1;
        const w = worst(h);
        if (w === 1) row.customers_success = (row.customers_success as number) + 1;
        if (w === 2) row.customers_partial = (row.customers_partial as number) + 1;
        if (w === 3) row.customers_failed = (row.customers_failed as number) + 1;
      }
    }
    out[org.id] = row;
  }
  return out;
}

/** The counters as the database keeps them. */
async function counters(): Promise<Record<string, Row>> {
  const rows = (await em().getConnection().execute('select * from subtree_health', [], 'all')) as Record<
    string,
    unknown
  >[];
  const out: Record<string, Row> = {};
  for (const r of rows) {
    const { organization_id, last_run_at, ...rest } = r;
    out[organization_id as string] = {
      ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, Number(v)])),
      last_run_at: toTime(last_run_at),
    };
  }
  return out;
}

async function expectAgreement(): Promise<void> {
  expect(await counters()).toEqual(await directCount());
}

async function orgNamed(e: EntityManager, name: string): Promise<IOrganization> {
  return e.findOneOrFail(Organization, { name });
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const e = em();
  tree = await seedPortalTree(e, await rootOf(e), { distributors: 2, partners: 4, customers: 30, tasks: 80 });
}, 120_000);

afterAll(async () => {
  await t.close();
});

describe('subtree health counters', () => {
  it('agree with a direct count on a seeded tree', async () => {
    const counted = await counters();
    expect(Object.keys(counted)).toHaveLength(1 + 2 + 4 + 30);
    const root = await rootOf(em());
    expect(counted[root.id]?.customers).toBe(30);
    expect(counted[root.id]?.customers_failed).toBeGreaterThan(0);
    await expectAgreement();
  });

  it('follow an entity’s new result, size and run, and its deletion', async () => {
    const e = em();
    const entities = await e.find(TaskEntity, { deletedAt: null }, { orderBy: { id: 'asc' }, limit: 6 });
    const [a, b, c, d] = entities as [
      (typeof entities)[number],
      (typeof entities)[number],
      (typeof entities)[number],
      (typeof entities)[number],
    ];
    a.status = 'failed';
    await e.flush();
    await expectAgreement();
    a.status = 'partial';
    b.status = 'success';
    b.lastBytes = 987_654;
    b.storedBytes = 123_456;
    b.lastRunAt = new Date(Date.now() + 3_600_000);
    await e.flush();
    await expectAgreement();
    // A run's time set back: the subtree's latest run is taken again.
    b.lastRunAt = new Date(Date.now() - 86_400_000);
    await e.flush();
    await expectAgreement();
    c.deletedAt = new Date();
    await e.flush();
    await expectAgreement();
    e.remove(d);
    await e.flush();
    await expectAgreement();
  });

  it('follow a task deleted, restored, removed and added', async () => {
    const e = em();
    const [task, other] = await e.find(BackupTask, { deletedAt: null }, { orderBy: { id: 'asc' }, limit: 2 });
    if (!task || !other) throw new Error('the seeded tree has no tasks');
    task.deletedAt = new Date();
    await e.flush();
    await expectAgreement();
    task.deletedAt = null;
    await e.flush();
    await expectAgreement();
    e.remove(other);
    await e.flush();
    await expectAgreement();
    // A customer without tasks gets its first: from "No backup" to its entity's result.
    const idle = tree.customers[9] as string;
    const added = e.create(BackupTask, portalTaskFields(idle, 'Dropbox new') as never);
    await e.flush();
    await expectAgreement();
    e.create(TaskEntity, {
      task: added,
      externalId: 'member-new',
      name: 'new@customer.example',
      kind: 'member',
      status: 'failed',
      lastRunAt: new Date(),
      lastItems: 3,
      lastBytes: 3 * 4096,
      storedBytes: 3 * 1500,
    } as never);
    await e.flush();
    await expectAgreement();
  });

  it('follow accounts added at every level', async () => {
    const e = em();
    const distributor = await orgNamed(e, 'Distributor 0');
    const partner = await createOrganization(e, distributor, {
      kind: 'partner',
      name: 'Partner new',
      contactEmail: 'noc@partner-new.example',
    });
    await expectAgreement();
    await createOrganization(e, partner, { kind: 'customer', name: 'Customer new', contactEmail: 'it@new.example' });
    await createOrganization(e, distributor, {
      kind: 'customer',
      name: 'Direct customer',
      contactEmail: 'it@direct.example',
    });
    await expectAgreement();
    expect((await counters())[partner.id]?.customers).toBe(1);
  });

  it('follow an account purged with its subtree', async () => {
    const e = em();
    const partner = await orgNamed(e, 'Partner 1');
    partner.status = 'removal_pending';
    partner.purgeAfter = new Date(Date.now() - 1000);
    await e.flush();
    const purged = await purgeDueOrganizations(e, new Date());
    expect(purged.map((p) => p.name)).toEqual(['Partner 1']);
    await expectAgreement();
    expect((await counters())[partner.id]).toBeUndefined();
  });

  it('follow an account moved with its own accounts, and a customer moved alone', async () => {
    const e = em();
    const partner = await orgNamed(e, 'Partner 2');
    const target = await orgNamed(e, 'Distributor 1');
    const conn = e.getConnection();
    // The partner and everything under it take the new parent's path, in one statement.
    const newPath = `${target.path}${partner.id}/`;
    await conn.execute(
      `update organizations set path = ? || substr(path, ?) where path >= ? and path < ?`,
      [newPath, partner.path.length + 1, partner.path, `${partner.path.slice(0, -1)}0`],
      'run',
    );
    await conn.execute('update organizations set parent_id = ? where id = ?', [target.id, partner.id], 'run');
    await expectAgreement();
    const customer = (await e.fork().find(Organization, { kind: 'customer' }, { orderBy: { name: 'asc' } }))[0];
    if (!customer) throw new Error('no customer');
    const home = await orgNamed(e.fork(), 'Partner 3');
    await conn.execute(
      'update organizations set parent_id = ?, path = ? where id = ?',
      [home.id, `${home.path}${customer.id}/`, customer.id],
      'run',
    );
    await expectAgreement();
  });

  it('follow a health row deleted on its own and an account whose kind changes', async () => {
    const conn = em().getConnection();
    const [failing] = (await conn.execute(
      `select h.organization_id as id from account_health h join organizations o on o.id = h.organization_id
       where o.kind = 'customer' and h.failed > 0 and h.last_run_at is not null order by h.organization_id limit 1`,
      [],
      'all',
    )) as { id: string }[];
    if (!failing) throw new Error('no failing customer');
    await conn.execute('delete from account_health where organization_id = ?', [failing.id], 'run');
    await expectAgreement();
    await conn.execute(`update organizations set kind = 'partner' where id = ?`, [failing.id], 'run');
    await expectAgreement();
  });

  it('are counted again at start when a row was spoiled', async () => {
    const conn = em().getConnection();
    await conn.execute('update subtree_health set customers = customers + 7, bytes = 1', [], 'run');
    await conn.execute(
      'delete from subtree_health where organization_id = (select min(id) from organizations where kind = ?)',
      ['customer'],
      'run',
    );
    expect(await counters()).not.toEqual(await directCount());
    await recountSubtreeHealth(t.kernel.orm.em);
    await expectAgreement();
  });
});
