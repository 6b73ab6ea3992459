// Every /api/v1 tenancy route against callers who must not reach the object: an API key of
// a partner trying its parent's, a sibling partner's and another tenant's customer's ids
// (404, nothing changes), an anonymous caller (401), and a signed-in Custom user without the
// route's permission (403).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, IpRule } from '../../../core/access/entities.ts';
import { CatalogRepository, CatalogSnapshot } from '../../../core/catalog/entities.ts';
import { Organization, User } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { enqueueJob } from '../../../core/jobs/queue.ts';
import { MailMessage } from '../../../core/mail/entities.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import {
  addOrganization,
  addUser,
  getTokens,
  json,
  makeKey,
  makeTaskAndExport,
  rootOrganization,
  withBearer,
} from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';

interface Target {
  org: string;
  rule: string;
  key: string;
  user: string;
  task: string;
  entity: string;
  snapshot: string;
}

type Call = [method: string, path: string, body?: unknown];

/** Every route of the tenancy API, aimed at one organization's objects. */
function routes(o: Target): Call[] {
  const base = `/api/v1/organizations/${o.org}`;
  return [
    ['GET', base],
    ['PATCH', base, { name: 'Renamed by an intruder' }],
    ['GET', `${base}/children`],
    ['GET', `${base}/children?scope=descendants&search=a`],
    ['POST', `${base}/children`, { kind: 'customer', name: 'Planted account' }],
    ['GET', `${base}/ip-rules`],
    ['POST', `${base}/ip-rules`, { entries: ['10.9.9.9'] }],
    ['PATCH', `${base}/ip-rules/${o.rule}`, { entries: ['10.9.9.9'] }],
    ['DELETE', `${base}/ip-rules/${o.rule}`],
    ['PUT', `${base}/ip-restrictions`, { enabled: false }],
    ['GET', `${base}/api-keys`],
    ['POST', `${base}/api-keys`],
    ['DELETE', `${base}/api-keys/${o.key}`],
    ['GET', `${base}/users`],
    ['POST', `${base}/users`, { email: 'planted@intruder.example', role: 'administrator' }],
    ['PATCH', `${base}/users/${o.user}`, { role: 'custom', status: 'deactivated' }],
    ['DELETE', `${base}/users/${o.user}`],
    ['GET', `/api/v1/audit?organization=${o.org}`],
    ['GET', `/api/v1/audit/export.csv?organization=${o.org}`],
    ['GET', `/api/v1/activity?organization=${o.org}`],
    ['GET', `/api/v1/activity/export.csv?organization=${o.org}`],
    ['PUT', `${base}/removal`, { confirmation: 'I approve the removal of my data' }],
    ['DELETE', `${base}/removal`],
  ];
}

/** Every route of the backup task API, aimed at one organization's task and entity. */
function taskRoutes(o: Target): Call[] {
  const task = `/api/v1/tasks/${o.task}`;
  const ids = { ids: [o.entity] };
  return [
    ['GET', `/api/v1/tasks?organization=${o.org}`],
    ['GET', `/api/v1/tasks?organization=${o.org}&deleted=true`],
    ['POST', `/api/v1/tasks?organization=${o.org}`, { service: 'test-service', name: 'Planted', connection: {} }],
    ['GET', task],
    ['PATCH', task, { name: 'Renamed by an intruder' }],
    ['DELETE', task],
    ['POST', `${task}/restore`],
    ['POST', `${task}/pause`],
    ['POST', `${task}/resume`],
    ['PUT', `${task}/connection`, { connection: { token: 'x' } }],
    ['POST', `${task}/discover`],
    ['GET', `${task}/entities`],
    ['GET', `${task}/chart`],
    ...['activate', 'pause', 'backup-now', 'delete', 'restore'].map(
      (action): Call => ['POST', `${task}/entities/${action}`, ids],
    ),
  ];
}

/** Every route of the recovery API, aimed at one organization's task, entity and snapshot. */
function recoveryRoutes(o: Pick<Target, 'task' | 'entity' | 'snapshot'>): Call[] {
  const entity = `/api/v1/tasks/${o.task}/entities/${o.entity}`;
  return [
    ['GET', `${entity}/snapshots`],
    ['GET', `${entity}/snapshots/${o.snapshot}/items`],
    ['GET', `${entity}/snapshots/${o.snapshot}/items?path=a&page=2`],
    ['GET', `${entity}/items?q=a`],
  ];
}

