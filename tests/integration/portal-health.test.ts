// The portal's backup health (issue 20) on a seeded tenant tree (tests/fixtures/portal-tree.ts,
// the script bench/portal.ts runs at full size): the tiles and the accounts list agree with a
// count made here from every entity row, at the root, a distributor, a partner and a partner
// opened from its distributor; each backup filter and sort column orders and selects as the
// direct count says; the partner list's task status; a customer homepage's last backup per
// task; another tenant's account is a 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { principalForUser } from '../../core/access/principal.ts';
import { type IOrganization, Organization, User } from '../../core/identity/entities.ts';
import { BackupTask, TaskEntity } from '../../core/tasks/entities.ts';
import { BACKUP_STATUSES, type BackupStatus } from '../../core/tenancy/account-health.ts';
import { ACCOUNT_SORTS, type AccountSort, listAccounts, parseAccountQuery } from '../../core/tenancy/account-list.ts';
import { type PortalTree, seedPortalTree } from '../fixtures/portal-tree.ts';
import { ADMIN, completeSetupVia, createTestApp, form, signIn, type TestApp } from '../helpers/kernel.ts';
import { makeUser, rootOf, TEST_PASSWORD } from '../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let tree: PortalTree;
let rootCookie: string;
let distributorCookie: string;
let partnerCookie: string;

interface Expected {
  id: string;
  name: string;
  kind: string;
  path: string;
  email: string | null;
  worst: number;
  bytes: number;
  stored: number;
  protected: number;
  lastRun: number | null;
  tasks: number;
}

/** Every organization's own figures, counted here from the rows (the direct count). */
let own: Map<string, Expected>;

const em = () => t.kernel.orm.em.fork();
const RANK: Record<string, number> = { success: 1, partial: 2, failed: 3 };
const ACTIVE = new Set(['scheduled', 'in_process', 'success', 'partial', 'failed']);

function get(path: string, cookie: string) {
  return t.app.request(path, { headers: { cookie } });
}

/** The figures of an organization's whole subtree (itself included). */
function rolled(org: Expected): Expected {
  const out = { ...org, worst: 0, bytes: 0, stored: 0, protected: 0, lastRun: null as number | null, tasks: 0 };
  for (const o of own.values()) {
    if (!o.path.startsWith(org.path)) continue;
    out.worst = Math.max(out.worst, o.worst);
    out.bytes += o.bytes;
    out.stored += o.stored;
    out.protected += o.protected;
    out.tasks += o.tasks;
    if (o.lastRun !== null && (out.lastRun === null || o.lastRun > out.lastRun)) out.lastRun = o.lastRun;
  }
  return out;
}

function customersUnder(org: IOrganization): Expected[] {
  return [...own.values()].filter((o) => o.kind === 'customer' && o.path.startsWith(org.path) && o.id !== org.id);
}

function directTiles(org: IOrganization): Record<BackupStatus, number> {
  const counts: Record<BackupStatus, number> = { none: 0, success: 0, partial: 0, failed: 0 };
  for (const c of customersUnder(org)) counts[BACKUP_STATUSES[c.worst] as BackupStatus]++;
  return counts;
}

