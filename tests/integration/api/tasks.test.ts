// /api/v1/tasks with an API key: create (per-field errors, a refused connection, discovery queued),
// list, get, change settings, pause/resume, re-authenticate, entities with search/status/paging,
// actions on many, the chart per day, delete/restore; secrets never in a response; a portal's
// key reaches its accounts' tasks, and nothing else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { TaskEntity } from '../../../core/tasks/entities.ts';
import { VALID_TOKEN } from '../../fakes/test-service.ts';
import {
  addOrganization,
  getTokens,
  type Json,
  json,
  makeKey,
  rootOrganization,
  withBearer,
} from '../../helpers/api.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { completeSetupVia } from '../../helpers/kernel.ts';

let h: JobsHarness;
let token: string;
let customer: IOrganization;
const bodies: string[] = [];
const REFUSED = 'refused-secret-3b9d';

async function call(
  method: string,
  path: string,
  body?: unknown,
  bearer = token,
): Promise<{ status: number; body: Json }> {
  const res = await h.app.app.request(`/api/v1${path}`, withBearer(bearer, method, body));
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

beforeAll(async () => {
  h = await createJobsHarness();
  // The API queues jobs at the clock the job runner claims them by.
  h.app.kernel.deps.now = () => h.clock.now;
  await completeSetupVia(h.app.app);
  const root = await rootOrganization(h.app);
  const partner = await addOrganization(h.app, root, 'partner', 'Partner');
  customer = await addOrganization(h.app, partner, 'customer', 'Customer');
  token = (await getTokens(h.app.app, await makeKey(h.app, partner))).access_token;
}, 60_000);

afterAll(async () => {
  await h.close();
});

const connection = { account: 'apicorp', token: VALID_TOKEN, entities: 4, items: 3 };

describe('/api/v1/tasks', () => {
  let taskId: string;

  it('refuses bad input field by field, and a refused connection, creating nothing', async () => {
    const bad = await call('POST', `/tasks?organization=${customer.id}`, {
      service: 'test-service',
      name: '',
      connection: { account: '', token: VALID_TOKEN },
      settings: { backupHour: 24, retention: { kind: 'last', count: 0 } },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.fields).toEqual({
      name: 'Enter a name for the backup task.',
      'settings.backupHour': 'Choose an hour from 0 to 23 (UTC).',
      'settings.retention': 'Enter how many backups to keep (1 or more).',
      'connection.account': 'Enter the account name.',
    });
    const unknown = await call('POST', '/tasks', { service: 'nope', name: 'x', connection: {} });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.fields).toEqual({ service: 'Choose a service that is installed on this appliance.' });
    const refused = await call('POST', `/tasks?organization=${customer.id}`, {
      service: 'test-service',
      name: 'API task',
      connection: { ...connection, token: REFUSED },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toEqual({
      code: 'validation_failed',
      message: 'Test service refused the connection.',
      fields: { connection: 'The test service refused the token (401).' },
    });
    expect((await call('GET', `/tasks?organization=${customer.id}`)).body.items).toEqual([]);
  });

  it('creates a task in an account under the key and queues its discovery', async () => {
    const created = await call('POST', `/tasks?organization=${customer.id}`, {
      service: 'test-service',
      name: 'API task',
      connection,
      settings: { frequency: 'three_times_daily', backupHour: 2, autoActivate: false },
    });
    expect(created.status).toBe(201);
    taskId = created.body.task.id;
    expect(created.body.task).toMatchObject({
      organizationId: customer.id,
      service: 'test-service',
      serviceLabel: 'Test service',
      name: 'API task',
      connectionState: 'connected',
      status: 'active',
      frequency: 'three_times_daily',
      backupHour: 2,
      apiUsageLimitPercent: 75,
      autoActivate: false,
      retention: { kind: 'all' },
      storageLocation: null,
      lastBackupAt: null,
      deletedAt: null,
    });
    expect(created.body.task).not.toHaveProperty('connection');
    const job = await h.em().findOneOrFail(Job, { id: created.body.discoveryJobId });
    expect([job.kind, job.state, job.params.operation, job.initiatorKind]).toEqual([
      'maintenance',
      'pending',
      'discover',
      'api_key',
    ]);
    await h.runner.runUntilIdle();
    const task = (await call('GET', `/tasks/${taskId}`)).body;
    expect(task.entities.not_active).toBe(4);
    // 3 times a day from 02:00 UTC: the next run is one of 02:00, 10:00, 18:00.
    expect(task.nextRunAt).toMatch(/T(02|10|18):00:00\.000Z$/);
  });

  it('lists entities with search, status and paging', async () => {
    const page = await call('GET', `/tasks/${taskId}/entities?pageSize=3&page=2`);
    expect(page.body).toMatchObject({ total: 4, page: 2, pageSize: 3 });
    expect(page.body.items.map((e: Json) => e.externalId)).toEqual(['user-004']);
    const found = await call('GET', `/tasks/${taskId}/entities?search=USER-002`);
    expect(found.body.items.map((e: Json) => [e.name, e.kindLabel, e.status])).toEqual([
      ['user-002@apicorp.example', 'Users', 'not_active'],
    ]);
    const none = await call('GET', `/tasks/${taskId}/entities?status=success`);
    expect(none.body.total).toBe(0);
    expect((await call('GET', `/tasks/${taskId}/entities?status=sunny`)).status).toBe(422);
  });

  it('acts on many entities and charts the day', async () => {
    const ids = (await call('GET', `/tasks/${taskId}/entities`)).body.items.map((e: Json) => e.id);
    expect((await call('POST', `/tasks/${taskId}/entities/activate`, { ids })).body).toEqual({ done: 4, skipped: 0 });
    const paused = await call('POST', `/tasks/${taskId}/entities/pause`, { ids: [ids[3], 'not-an-id'] });
    expect(paused.body).toEqual({ done: 1, skipped: 1 });
    const queued = await call('POST', `/tasks/${taskId}/entities/backup-now`, { ids });
    expect(queued.body.done).toBe(3);
    expect(queued.body.skipped).toBe(1);
    expect(queued.body.jobIds).toHaveLength(3);
    await h.runner.runUntilIdle();
    const statuses = (await call('GET', `/tasks/${taskId}/entities`)).body.items.map((e: Json) => [
      e.status,
      e.lastAdded,
      e.items,
    ]);
    expect(statuses).toEqual([
      ['success', 3, 3],
      ['success', 3, 3],
      ['success', 3, 3],
      ['paused', 0, 0],
    ]);
    const chart = await call('GET', `/tasks/${taskId}/chart?days=7`);
    expect(chart.body.days).toHaveLength(7);
    const today = chart.body.days[6];
    expect(today).toEqual({
      day: h.clock.now.toISOString().slice(0, 10),
      items: 9,
      runs: 3,
      failedRuns: 0,
      byKind: [{ label: 'Users', items: 9 }],
    });
    expect(chart.body.days.slice(0, 6).every((d: Json) => d.items === 0 && d.runs === 0)).toBe(true);
    expect((await call('GET', `/tasks/${taskId}/chart?days=10`)).status).toBe(422);

    const deleted = await call('POST', `/tasks/${taskId}/entities/delete`, { ids: [ids[0]] });
    expect(deleted.body).toEqual({ done: 1, skipped: 0 });
    expect((await call('GET', `/tasks/${taskId}/entities`)).body.total).toBe(3);
    expect((await call('POST', `/tasks/${taskId}/entities/restore`, { ids: [ids[0]] })).body).toEqual({
      done: 1,
      skipped: 0,
    });
    expect((await call('POST', `/tasks/${taskId}/entities/pause`, { ids: [] })).status).toBe(422);
  });

  it('changes settings, pauses, resumes and re-authenticates', async () => {
    const bad = await call('PATCH', `/tasks/${taskId}`, { apiUsageLimitPercent: 101 });
    expect(bad.status).toBe(422);
    expect(bad.body.error.fields).toEqual({
      apiUsageLimitPercent: 'Enter a percentage from 1 to 100, or leave it empty for no limit.',
    });
    const saved = await call('PATCH', `/tasks/${taskId}`, { name: 'Renamed by API', archivedRetentionDays: 30 });
    expect([saved.status, saved.body.name, saved.body.archivedRetentionDays]).toEqual([200, 'Renamed by API', 30]);
    const paused = await call('POST', `/tasks/${taskId}/pause`);
    expect([paused.body.status, paused.body.nextRunAt]).toEqual(['paused', null]);
    expect((await call('POST', `/tasks/${taskId}/resume`)).body.status).toBe('active');
    const refused = await call('PUT', `/tasks/${taskId}/connection`, { connection: { ...connection, token: REFUSED } });
    expect(refused.status).toBe(422);
    const ok = await call('PUT', `/tasks/${taskId}/connection`, { connection });
    expect(ok.body.connectionState).toBe('connected');
    expect((await call('POST', `/tasks/${taskId}/discover`)).status).toBe(202);
  });

  it('deletes (gone from the list at once) and restores during the grace period', async () => {
    const deleted = await call('DELETE', `/tasks/${taskId}`);
    expect(deleted.status).toBe(200);
    expect(new Date(deleted.body.purgeAfter).getTime() - new Date(deleted.body.deletedAt).getTime()).toBe(
      7 * 86_400_000,
    );
    expect((await call('GET', `/tasks?organization=${customer.id}`)).body.items).toEqual([]);
    expect(
      (await call('GET', `/tasks?organization=${customer.id}&deleted=true`)).body.items.map((t: Json) => t.id),
    ).toEqual([taskId]);
    expect((await call('GET', `/tasks/${taskId}`)).status).toBe(404);
    expect((await call('GET', `/tasks/${taskId}/entities`)).status).toBe(404);
    const restored = await call('POST', `/tasks/${taskId}/restore`);
    expect([restored.status, restored.body.deletedAt]).toEqual([200, null]);
    expect((await call('POST', `/tasks/${taskId}/restore`)).status).toBe(404);
  });

  it('never answers with a secret, and documents the endpoints', async () => {
    for (const body of bodies) {
      expect(body).not.toContain(VALID_TOKEN);
      expect(body).not.toContain(REFUSED);
    }
    const doc = await json(await h.app.app.request('/api/v1/openapi.json'));
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/tasks'))).toEqual([
      '/tasks',
      '/tasks/{id}',
      '/tasks/{id}/restore',
      '/tasks/{id}/pause',
      '/tasks/{id}/resume',
      '/tasks/{id}/connection',
      '/tasks/{id}/discover',
      '/tasks/{id}/drills',
      '/tasks/{id}/entities',
      '/tasks/{id}/entities/activate',
      '/tasks/{id}/entities/pause',
      '/tasks/{id}/entities/backup-now',
      '/tasks/{id}/entities/delete',
      '/tasks/{id}/entities/restore',
      '/tasks/{id}/chart',
      '/tasks/{id}/entities/{entityId}/snapshots',
      '/tasks/{id}/entities/{entityId}/snapshots/{snapshotId}/items',
      '/tasks/{id}/entities/{entityId}/snapshots/{snapshotId}/item',
      '/tasks/{id}/entities/{entityId}/items',
      '/tasks/{id}/usage.csv',
      '/tasks/{id}/smart-alerts',
      '/tasks/{id}/smart-alerts/{alertId}',
      '/tasks/{id}/compare',
    ]);
    expect(await h.em().count(TaskEntity, {})).toBe(4);
  });
});