/** Reading a task needs only a caller within reach; these change something. */
const taskWrites = (o: Target) => taskRoutes(o).filter(([method]) => method !== 'GET');
/** A backup task and a finished export (with a result file) of one organization. */
interface JobTarget {
  task: string;
  job: string;
  /** A backup run of the task (what backup-now queues). */
  backup: string;
}

/** Every route of the jobs API, aimed at one organization's task and job. */
function jobRoutes(o: JobTarget): Call[] {
  return [
    ['GET', `/api/v1/jobs?task=${o.task}`],
    ['GET', `/api/v1/jobs/${o.job}`],
    ['POST', `/api/v1/jobs/${o.job}/cancel`],
    ['GET', `/api/v1/jobs/${o.job}/download`],
    ['POST', '/api/v1/jobs', { kind: 'export', taskId: o.task, entityId: 'x', snapshotId: 'y' }],
    ['GET', `/api/v1/jobs/${o.backup}`],
    ['POST', `/api/v1/jobs/${o.backup}/cancel`],
  ];
}

const resultFolder = mkdtempSync(join(tmpdir(), 'holdfast-api-isolation-'));

async function jobTarget(orgId: string): Promise<JobTarget> {
  const made = await makeTaskAndExport(t, orgId, resultFolder);
  const backup = await enqueueJob(
    t.kernel.orm.em.fork(),
    {
      organizationId: orgId,
      kind: 'backup',
      label: 'A backup',
      taskId: made.task,
      initiator: { kind: 'user', label: 'someone@acme.example' },
      maxAttempts: 1,
    },
    new Date(),
  );
  return { task: made.task, job: made.job, backup };
}

let t: TestApp;
let tokenA: string;
let ownJobs: JobTarget;
const jobVictims: Record<string, JobTarget> = {};
let own: Target;
const victims: Record<string, Target> = {};
let noPermissionCookie: string;

/** Everything an intruder might try to change, as one comparable value. */
async function snapshot(): Promise<string> {
  const em = t.kernel.orm.em.fork();
  const orgs = await em.find(Organization, {}, { orderBy: { id: 'asc' } });
  const rules = await em.find(IpRule, {}, { orderBy: { id: 'asc' } });
  const keys = await em.find(ApiKey, {}, { orderBy: { id: 'asc' } });
  const users = await em.find(User, {}, { orderBy: { id: 'asc' } });
  const tasks = await em.find(BackupTask, {}, { orderBy: { id: 'asc' } });
  const entities = await em.find(TaskEntity, {}, { orderBy: { id: 'asc' } });
  return JSON.stringify({
    tasks: tasks.map((x) => [x.id, x.name, x.status, x.deletedAt, x.connection]),
    entities: entities.map((x) => [x.id, x.status, x.deletedAt]),
    orgs: orgs.map((o) => [o.id, o.name, o.contactEmail, o.ipRestrictionsEnabled, o.status]),
    rules: rules.map((r) => [r.id, r.description, r.entries]),
    keys: keys.map((k) => k.id),
    users: users.map((u) => [u.id, u.email, u.role, u.status, u.displayName]),
    mail: await em.count(MailMessage),
    jobs: (await em.find(Job, {}, { orderBy: { id: 'asc' } })).map((j) => [j.id, j.state, j.cancelRequestedAt]),
    downloads: (await em.find(ExportResult, {}, { orderBy: { id: 'asc' } })).map((r) => [r.id, r.downloads]),
  });
}