/** The tile figures of a rendered Accounts page. */
function tilesOf(html: string): Record<string, number> {
  return Object.fromEntries(
    [
      ...html.matchAll(
        /backup-tile-(\w+)[^"]*"[^>]*>\s*<span class="tile-title">[^<]*<\/span>\s*<span class="tile-figure">(\d+)</g,
      ),
    ].map((m) => [m[1] as string, Number(m[2])]),
  );
}

function cookieFrom(res: Response): string {
  return (res.headers.get('set-cookie') as string).split(';')[0] as string;
}

async function orgNamed(name: string): Promise<IOrganization> {
  return em().findOneOrFail(Organization, { name });
}

/** Counts every organization's figures again from the rows (after a change). */
async function recount(): Promise<void> {
  const e = em();
  own = new Map();
  for (const o of await e.find(Organization, {})) {
    own.set(o.id, {
      id: o.id,
      name: o.name,
      kind: o.kind,
      path: o.path,
      email: o.contactEmail ?? null,
      worst: 0,
      bytes: 0,
      stored: 0,
      protected: 0,
      lastRun: null,
      tasks: 0,
    });
  }
  const taskOrg = new Map<string, string>();
  for (const task of await e.find(BackupTask, { deletedAt: null })) {
    const orgId = (task.organization as IOrganization).id;
    taskOrg.set(task.id, orgId);
    (own.get(orgId) as Expected).tasks++;
  }
  for (const entity of await e.find(TaskEntity, { deletedAt: null })) {
    const orgId = taskOrg.get((entity.task as { id: string }).id);
    if (!orgId) continue; // its task is deleted
    const o = own.get(orgId) as Expected;
    o.worst = Math.max(o.worst, RANK[entity.status] ?? 0);
    o.bytes += Number(entity.lastBytes);
    o.stored += Number(entity.storedBytes);
    if (ACTIVE.has(entity.status)) o.protected++;
    const at = entity.lastRunAt?.getTime() ?? null;
    if (at !== null && (o.lastRun === null || at > o.lastRun)) o.lastRun = at;
  }
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const e = em();
  root = await rootOf(e);
  tree = await seedPortalTree(e, root, { distributors: 2, partners: 6, customers: 120, tasks: 600 });
  await recount();
  const distributor = await orgNamed('Distributor 0');
  const partner = await orgNamed('Partner 1');
  await makeUser(e, distributor, 'admin@distributor-0.example');
  await makeUser(e, partner, 'admin@partner-1.example');
  rootCookie = await signIn(t.app);
  distributorCookie = await signIn(t.app, 'admin@distributor-0.example', TEST_PASSWORD);
  partnerCookie = await signIn(t.app, 'admin@partner-1.example', TEST_PASSWORD);
}, 120_000);

afterAll(async () => {
  await t.close();
});

describe('backup status tiles', () => {
  it('seeds a tree with every outcome, and customers without tasks', () => {
    const tiles = directTiles(root);
    expect(tree.customers).toHaveLength(120);
    for (const status of BACKUP_STATUSES) expect(tiles[status]).toBeGreaterThan(0);
  });

  it('count the customer accounts below the root, a distributor and a partner as a direct count does', async () => {
    expect(tilesOf(await (await get('/portal', rootCookie)).text())).toEqual(directTiles(root));
    expect(tilesOf(await (await get('/portal', distributorCookie)).text())).toEqual(
      directTiles(await orgNamed('Distributor 0')),
    );
    expect(tilesOf(await (await get('/portal', partnerCookie)).text())).toEqual(
      directTiles(await orgNamed('Partner 1')),
    );
  });

  it('count a partner opened from its distributor, which lands on that partner’s dashboard', async () => {
    const partner = await orgNamed('Partner 2'); // under Distributor 0 (partners alternate)
    const f = form({ to: 'portal' });
    // Opening rotates the session: a sign-in of its own, so the other tests keep theirs.
    const cookie = await signIn(t.app, 'admin@distributor-0.example', TEST_PASSWORD);
    const opened = await t.app.request(`/portal/accounts/${partner.id}/open`, {
      ...f,
      headers: { ...f.headers, cookie },
    });
    expect(opened.status).toBe(303);
    expect(opened.headers.get('location')).toBe('/portal');
    const html = await (await get('/portal', cookieFrom(opened))).text();
    expect(tilesOf(html)).toEqual(directTiles(partner));
  });

  it('link each tile to the list of exactly those accounts', async () => {
    const html = await (await get('/portal', rootCookie)).text();
    const expected = directTiles(root);
    for (const status of BACKUP_STATUSES) {
      expect(html).toContain(`href="/portal?all=1&amp;kind=customer&amp;backup=${status}"`);
      const list = await (await get(`/portal?all=1&kind=customer&backup=${status}`, rootCookie)).text();
      expect(list).toContain(`${expected[status]} account${expected[status] === 1 ? '' : 's'} match`);
      const shown = [...list.matchAll(/data-status="(\w+)"/g)].map((m) => m[1]);
      expect(shown.length).toBe(Math.min(25, expected[status]));
      expect(new Set(shown)).toEqual(new Set([status]));
    }
  });
});

