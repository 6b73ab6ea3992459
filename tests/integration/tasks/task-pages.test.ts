// The backup task pages through the real app: the homepage list, adding a task from the test
// service (field errors, a refused connection, discovery right away), the task page (entities,
// actions on many, live rows, the chart per day and its drill-down), settings, re-authentication,
// pause, delete with restore and the purge after the grace period (clock moved), tenant scope,
// permissions, and secrets never shown.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { longDay, tableDay } from '../../../core/routes/task-chart.ts';
import { runJobMaintenance } from '../../../core/scheduler/scheduler.ts';
import { markConnection } from '../../../core/tasks/connection.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { VALID_TOKEN } from '../../fakes/test-service.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { completeSetupVia, ORIGIN, signIn } from '../../helpers/kernel.ts';
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
  // The one-time banner travels in a cookie set with the redirect (core/http/flash.ts).
  const flash = /holdfast_flash=[^;]*/.exec(res.headers.get('set-cookie') ?? '')?.[0];
  return { status: res.status, text, location: res.headers.get('location'), flash };
}

/** The banner the page a post redirected to shows, with the cookie the post set. */
async function bannerAfter(res: { location: string | null; flash?: string | undefined }): Promise<string> {
  const { text } = await page(res.location as string, `${admin}; ${res.flash ?? ''}`);
  return /<div class="alert alert-success" role="status">([^<]*)<\/div>/.exec(text)?.[1] ?? '';
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
  const id = /^\/tasks\/([0-9a-f-]{36})$/.exec(res.location ?? '')?.[1];
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
    const first = await page(`/tasks/${id}`);
    expect(first.status).toBe(200);
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

describe('the task page', () => {
  let taskId: string;
  beforeAll(async () => {
    taskId = await createViaForm({ name: 'Actions check', autoActivate: '' });
    await h.runner.runUntilIdle();
  });

  it('activates many at once, backs them up now with live rows, and shows the results', async () => {
    const ids = (await entities(taskId)).map((e) => e.id);
    const activated = await post(`/tasks/${taskId}/actions`, { action: 'activate', ids, back: `/tasks/${taskId}` });
    expect(activated.location).toBe(`/tasks/${taskId}`);
    expect((await entities(taskId)).map((e) => e.status)).toEqual(['scheduled', 'scheduled', 'scheduled']);
    expect(await bannerAfter(activated)).toBe('3 activated: they are backed up at the next scheduled run.');

    const queued = await post(`/tasks/${taskId}/actions`, { action: 'backup_now', ids: ids.slice(0, 2) });
    expect([queued.location, await bannerAfter(queued)]).toEqual([`/tasks/${taskId}`, '2 queued for backup now.']);
    const waiting = await page(`/tasks/${taskId}`);
    // Queued rows refresh themselves; the third (not queued) does not.
    expect(waiting.text).toContain(`hx-get="/tasks/${taskId}/entities/${ids[0]}/row" hx-trigger="every 3s"`);
    expect(waiting.text).toContain(`hx-get="/tasks/${taskId}/entities/${ids[1]}/row" hx-trigger="every 3s"`);
    expect(waiting.text).not.toContain(`/entities/${ids[2]}/row`);

    await h.runner.runUntilIdle();
    const row = await page(`/tasks/${taskId}/entities/${ids[0]}/row`, admin, { 'hx-request': 'true' });
    expect(row.status).toBe(200);
    expect(row.text).toContain('<span class="badge badge-success">Success</span>');
    expect(row.text).not.toContain('hx-trigger');
    // Changes in words, leaving out what did not happen; no snapshot id (hex) on the page.
    expect(row.text).toMatch(
      /<td data-label="Changes" class="counters">\s*<span class="nowrap">5 added<\/span>\s*<\/td>/,
    );
    const [first] = await entities(taskId);
    expect(row.text).not.toContain(first?.lastSnapshotId?.slice(0, 8));
    expect((await entities(taskId)).map((e) => e.status)).toEqual(['success', 'success', 'scheduled']);
  });

  it('filters by status and name, and pages', async () => {
    const success = await page(`/tasks/${taskId}?status=success`, admin, {
      'hx-request': 'true',
      'hx-target': 'task-entities',
    });
    expect(success.text).toMatch(/^\s*<div id="task-entities"/);
    expect(success.text).toContain('2 entries match the filters');
    const named = await page(`/tasks/${taskId}?q=USER-003`);
    expect(named.text).toContain('1 entry matches the filters');
    expect(named.text).toContain('user-003@acme.example');
    expect(named.text).not.toContain('user-001@acme.example');
    const none = await page(`/tasks/${taskId}?q=%25_`);
    expect(none.text).toContain('Nothing matches');
  });

  it('charts the items backed up per day from the finished runs, with the drill-down of a day', async () => {
    const today = h.clock.now.toISOString().slice(0, 10);
    const res = await page(`/tasks/${taskId}?days=7`);
    expect(res.text).toContain('<title id="chart-title">Items backed up per day, last 7 days</title>');
    // 2 entities × 5 new items, today; the 6 days before are empty and still listed.
    expect(res.text).toContain(
      `<td><a href="/tasks/${taskId}?days=7&amp;day=${today}#day-runs"><time datetime="${today}">${tableDay(today)}</time></a></td><td class="num">10</td><td class="num">2</td><td class="num">0</td>`,
    );
    expect(res.text.match(/<td class="num">0<\/td><td class="num">0<\/td><td class="num">0<\/td>/g)).toHaveLength(6);
    expect(res.text).toMatch(/aria-label="[A-Z][a-z]{2} \d{1,2}: 10 items backed up; 2 runs"/);
    expect(res.text).toContain('10 items backed up from');

    const drill = await page(`/tasks/${taskId}?days=7&day=${today}`);
    // The day by name, never as an ISO date.
    expect(drill.text).toContain(`Runs on ${longDay(today)} (UTC)`);
    expect(drill.text).toMatch(
      /Runs on (Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} [A-Z][a-z]{2} \d{4} \(UTC\)/,
    );
    expect(
      drill.text.match(/<span class="badge badge-success">Success<\/span><\/td>\s*<td data-label="Finished"/g),
    ).toHaveLength(2);
    const empty = await page(
      `/tasks/${taskId}?days=7&day=${new Date(h.clock.now.getTime() - 86_400_000).toISOString().slice(0, 10)}`,
    );
    expect(empty.text).toContain('No backup finished on this day.');
    // Out of range or malformed days are ignored; an unknown range falls back to 14 days.
    expect((await page(`/tasks/${taskId}?days=9&day=2001-01-01`)).text).toContain('last 14 days');
  });

  it('shows one summary tile per kind of entity', async () => {
    const res = await page(`/tasks/${taskId}`);
    expect(res.text).toMatch(
      /<h3 class="tile-title">Users<\/h3>\s*<p class="tile-figure">3<\/p>\s*<p class="tile-line">3 active · 10 items · /,
    );
    expect(res.text).toContain('<span class="badge badge-success">2 success</span>');
  });

  it('deletes many after a confirmation that names them, and restores during the grace period', async () => {
    const ids = (await entities(taskId)).map((e) => e.id);
    const confirm = await post(`/tasks/${taskId}/actions`, { action: 'delete', ids: ids.slice(1) });
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('Delete the backups of 2 entries?');
    expect(confirm.text).toContain('user-002@acme.example');
    expect(confirm.text).toContain('For 7 days they can be restored');
    expect((await entities(taskId)).filter((e) => e.deletedAt)).toHaveLength(0);

    const deleted = await post(`/tasks/${taskId}/actions`, { action: 'delete', confirm: 'yes', ids: ids.slice(1) });
    expect(deleted.location).toBe(`/tasks/${taskId}`);
    const after = await page(deleted.location as string);
    expect(after.text).toContain('1 entry');
    expect(after.text).toContain('Deleted in the last 7 days (2)');
    const restored = await post(`/tasks/${taskId}/actions`, { action: 'restore', ids: [ids[1] as string] });
    expect([restored.location, await bannerAfter(restored)]).toEqual([`/tasks/${taskId}`, '1 restored.']);
    expect((await entities(taskId)).filter((e) => e.deletedAt).map((e) => e.id)).toEqual([ids[2]]);
  });

  it('says so when nothing was selected', async () => {
    const res = await post(`/tasks/${taskId}/actions`, { action: 'pause', back: `/tasks/${taskId}` });
    expect(res.location).toBe(`/tasks/${taskId}`);
    expect(await bannerAfter(res)).toBe('Select at least one entry in the table first.');
  });
});

describe('settings, connection, pause, delete', () => {
  let taskId: string;
  beforeAll(async () => {
    taskId = await createViaForm({ name: 'Settings check' });
    await h.runner.runUntilIdle();
  });

  it('shows every setting with the storage location, validates and saves', async () => {
    const res = await page(`/tasks/${taskId}/settings`);
    expect(res.text).toContain('value="Settings check"');
    expect(res.text).toContain('<option value="3" selected>03:00</option>');
    expect(res.text).toContain('Local disk (built-in)');
    expect(res.text).toContain('Where the first backup will go');
    const bad = await post(`/tasks/${taskId}/settings`, {
      ...newTaskForm({ name: 'Renamed' }),
      frequency: 'hourly',
      retentionKind: 'last',
      retentionCount: '0',
    });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain(
      '<p class="field-error" id="frequency-error">Choose daily, every 3 days, weekly or 3 times a day.</p>',
    );
    expect(bad.text).toContain(
      '<p class="field-error" id="retention-error">Enter how many backups to keep (1 or more).</p>',
    );
    const good = await post(`/tasks/${taskId}/settings`, {
      ...newTaskForm({ name: 'Renamed task', frequency: 'weekly', backupHour: '22', autoActivate: '' }),
      retentionKind: 'within',
      retentionAmount: '6',
      retentionUnit: 'months',
    });
    expect([good.location, await bannerAfter(good)]).toEqual([
      `/tasks/${taskId}/settings`,
      'The settings have been saved.',
    ]);
    const task = await h.em().findOneOrFail(BackupTask, { id: taskId });
    expect([task.name, task.frequency, task.backupHour, task.autoActivate, task.retention]).toEqual([
      'Renamed task',
      'weekly',
      22,
      false,
      { kind: 'within', amount: 6, unit: 'months' },
    ]);
  });

  it('shows Disconnected with a way to authenticate again, which checks the new credentials first', async () => {
    const em = h.em();
    await markConnection(em, await em.findOneOrFail(BackupTask, { id: taskId }), false, 'The token expired (401).');
    const list = await page('/');
    expect(list.text).toContain(
      `<a class="badge badge-danger badge-link" href="/tasks/${taskId}/reconnect" title="Authenticate again">Disconnected</a>`,
    );
    expect((await page(`/tasks/${taskId}`)).text).toContain('The token expired (401).');
    const form = await page(`/tasks/${taskId}/reconnect`);
    expect(form.text).toContain('name="conn_token" type="password"');
    const refused = await post(`/tasks/${taskId}/reconnect`, { conn_account: 'acme', conn_token: SECRET_TRY });
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('The test service refused the token (401).');
    expect(refused.text).not.toContain(SECRET_TRY);
    const fixed = await post(`/tasks/${taskId}/reconnect`, { conn_account: 'acme', conn_token: VALID_TOKEN });
    expect([fixed.location, await bannerAfter(fixed)]).toEqual([
      `/tasks/${taskId}`,
      'The connection has been authenticated again.',
    ]);
    expect((await h.em().findOneOrFail(BackupTask, { id: taskId })).connectionState).toBe('connected');
  });

  it('pauses and resumes the task; the homepage shows the next run only while active', async () => {
    expect((await post(`/tasks/${taskId}/pause`, {})).location).toBe(`/tasks/${taskId}`);
    expect((await h.em().findOneOrFail(BackupTask, { id: taskId })).status).toBe('paused');
    const paused = await page('/');
    expect(paused.text).toMatch(
      /Renamed task<\/a>\s*<small class="muted block">Test service · <span class="badge">Paused<\/span>/,
    );
    await post(`/tasks/${taskId}/resume`, {});
    expect((await h.em().findOneOrFail(BackupTask, { id: taskId })).status).toBe('active');
  });

  it('deletes the task: gone from the lists at once, restorable, purged after the grace period', async () => {
    const confirm = await page(`/tasks/${taskId}/delete`);
    expect(confirm.text).toContain('It can be restored from the Homepage for 7 days.');
    const deleted = await post(`/tasks/${taskId}/delete`, {});
    expect([deleted.location, await bannerAfter(deleted)]).toEqual([
      '/',
      'The backup task has been deleted. You can restore it below during its grace period.',
    ]);
    const list = await page('/');
    expect(list.text).not.toContain(`href="/tasks/${taskId}"`);
    expect(list.text).toContain('Deleted tasks');
    expect(list.text).toContain(`action="/tasks/${taskId}/restore"`);
    expect((await page(`/tasks/${taskId}`)).status).toBe(404);

    const restored = await post(`/tasks/${taskId}/restore`, {});
    expect([restored.location, await bannerAfter(restored)]).toEqual([
      `/tasks/${taskId}`,
      'The backup task has been restored.',
    ]);
    expect((await page('/')).text).toContain(`href="/tasks/${taskId}"`);

    await post(`/tasks/${taskId}/delete`, {});
    h.advance(8 * 86_400_000);
    // Sessions expire too when a week passes.
    admin = await signIn(h.app.app);
    expect((await page('/')).text).not.toContain(`action="/tasks/${taskId}/restore"`);
    expect((await post(`/tasks/${taskId}/restore`, {})).status).toBe(404);
    await runJobMaintenance(h.ctx, h.clock.now);
    await h.runner.runUntilIdle();
    expect(await h.em().count(BackupTask, { id: taskId })).toBe(0);
    expect((await page('/')).text).not.toContain(taskId);
    h.advance(-8 * 86_400_000);
    admin = await signIn(h.app.app);
    viewer = await signIn(h.app.app, 'viewer@acme.example', TEST_PASSWORD);
  });
});

describe('tenancy, permissions and secrets', () => {
  it("answers 404 for another tenant's task and entity", async () => {
    const other = await h.organization('Other tenant');
    const task = await h.task(other);
    await h.runner.runUntilIdle();
    const em = h.em();
    const entity = em.create(TaskEntity, {
      task: task.id,
      externalId: 'x',
      name: 'Foreign entity',
      kind: 'user',
      pluginState: null,
    });
    await em.flush();
    for (const path of [
      `/tasks/${task.id}`,
      `/tasks/${task.id}/settings`,
      `/tasks/${task.id}/reconnect`,
      `/tasks/${task.id}/delete`,
      `/tasks/${task.id}/discovery`,
      `/tasks/${task.id}/entities/${entity.id}/row`,
    ]) {
      expect({ path, status: (await page(path)).status }).toEqual({ path, status: 404 });
    }
    for (const path of [`/tasks/${task.id}/actions`, `/tasks/${task.id}/delete`, `/tasks/${task.id}/pause`]) {
      const res = await post(path, { action: 'delete', confirm: 'yes', ids: [entity.id] });
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
    // An entity id of another task, posted to one's own task, is not touched.
    const own = await createViaForm({ name: 'Own task' });
    const res = await post(`/tasks/${own}/actions`, { action: 'delete', confirm: 'yes', ids: [entity.id] });
    expect([res.location, await bannerAfter(res)]).toEqual([
      `/tasks/${own}`,
      '0 deleted. They can be restored for 7 days, then their backups are purged. 1 selected could not take this action.',
    ]);
    expect((await h.em().findOneOrFail(TaskEntity, { id: entity.id })).deletedAt).toBeNull();
  });

  it('lets a user without "manage backups" look, but not change anything (403)', async () => {
    const id = (await h.em().findOneOrFail(BackupTask, { organization: home, name: 'Actions check' })).id;
    const view = await page(`/tasks/${id}`, viewer);
    expect(view.status).toBe(200);
    expect(view.text).not.toContain('id="entity-actions"');
    expect(view.text).not.toContain(`href="/tasks/${id}/settings"`);
    for (const path of ['/tasks/new', `/tasks/${id}/settings`, `/tasks/${id}/reconnect`, `/tasks/${id}/delete`]) {
      expect({ path, status: (await page(path, viewer)).status }).toEqual({ path, status: 403 });
    }
    for (const path of [`/tasks/${id}/actions`, `/tasks/${id}/pause`, `/tasks/${id}/delete`, '/tasks/new']) {
      const res = await post(path, { action: 'pause', ids: ['x'] }, viewer);
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
  });

  it('never sent a secret in any page', async () => {
    expect(seen.length).toBeGreaterThan(40);
    for (const body of seen) {
      expect(body).not.toContain(VALID_TOKEN);
      expect(body).not.toContain(SECRET_TRY);
    }
  });
});