/** Objects of every kind inside an organization, made with a key of that organization. */
async function populate(orgId: string, token: string): Promise<Target> {
  const base = `/api/v1/organizations/${orgId}`;
  const rule = await json(
    await t.app.request(`${base}/ip-rules`, withBearer(token, 'POST', { entries: ['10.1.1.1'] })),
  );
  const key = await json(await t.app.request(`${base}/api-keys`, withBearer(token, 'POST')));
  const user = await json(
    await t.app.request(`${base}/users`, withBearer(token, 'POST', { email: `user@${orgId}.example`, role: 'custom' })),
  );
  if (!rule.id || !key.clientId || !user.id) throw new Error('set-up failed');
  // A bare task and entity: the routes must refuse them by reach before anything reads the connection.
  const em = t.kernel.orm.em.fork();
  const task = em.create(BackupTask, {
    organization: orgId,
    service: 'test-service',
    name: 'Task of the tenant',
    connection: 'not-a-sealed-connection',
  });
  const entity = em.create(TaskEntity, { task, externalId: 'x', name: 'Entity', kind: 'user', pluginState: null });
  // A snapshot of the entity as the catalog lists it (the recovery routes read nothing else).
  const repository = em.create(CatalogRepository, { id: randomUUID(), location: 'local:/nowhere', indexedAt: null });
  const snapshot = em.create(CatalogSnapshot, {
    id: randomBytes(32).toString('hex'),
    repository,
    task: task.id,
    entity: 'x',
    time: new Date(),
    parent: null,
    items: 0,
    bytes: 0,
  });
  await em.flush();
  return {
    org: orgId,
    rule: rule.id,
    key: key.clientId,
    user: user.id,
    task: task.id,
    entity: entity.id,
    snapshot: snapshot.id,
  };
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const root = await rootOrganization(t);
  const partnerA = await addOrganization(t, root, 'partner', 'Partner A');
  const partnerB = await addOrganization(t, root, 'partner', 'Partner B');
  const customerB = await addOrganization(t, partnerB, 'customer', 'Customer of B');
  tokenA = (await getTokens(t.app, await makeKey(t, partnerA))).access_token;
  own = await populate(partnerA.id, tokenA);
  const rootToken = (await getTokens(t.app, await makeKey(t, root))).access_token;
  victims.parent = await populate(root.id, rootToken);
  victims.sibling = await populate(partnerB.id, rootToken);
  victims.otherTenantsCustomer = await populate(customerB.id, rootToken);
  ownJobs = await jobTarget(partnerA.id);
  jobVictims.parent = await jobTarget(root.id);
  jobVictims.sibling = await jobTarget(partnerB.id);
  jobVictims.otherTenantsCustomer = await jobTarget(customerB.id);
  await addUser(t, root, 'nobody@acme.example', 'Nobody-has-rights-42', 'custom', []);
  noPermissionCookie = await signIn(t.app, 'nobody@acme.example', 'Nobody-has-rights-42');
});
afterAll(async () => {
  await t.close();
});