describe('a customer homepage', () => {
  it('shows each task’s last backup: the newest run of its entities', async () => {
    const e = em();
    const customer = await orgNamed('Customer 3');
    const tasks = await e.find(BackupTask, { organization: customer.id, deletedAt: null });
    expect(tasks.length).toBeGreaterThan(1);
    const f = form({});
    const cookie = await signIn(t.app);
    const opened = await t.app.request(`/portal/accounts/${customer.id}/open`, {
      ...f,
      headers: { ...f.headers, cookie },
    });
    const html = await (await get('/', cookieFrom(opened))).text();
    let backedUp = 0;
    for (const task of tasks) {
      const runs = (await e.find(TaskEntity, { task: task.id, deletedAt: null }))
        .map((entity) => entity.lastRunAt?.getTime() ?? null)
        .filter((at): at is number => at !== null);
      const newest = runs.length ? new Date(Math.max(...runs)).toISOString() : null;
      if (newest) backedUp++;
      const row = html.split('<tr').find((r) => r.includes(`href="/tasks/${task.id}"`)) as string;
      const cell = row.match(/data-label="Last backup"[^>]*>(.*?)<\/td>/s)?.[1] as string;
      expect(cell.match(/datetime="([^"]+)"/)?.[1] ?? null, task.name).toBe(newest);
    }
    expect(backedUp).toBeGreaterThan(0);
  });
});

describe('accounts list', () => {
  async function allRows(orgName: string, query: Record<string, string>) {
    const e = em();
    const user = await e.findOneOrFail(User, { email: ADMIN.email }, { populate: ['organization'] });
    const current = orgName === 'root' ? root : await orgNamed(orgName);
    return listAccounts(e, principalForUser(user), current, parseAccountQuery(query), 10_000);
  }

  it('filters by backup status at every level, as the direct count says', async () => {
    for (const status of BACKUP_STATUSES) {
      const page = await allRows('root', { all: '1', kind: 'customer', backup: status });
      const expected = customersUnder(root).filter((c) => BACKUP_STATUSES[c.worst] === status);
      expect(page.rows.map((r) => r.id).sort()).toEqual(expected.map((c) => c.id).sort());
    }
  });

  it('shows each account’s size, protected entities and last backup as counted from its entities', async () => {
    const page = await allRows('Partner 3', {});
    expect(page.total).toBe(customersUnder(await orgNamed('Partner 3')).length);
    for (const row of page.rows) {
      const e = own.get(row.id) as Expected;
      expect([
        row.backupStatus,
        row.logicalBytes,
        row.storedBytes,
        row.protectedEntities,
        row.lastBackupAt?.getTime() ?? null,
      ]).toEqual([BACKUP_STATUSES[e.worst], e.bytes, e.stored, e.protected, e.lastRun]);
    }
  });

  it('sorts by every column, both ways, as the direct count orders them', async () => {
    const key: Record<string, (e: Expected) => number | string | null> = {
      name: (e) => e.name,
      email: (e) => e.email,
      status: () => 'active',
      backup: (e) => rolled(e).worst,
      size: (e) => rolled(e).bytes,
      stored: (e) => rolled(e).stored,
      entities: (e) => rolled(e).protected,
      last_backup: (e) => rolled(e).lastRun,
      accounts: (e) => customersUnder(e as unknown as IOrganization).length,
      created: () => 0,
    };
    for (const sort of Object.keys(ACCOUNT_SORTS) as AccountSort[]) {
      const column = sort.replace(/_desc$/, '');
      const pick = key[column];
      if (!pick) continue;
      const page = await allRows('root', { all: '1', sort });
      const values = page.rows.map((r) => pick(own.get(r.id) as Expected));
      const present = values.filter((v) => v !== null);
      const sorted = [...present].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (sort.endsWith('_desc')) sorted.reverse();
      expect(present, sort).toEqual(sorted);
      // Accounts never backed up come last, whichever the direction.
      if (column === 'last_backup') expect(values.slice(present.length).every((v) => v === null)).toBe(true);
    }
  });

  it('sorts the pages in the server, so page 2 continues page 1', async () => {
    const first = await (await get('/portal?all=1&kind=customer&sort=size_desc', rootCookie)).text();
    const second = await (await get('/portal?all=1&kind=customer&sort=size_desc&page=2', rootCookie)).text();
    const sizes = (html: string) =>
      [...html.matchAll(/<button type="submit" class="link-button" title="Open [^"]*">([^<]*)</g)].map(
        (m) => rolled([...own.values()].find((o) => o.name === m[1]) as Expected).bytes,
      );
    const all = [...sizes(first), ...sizes(second)];
    expect(all).toHaveLength(50);
    expect(all).toEqual([...all].sort((a, b) => b - a));
  });

  it('searches by name and contact email', async () => {
    expect((await allRows('root', { all: '1', q: 'customer-17.example' })).rows.map((r) => r.name)).toEqual([
      'Customer 17',
    ]);
    expect((await allRows('root', { all: '1', q: 'Customer 11' })).rows.map((r) => r.name).sort()).toEqual([
      'Customer 11',
      'Customer 110',
      'Customer 111',
      'Customer 112',
      'Customer 113',
      'Customer 114',
      'Customer 115',
      'Customer 116',
      'Customer 117',
      'Customer 118',
      'Customer 119',
    ]);
  });

  it('shows a distributor its partners with accounts, task status and size', async () => {
    const distributor = await orgNamed('Distributor 0');
    const page = await allRows('Distributor 0', {});
    const partners = [...own.values()].filter((o) => o.kind === 'partner' && o.path.startsWith(distributor.path));
    expect(page.rows.map((r) => r.id).sort()).toEqual(partners.map((p) => p.id).sort());
    for (const row of page.rows) {
      const p = rolled(own.get(row.id) as Expected);
      const customers = customersUnder(await orgNamed(row.name)).length;
      expect(row.customersBelow).toBe(customers);
      expect(row.logicalBytes).toBe(p.bytes);
      expect(row.taskStatus).toBe(p.worst >= 2 ? 'failures' : p.tasks ? 'successful' : 'no_tasks');
    }
    const html = await (await get('/portal', distributorCookie)).text();
    expect(html).toContain('>Accounts');
    expect(html).toContain('data-status="failed">Failures</span>');
  });

  it('says "No accounts yet" and "No tasks yet" for a partner without them', async () => {
    const e = em();
    const distributor = await orgNamed('Distributor 1');
    const { makeOrganization } = await import('../helpers/tenants.ts');
    const empty = await makeOrganization(e, distributor, 'partner', 'Empty Partner');
    const idle = await makeOrganization(e, distributor, 'partner', 'Idle Partner');
    await makeOrganization(e, idle, 'customer', 'Idle Customer');
    const rows = (await allRows('Distributor 1', { q: 'Partner' })).rows;
    expect(rows.find((r) => r.id === empty.id)?.taskStatus).toBe('no_accounts');
    expect(rows.find((r) => r.id === idle.id)?.taskStatus).toBe('no_tasks');
  });

  it('answers 404 for another distributor’s account, in the list and on every account route', async () => {
    const foreign = tree.customers.find((id) => {
      const o = own.get(id) as Expected;
      return !o.path.includes(`/${tree.distributors[0]}/`);
    }) as string;
    expect((await get(`/portal/accounts/${foreign}`, distributorCookie)).status).toBe(404);
    const f = form({});
    const open = await t.app.request(`/portal/accounts/${foreign}/open`, {
      ...f,
      headers: { ...f.headers, cookie: distributorCookie },
    });
    expect(open.status).toBe(404);
    const html = await (
      await get(`/portal?all=1&q=${encodeURIComponent((own.get(foreign) as Expected).name)}`, distributorCookie)
    ).text();
    expect(html).not.toContain(`/portal/accounts/${foreign}`);
  });
});

