// The backup task pages through the real app: the homepage list, adding a task from the test
// service (field errors, a refused connection, discovery right away), the task page (entities,
// actions on many, live rows, the chart per day and its drill-down), settings, re-authentication,
// pause, delete with restore and the purge after the grace period (clock moved), tenant scope,
// permissions, and secrets never shown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { runJobMaintenance } from '../../../core/scheduler/scheduler.ts';
import { markConnection } from '../../../core/tasks/connection.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { VALID_TOKEN } from '../../fakes/test-service.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { completeSetupVia, form, ORIGIN, signIn } from '../../helpers/kernel.ts';
import { makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let h: JobsHarness;
let admin: string;
let viewer: string;
let home: IOrganization;
/** Every page body this file saw, to prove no secret was ever sent. */
const seen: string[] = [];

const SECRET_TRY = 'wrong-token-never-shown-7c1e';

async function page(path: string, cookie = admin, headers: Record<string, string> = {}) {
  const res = await h.app.app.request(path, { headers: { cookie, ...headers } });
  const text = await res.text();
  seen.push(text);
  return { status: res.status, text, headers: res.headers };
}

async function post(path: string, fields: Record<string, string | string[]>, cookie = admin) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
  const res = await h.app.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, cookie },
    body: body.toString(),
  });
  const text = await res.text();
  seen.push(text);
  return { status: res.status, text, location: res.headers.get('location') };
}

/** The add-task form as a browser posts it (task settings with their defaults, the connection). */
function newTaskForm(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    service: 'test-service',
    name: 'Team backup',
    conn_account: 'acme',
    conn_token: VALID_TOKEN,
    conn_entities: '3',
    conn_items: '5',
    frequency: 'daily',
    backupHour: '3',
    apiUsageLimitPercent: '75',
    indexForSearch: 'on',
    autoActivate: 'on',
    retentionKind: 'all',
    ...overrides,
  };
}

async function createViaForm(overrides: Record<string, string> = {}): Promise<string> {
  const res = await post('/tasks/new', newTaskForm(overrides));
  expect(res.status).toBe(303);
  const id = /^\/tasks\/([0-9a-f-]{36})\?done=created$/.exec(res.location ?? '')?.[1];
  if (!id) throw new Error(`unexpected redirect ${res.location}`);
  return id;
}

async function entities(taskId: string) {
  return h.em().find(TaskEntity, { task: taskId }, { orderBy: { externalId: 'asc' } });
}

beforeAll(async () => {
  h = await createJobsHarness();
  // Pages use the same clock as the jobs, so the grace period can be crossed.
  h.app.kernel.deps.now = () => h.clock.now;
  await completeSetupVia(h.app.app);
  admin = await signIn(h.app.app);
  const em = h.em();
  home = await rootOf(em);
  await makeUser(em, home, 'viewer@acme.example', { role: 'custom', permissions: [] });
  viewer = await signIn(h.app.app, 'viewer@acme.example', TEST_PASSWORD);
}, 60_000);

afterAll(async () => {
  await h.close();
});

describe('homepage and adding a task', () => {
  it('starts with a helpful empty state and the Add button', async () => {
    const res = await page('/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('No backup tasks yet');
    expect(res.text).toContain('href="/tasks/new"');
    const forViewer = await page('/', viewer);
    expect(forViewer.text).toContain('Ask an administrator to add one.');
    expect(forViewer.text).not.toContain('href="/tasks/new"');
  });

  it('offers the installed services and generates the connection form from the schema', async () => {
    const choice = await page('/tasks/new?service=test-service');
    expect(choice.status).toBe(200);
    expect(choice.text).toContain('Test service');
    expect(choice.text).toMatch(/<input id="conn_token" name="conn_token" type="password"/);
    expect(choice.text).toMatch(/<input id="conn_account" name="conn_account" type="text" value=""/);
    // Lists (removed, failEntities) cannot be typed into a form: left out, their defaults apply.
    expect(choice.text).not.toContain('conn_removed');
    expect(choice.text).toContain('name="apiUsageLimitPercent" type="number" min="1" max="100" value="75"');
    expect((await page('/tasks/new?service=nope')).status).toBe(404);
  });

  it('marks each field with its own message, and sends nothing to the service until they are right', async () => {
    const res = await post(
      '/tasks/new',
      newTaskForm({
        name: ' ',
        conn_account: '',
        backupHour: '25',
        apiUsageLimitPercent: '0',
        retentionKind: 'within',
        retentionAmount: '0',
        retentionUnit: 'days',
        archivedRetain: 'on',
        archivedRetentionDays: 'x',
      }),
    );
    expect(res.status).toBe(422);
    expect(res.text).toContain('<p class="field-error" id="name-error">Enter a name for the backup task.</p>');
    expect(res.text).toContain('<p class="field-error" id="conn_account-error">Enter the account name.</p>');
    expect(res.text).toContain('<p class="field-error" id="backupHour-error">Choose an hour from 0 to 23 (UTC).</p>');
    expect(res.text).toContain(
      '<p class="field-error" id="apiUsageLimitPercent-error">Enter a percentage from 1 to 100, or leave it empty for no limit.</p>',
    );
    expect(res.text).toContain(
      '<p class="field-error" id="retention-error">Enter a whole number of days, months or years (1 or more).</p>',
    );
    expect(res.text).toContain(
      '<p class="field-error" id="archivedRetentionDays-error">Enter a number of days from 1 to 36500, or leave it empty to keep archived backups.</p>',
    );
    expect(res.text).toContain('Nothing was added yet: 6 fields need attention.');
    expect(await h.em().count(BackupTask, { organization: home })).toBe(0);
  });

  it('shows the service refusing the connection, and never echoes the secret', async () => {
    const res = await post('/tasks/new', newTaskForm({ conn_token: SECRET_TRY }));
    expect(res.status).toBe(422);
    expect(res.text).toContain('The service refused the connection.');
    expect(res.text).toContain('The test service refused the token (401).');
    expect(res.text).not.toContain(SECRET_TRY);
    // The rest of what was typed comes back.
    expect(res.text).toContain('value="Team backup"');
    expect(await h.em().count(BackupTask, { organization: home })).toBe(0);
  });

  it('creates the task, runs discovery at once, and the page fills in when it is done', async () => {
    const id = await createViaForm({ name: 'Discovery check', autoActivate: '' });
    const first = await page(`/tasks/${id}?done=created`);
    expect(first.status).toBe(200);
    expect(first.text).toContain('The backup task has been added.');
    expect(first.text).toContain(`hx-get="/tasks/${id}/discovery" hx-trigger="every 2s"`);
    const jobs = await h.em().find(Job, { task: id });
    expect(jobs.map((j) => [j.kind, j.state, j.params.operation])).toEqual([['maintenance', 'pending', 'discover']]);

    const polling = await page(`/tasks/${id}/discovery`, admin, { 'hx-request': 'true' });
    expect(polling.headers.get('hx-refresh')).toBeNull();
    await h.runner.runUntilIdle();
    const done = await page(`/tasks/${id}/discovery`, admin, { 'hx-request': 'true' });
    expect(done.headers.get('hx-refresh')).toBe('true');

    const filled = await page(`/tasks/${id}`);
    expect(filled.text).not.toContain('hx-trigger="every 2s"');
    expect(filled.text).toContain('3 entries');
    for (const n of ['001', '002', '003']) expect(filled.text).toContain(`user-${n}@acme.example`);
    expect((await entities(id)).map((e) => e.status)).toEqual(['not_active', 'not_active', 'not_active']);
  });
});