function request(call: Call, headers: Record<string, string>): RequestInit {
  const [method, , body] = call;
  return {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

describe('an API key of partner A', () => {
  for (const victim of ['parent', 'sibling', 'otherTenantsCustomer']) {
    it(`gets 404 for every route aimed at the ${victim}'s objects, and nothing changes`, async () => {
      const before = await snapshot();
      for (const call of [
        ...routes(victims[victim] as Target),
        ...taskRoutes(victims[victim] as Target),
        ...recoveryRoutes(victims[victim] as Target),
      ]) {
        const res = await t.app.request(call[1], request(call, { authorization: `Bearer ${tokenA}` }));
        expect({ call: `${call[0]} ${call[1]}`, status: res.status }).toEqual({
          call: `${call[0]} ${call[1]}`,
          status: 404,
        });
        expect((await json(res)).error.code).toBe('not_found');
      }
      expect(await snapshot()).toBe(before);
    });
  }

  it('gets 404, not 422, for foreign ids even with a payload that would fail validation', async () => {
    const invalid = { name: 42, entries: 'nope', role: 'emperor', enabled: 'maybe', kind: 'planet', email: 7 };
    const withBodies = [
      ...routes(victims.sibling as Target),
      ...taskRoutes(victims.sibling as Target),
      ...routes({ ...own, rule: victims.sibling?.rule, user: victims.sibling?.user } as Target).filter(([, path]) =>
        /ip-rules\/|users\//.test(path),
      ),
    ].filter(([, , body]) => body !== undefined);
    expect(withBodies.length).toBeGreaterThan(8);
    for (const [method, path] of withBodies) {
      const res = await t.app.request(path, request([method, path, invalid], { authorization: `Bearer ${tokenA}` }));
      expect({ call: `${method} ${path}`, status: res.status }).toEqual({ call: `${method} ${path}`, status: 404 });
    }
  });

  it("gets 404 for another organization's rule, key and user ids even under its own organization", async () => {
    const before = await snapshot();
    const mixed = { ...own, rule: victims.sibling?.rule, key: victims.sibling?.key, user: victims.sibling?.user };
    const subRoutes = routes(mixed as Target).filter(([, path]) => /ip-rules\/|api-keys\/|users\//.test(path));
    expect(subRoutes).toHaveLength(5);
    for (const call of subRoutes) {
      const res = await t.app.request(call[1], request(call, { authorization: `Bearer ${tokenA}` }));
      expect({ call: `${call[0]} ${call[1]}`, status: res.status }).toEqual({
        call: `${call[0]} ${call[1]}`,
        status: 404,
      });
    }
    expect(await snapshot()).toBe(before);
  });

  it("gets 404 for another organization's snapshot under its own task and entity", async () => {
    for (const victim of ['parent', 'sibling', 'otherTenantsCustomer']) {
      const mixed = { task: own.task, entity: own.entity, snapshot: (victims[victim] as Target).snapshot };
      for (const [method, path] of recoveryRoutes(mixed).filter(([, p]) => p.includes('/snapshots/'))) {
        const res = await t.app.request(path, request([method, path], { authorization: `Bearer ${tokenA}` }));
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
      }
    }
  });

  it('reads its own task and its entities through the same routes', async () => {
    for (const path of [
      `/api/v1/tasks/${own.task}`,
      `/api/v1/tasks/${own.task}/entities`,
      '/api/v1/tasks',
      ...recoveryRoutes(own).map(([, p]) => p),
    ]) {
      const res = await t.app.request(path, withBearer(tokenA));
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
  });

  it('reaches its own objects through the same routes', async () => {
    for (const call of routes(own)) {
      const res = await t.app.request(call[1], request(call, { authorization: `Bearer ${tokenA}` }));
      expect({ call: `${call[0]} ${call[1]}`, ok: res.status < 300 }).toEqual({
        call: `${call[0]} ${call[1]}`,
        ok: true,
      });
    }
  });
});

describe('the jobs API for an API key of partner A', () => {
  for (const victim of ['parent', 'sibling', 'otherTenantsCustomer']) {
    it(`gets 404 for every jobs route aimed at the ${victim}'s task and job, and nothing changes`, async () => {
      const before = await snapshot();
      for (const call of jobRoutes(jobVictims[victim] as JobTarget)) {
        const res = await t.app.request(call[1], request(call, { authorization: `Bearer ${tokenA}` }));
        expect({ call: `${call[0]} ${call[1]}`, status: res.status }).toEqual({
          call: `${call[0]} ${call[1]}`,
          status: 404,
        });
        expect((await json(res)).error.code).toBe('not_found');
      }
      expect(await snapshot()).toBe(before);
    });
  }

  it('reaches its own jobs through the same routes', async () => {
    // Starting needs a real snapshot (covered in jobs-page.test.ts): here only the reading routes and cancel.
    for (const call of jobRoutes(ownJobs).filter(([method, path]) => !(method === 'POST' && path === '/api/v1/jobs'))) {
      const res = await t.app.request(call[1], request(call, { authorization: `Bearer ${tokenA}` }));
      expect({ call: `${call[0]} ${call[1]}`, status: res.status }).toEqual({
        call: `${call[0]} ${call[1]}`,
        status: 200,
      });
    }
  });

  it('answers 401 to anonymous callers and 403 to a Custom user without restore or export rights', async () => {
    const before = await snapshot();
    for (const call of jobRoutes(jobVictims.parent as JobTarget)) {
      const anonymous = await t.app.request(call[1], request(call, { origin: ORIGIN }));
      expect({ call: `${call[0]} ${call[1]}`, status: anonymous.status }).toEqual({
        call: `${call[0]} ${call[1]}`,
        status: 401,
      });
      const custom = await t.app.request(call[1], request(call, { cookie: noPermissionCookie, origin: ORIGIN }));
      expect({ call: `${call[0]} ${call[1]}`, status: custom.status }).toEqual({
        call: `${call[0]} ${call[1]}`,
        status: 403,
      });
    }
    expect(await snapshot()).toBe(before);
  });
});

describe('callers without credentials or permission', () => {
  it('answers 401 to an anonymous caller on every route, and nothing changes', async () => {
    const before = await snapshot();
    for (const call of [
      ...routes(victims.parent as Target),
      ...taskRoutes(victims.parent as Target),
      ...recoveryRoutes(victims.parent as Target),
    ]) {
      const res = await t.app.request(call[1], request(call, { origin: ORIGIN }));
      expect({ call: `${call[0]} ${call[1]}`, status: res.status }).toEqual({
        call: `${call[0]} ${call[1]}`,
        status: 401,
      });
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    }
    expect(await snapshot()).toBe(before);
  });

  it('answers 403 to a signed-in Custom user without the permission, on their own organization', async () => {
    const before = await snapshot();
    for (const call of [
      ...routes(victims.parent as Target),
      ...taskWrites(victims.parent as Target),
      ...recoveryRoutes(victims.parent as Target),
    ]) {
      const res = await t.app.request(call[1], request(call, { cookie: noPermissionCookie, origin: ORIGIN }));
      expect({ call: `${call[0]} ${call[1]}`, status: res.status }).toEqual({
        call: `${call[0]} ${call[1]}`,
        status: 403,
      });
      expect((await json(res)).error.code).toBe('forbidden');
    }
    expect(await snapshot()).toBe(before);
  });
});