describe('usage report', () => {
  /** The CSV's rows as objects by header (the seeded names hold no comma or quote). */
  async function csvRows(res: Response): Promise<Record<string, string>[]> {
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const [head, ...lines] = (await res.text())
      .replace(/^\uFEFF/, '')
      .trimEnd()
      .split(/\r?\n/);
    const names = (head as string).split(',');
    return lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [names[i] as string, cell])));
  }

  /** Entities (not deleted) of the tasks of these organizations, counted from the rows. */
  async function directEntities(orgIds: string[]) {
    const e = em();
    const tasks = await e.find(BackupTask, { organization: { $in: orgIds }, deletedAt: null });
    const entities = await e.find(TaskEntity, { task: { $in: tasks.map((x) => x.id) }, deletedAt: null });
    return {
      count: entities.length,
      items: entities.reduce((n, x) => n + x.lastItems, 0),
      bytes: entities.reduce((n, x) => n + Number(x.lastBytes), 0),
      stored: entities.reduce((n, x) => n + Number(x.storedBytes), 0),
    };
  }

  function totals(rows: Record<string, string>[]) {
    return {
      count: rows.length,
      items: rows.reduce((n, r) => n + Number(r.Items), 0),
      bytes: rows.reduce((n, r) => n + Number(r['Logical size (bytes)']), 0),
      stored: rows.reduce((n, r) => n + Number(r['Stored size (bytes)']), 0),
    };
  }

  it('holds every entity of the ticked accounts, with totals equal to a direct count', async () => {
    const ticked = tree.customers.slice(0, 5);
    const query = ticked.map((id) => `account=${id}`).join('&');
    const rows = await csvRows(await get(`/portal/usage.csv?${query}`, rootCookie));
    expect(new Set(rows.map((r) => r['Account id']))).toEqual(
      new Set(ticked.filter((id) => (own.get(id) as Expected).tasks > 0)),
    );
    expect(totals(rows)).toEqual(await directEntities(ticked));
    expect(rows[0]).toMatchObject({ Service: 'Dropbox', Type: expect.stringMatching(/Team members|Team folders/) });
  });

  it('covers every account under a ticked partner once, even if one of them is ticked too', async () => {
    const partner = await orgNamed('Partner 1');
    const customers = customersUnder(partner).map((c) => c.id);
    const rows = await csvRows(
      await get(`/portal/usage.csv?account=${partner.id}&account=${customers[0]}`, rootCookie),
    );
    expect(totals(rows)).toEqual(await directEntities(customers));
  });

  it('without ticks, reports every account matching the filters, and the API says the same', async () => {
    const failed = customersUnder(root)
      .filter((c) => c.worst === 3)
      .map((c) => c.id);
    const page = await csvRows(await get('/portal/usage.csv?all=1&kind=customer&backup=failed', rootCookie));
    expect(new Set(page.map((r) => r['Account id']))).toEqual(new Set(failed));
    expect(totals(page)).toEqual(await directEntities(failed));
    const api = await csvRows(await get('/api/v1/usage?all=1&kind=customer&backup=failed', rootCookie));
    expect(api).toEqual(page);
  });

  it('streams: the first rows arrive before the last are read', async () => {
    const all = await directEntities([...own.values()].map((o) => o.id));
    const res = await get('/portal/usage.csv?all=1', rootCookie);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    expect(text.split('\r\n').length).toBeLessThan(all.count);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text.trimEnd().split('\r\n')).toHaveLength(all.count + 1);
  });

  it('answers 404 for another tenant’s account, on the page and the API', async () => {
    const foreign = tree.customers.find((id) => !(own.get(id) as Expected).path.includes(`/${tree.distributors[0]}/`));
    expect((await get(`/portal/usage.csv?account=${foreign}`, distributorCookie)).status).toBe(404);
    expect((await get(`/api/v1/usage?account=${foreign}`, distributorCookie)).status).toBe(404);
  });
});

describe('health kept as entities and tasks change', () => {
  async function agrees(customerId: string) {
    await recount();
    expect(tilesOf(await (await get('/portal', rootCookie)).text())).toEqual(directTiles(root));
    const e = em();
    const user = await e.findOneOrFail(User, { email: ADMIN.email }, { populate: ['organization'] });
    const page = await listAccounts(
      e,
      principalForUser(user),
      root,
      parseAccountQuery({ all: '1', q: (own.get(customerId) as Expected).name }),
      100,
    );
    const row = page.rows.find((r) => r.id === customerId);
    const x = own.get(customerId) as Expected;
    expect([row?.backupStatus, row?.logicalBytes, row?.storedBytes, row?.protectedEntities]).toEqual([
      BACKUP_STATUSES[x.worst],
      x.bytes,
      x.stored,
      x.protected,
    ]);
  }

  it('follows a run’s result, a deleted entity, a deleted and restored task and a purged one', async () => {
    const e = em();
    const customer = tree.customers.find((id) => (own.get(id) as Expected).worst === 1) as string;
    const tasks = await e.find(BackupTask, { organization: customer, deletedAt: null }, { orderBy: { id: 'asc' } });
    const task = tasks[0] as (typeof tasks)[number];
    const entity = await e.findOneOrFail(TaskEntity, { task: task.id }, { orderBy: { id: 'asc' } });
    entity.status = 'failed';
    entity.lastBytes = 123_456;
    entity.storedBytes = Number(entity.storedBytes) + 50_000;
    entity.lastRunAt = new Date();
    await e.flush();
    await agrees(customer);
    expect(BACKUP_STATUSES[(own.get(customer) as Expected).worst]).toBe('failed');

    entity.deletedAt = new Date();
    await e.flush();
    await agrees(customer);

    task.deletedAt = new Date();
    await e.flush();
    await agrees(customer);
    task.deletedAt = null;
    await e.flush();
    await agrees(customer);

    const fresh = em();
    for (const t of await fresh.find(BackupTask, { organization: customer })) fresh.remove(t);
    await fresh.flush();
    await agrees(customer);
    expect((own.get(customer) as Expected).tasks).toBe(0);
  });
});
