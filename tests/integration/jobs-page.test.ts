// The Jobs page and /api/v1/jobs over real restore and export jobs: the list with its facts,
// counters that filter, filters and order, the CSV export agreeing with the pages row for row,
// cancel, Download Results until the link expires (then 410, and maintenance deletes the file),
// tenant scope (another tenant's job is a 404) and permissions (403).
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { principalForUser } from '../../core/access/principal.ts';
import { AuditEvent } from '../../core/audit/entities.ts';
import { type IOrganization, User } from '../../core/identity/entities.ts';
import { Job } from '../../core/jobs/entities.ts';
import { runMaintenance } from '../../core/maintenance.ts';
import { ExportResult } from '../../core/recovery/entities.ts';
import { startExport, startRestore } from '../../core/recovery/start.ts';
import type { ITaskEntity } from '../../core/tasks/entities.ts';
import { getTokens, json, makeKey } from '../helpers/api.ts';
import { createJobsHarness, type JobsHarness } from '../helpers/jobs.ts';
import { completeSetupVia, ORIGIN, signIn } from '../helpers/kernel.ts';
import { type BackedUp, backedUpTask, startContext } from '../helpers/recovery.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../helpers/tenants.ts';

let h: JobsHarness;
let acme: IOrganization;
let mine: BackedUp;
let theirs: BackedUp;
let other: IOrganization;
let otherJobId: string;
let token: string;
const cookies: Record<string, string> = {};
const ids: { exportDone?: string; restoreDone?: string; pending: string[] } = { pending: [] };

async function get(path: string, who = 'admin', headers: Record<string, string> = {}): Promise<Response> {
  return h.app.app.request(path, { headers: { cookie: cookies[who] as string, origin: ORIGIN, ...headers } });
}

async function post(path: string, who = 'admin', headers: Record<string, string> = {}): Promise<Response> {
  return h.app.app.request(path, {
    method: 'POST',
    headers: {
      cookie: cookies[who] as string,
      origin: ORIGIN,
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    body: '',
  });
}

async function api(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return h.app.app.request(path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
}

/** Job ids in the order the page shows them. */
function idsOnPage(html: string): string[] {
  return [...html.matchAll(/data-job-id="([0-9a-f-]{36})"/g)].map((m) => m[1] as string);
}

function csvIds(text: string): string[] {
  return text
    .replace(/^\uFEFF/, '')
    .trim()
    .split('\r\n')
    .slice(1)
    .map((line) => line.split(',')[0] as string);
}

beforeAll(async () => {
  h = await createJobsHarness();
  // Pages and the API read the same moved clock as the jobs.
  h.app.kernel.deps.now = () => h.clock.now;
  await completeSetupVia(h.app.app);
  const em = h.em();
  const root = await rootOf(em);
  acme = await makeOrganization(em, root, 'customer', 'Acme Bakery');
  other = await makeOrganization(em, root, 'customer', 'Other Tenant');
  await makeUser(em, acme, 'admin@bakery.example');
  await makeUser(em, acme, 'viewer@bakery.example', { role: 'custom', permissions: ['view_activity'] });
  await makeUser(em, acme, 'exporter@bakery.example', { role: 'custom', permissions: ['export_download'] });
  for (const who of ['admin', 'viewer', 'exporter']) {
    cookies[who] = await signIn(h.app.app, `${who}@bakery.example`, TEST_PASSWORD);
  }
  token = (await getTokens(h.app.app, await makeKey(h.app, acme))).access_token;
  mine = await backedUpTask(h, acme, { items: 4, itemBytes: 5000 }, 1, 'Bakery files');
  theirs = await backedUpTask(h, other, {}, 1, 'Other files');
  const first = mine.entities[0] as ITaskEntity;
  const admin = await h.em().findOneOrFail(User, { email: 'admin@bakery.example' }, { populate: ['organization'] });
  const asUser = { ...startContext(h, acme), principal: principalForUser(admin), actor: { label: admin.email } };
  ids.exportDone = (
    await startExport(asUser, {
      taskId: mine.task.id,
      entityId: first.id,
      snapshotId: mine.snapshotId,
      label: 'Finished export',
    })
  ).id;
  h.advance(1000);
  ids.restoreDone = (
    await startRestore(startContext(h, acme), {
      taskId: mine.task.id,
      entityId: first.id,
      snapshotId: mine.snapshotId,
      mode: 'non_destructive',
      label: 'Finished restore',
    })
  ).id;
  await h.runner.runUntilIdle();
  h.advance(60_000);
  // 24 more exports, left pending: 26 jobs in all, two pages of 20.
  for (let i = 0; i < 24; i++) {
    h.advance(1000);
    const started = await startExport(startContext(h, acme), {
      taskId: mine.task.id,
      entityId: first.id,
      snapshotId: mine.snapshotId,
      label: `Pending export ${String(i).padStart(2, '0')}`,
    });
    ids.pending.push(started.id);
  }
  otherJobId = (
    await startExport(startContext(h, other), {
      taskId: theirs.task.id,
      entityId: theirs.entities[0]?.id as string,
      snapshotId: theirs.snapshotId,
    })
  ).id;
}, 90_000);

afterAll(async () => {
  await h.close();
});

describe('the Jobs page', () => {
  it('lists restores and exports with their facts and counters that filter when clicked', async () => {
    const res = await get('/jobs');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('26 restore, export and compare jobs in the last 7 days.');
    expect(html).toMatch(/href="\/jobs\?status=running"[^>]*>\s*<span class="job-counter-count">24<\/span>/);
    expect(html).toMatch(/href="\/jobs\?status=succeeded"[^>]*>\s*<span class="job-counter-count">2<\/span>/);
    expect(html).toMatch(/href="\/jobs\?status=problems"[^>]*>\s*<span class="job-counter-count">0<\/span>/);
    expect(html).not.toContain(otherJobId);
    // Latest first: the last pending export leads.
    expect(idsOnPage(html)[0]).toBe(ids.pending[23]);
    expect(html).toContain('Page 1 of 2');

    const succeeded = await (await get('/jobs?status=succeeded')).text();
    expect(idsOnPage(succeeded)).toEqual([ids.restoreDone, ids.exportDone]);
    expect(succeeded).toContain('Finished export');
    expect(succeeded).toContain('Bakery files');
    expect(succeeded).toContain('admin@bakery.example');
    expect(succeeded).toContain(`href="/jobs/${ids.exportDone}/download"`);
    expect(succeeded).toContain(`href="/activity?job=${ids.exportDone}"`);
    // Finished jobs do not poll; running ones do.
    expect(succeeded).not.toContain(`hx-get="/jobs/${ids.exportDone}/live"`);
    const running = await (await get('/jobs?status=running')).text();
    expect(running).toContain(`hx-get="/jobs/${ids.pending[23]}/live" hx-trigger="every 2s"`);
  });

  it('filters by activity, initiator, service, task and status, and orders oldest first', async () => {
    expect(idsOnPage(await (await get('/jobs?activity=restore')).text())).toEqual([ids.restoreDone]);
    const byUser = await (await get('/jobs?initiator=user')).text();
    expect(idsOnPage(byUser)).toEqual([ids.exportDone]);
    expect(byUser).toContain('1 job matches the filters');
    expect(idsOnPage(await (await get('/jobs?service=test-service&status=succeeded')).text())).toHaveLength(2);
    expect(idsOnPage(await (await get('/jobs?service=dropbox')).text())).toEqual([]);
    expect(idsOnPage(await (await get(`/jobs?task=${mine.task.id}&status=pending`)).text())).toHaveLength(20);
    const oldest = idsOnPage(await (await get('/jobs?order=oldest')).text());
    expect(oldest.slice(0, 2).sort()).toEqual([ids.exportDone, ids.restoreDone].sort());
    const bad = await get('/jobs?status=sleeping');
    expect(bad.status).toBe(422);
    expect(await bad.text()).toContain('Choose a status from the list.');
    expect((await get(`/jobs?task=${theirs.task.id}`)).status).toBe(404);
    // htmx gets only the results, with a tidy address for the history.
    const fragment = await get('/jobs?status=succeeded&order=latest', 'admin', { 'hx-request': 'true' });
    expect(fragment.headers.get('hx-push-url')).toBe('/jobs?status=succeeded');
    expect((await fragment.text()).trimStart()).toMatch(/^<div id="jobs-results"/);
  });

  it('exports CSV that agrees with the pages row for row', async () => {
    for (const query of ['', '?order=oldest', '?activity=export&status=pending']) {
      const pages: string[] = [];
      for (let page = 1; ; page++) {
        const sep = query ? '&' : '?';
        const html = await (await get(`/jobs${query}${page > 1 ? `${sep}page=${page}` : ''}`)).text();
        pages.push(...idsOnPage(html));
        if (!html.includes(`Page ${page} of ${page + 1}`)) break;
      }
      const csv = await get(`/jobs.csv${query}`);
      expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(csvIds(await csv.text())).toEqual(pages);
    }
    const text = await (await get('/jobs.csv?status=succeeded')).text();
    const lines = text
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe(
      'Job ID,Type,Name,Service,Account,Task,Created (UTC),Started (UTC),Finished (UTC),Backup date (UTC),Initiator,Destination,Items,Size (bytes),Status,Download',
    );
    expect(lines[1]).toContain(`${ids.restoreDone},Restore,Finished restore,Test service,`);
    expect(lines[2]).toContain(`${ids.exportDone},Export,Finished export,Test service,`);
    expect(lines[2]).toContain(',admin@bakery.example,Download,4,20000,Succeeded,until ');
  });

  it("answers 404 for another tenant's job and 403 without the permission", async () => {
    for (const path of [`/jobs/${otherJobId}/live`, `/jobs/${otherJobId}/download`]) {
      expect((await get(path)).status).toBe(404);
    }
    expect((await post(`/jobs/${otherJobId}/cancel`)).status).toBe(404);
    expect((await h.em().findOneOrFail(Job, { id: otherJobId })).state).toBe('pending');
    for (const path of ['/jobs', '/jobs.csv', `/jobs/${ids.exportDone}/live`]) {
      expect((await get(path, 'viewer')).status).toBe(403);
    }
    // An exporter sees the page but may not cancel a restore.
    expect((await get('/jobs', 'exporter')).status).toBe(200);
    const refused = await post(`/jobs/${ids.restoreDone}/cancel`, 'exporter');
    expect(refused.status).toBe(403);
  });

  it('cancels a pending job through htmx and shows it canceled without polling', async () => {
    const id = ids.pending[0] as string;
    const res = await post(`/jobs/${id}/cancel`, 'admin', { 'hx-request': 'true' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-state="canceled"');
    expect(html).not.toContain('hx-trigger="every 2s"');
    expect(html).toContain('hx-swap-oob="innerHTML"');
    // The counters come along out of band: 23 still waiting.
    expect(html).toMatch(
      /id="job-counters" aria-label="Summary" hx-swap-oob="outerHTML">\s*<a[^>]*href="\/jobs\?status=running"[^>]*>\s*<span class="job-counter-count">23<\/span>/,
    );
    expect((await h.em().findOneOrFail(Job, { id })).state).toBe('canceled');
    const audit = await h.em().findOneOrFail(AuditEvent, { activity: 'Job canceled', organization: acme.id });
    expect(audit.description).toBe('Pending export 00: canceled before it started.');
  });

  it('downloads the results until the link expires, then answers 410 and maintenance deletes the file', async () => {
    const id = ids.exportDone as string;
    const result = await h.em().findOneOrFail(ExportResult, { job: id });
    const res = await get(`/jobs/${id}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="${result.fileName}"; filename*=UTF-8''${result.fileName}`,
    );
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(result.filePath))).toBe(true);
    const audit = await h.em().findOneOrFail(AuditEvent, { activity: 'Export downloaded', organization: acme.id });
    expect(audit.description).toBe(`Finished export: ${result.fileName} (${result.size} bytes) downloaded.`);
    expect((await get(`/jobs/${id}/download`, 'viewer')).status).toBe(403);

    const saved = h.clock.now;
    h.clock.now = new Date(result.expiresAt.getTime() + 1000);
    try {
      // Sessions and tokens have expired too: sign in again at the new time.
      cookies.admin = await signIn(h.app.app, 'admin@bakery.example', TEST_PASSWORD);
      token = (await getTokens(h.app.app, await makeKey(h.app, acme))).access_token;
      const gone = await get(`/jobs/${id}/download`);
      expect(gone.status).toBe(410);
      expect(await gone.text()).toContain('This download link expired on');
      const apiGone = await api(`/api/v1/jobs/${id}/download`);
      expect(apiGone.status).toBe(410);
      expect((await json(apiGone)).error.code).toBe('download_expired');
      expect(existsSync(result.filePath)).toBe(true);
      const report = await runMaintenance(h.ctx.orm, h.ctx.log, h.clock.now);
      expect(report.exportsDeleted).toBe(1);
      expect(existsSync(result.filePath)).toBe(false);
      expect((await h.em().findOneOrFail(ExportResult, { job: id })).deletedAt?.getTime()).toBe(h.clock.now.getTime());
    } finally {
      h.clock.now = saved;
      // Maintenance at the later time ended the earlier sessions: sign in again.
      cookies.admin = await signIn(h.app.app, 'admin@bakery.example', TEST_PASSWORD);
      token = (await getTokens(h.app.app, await makeKey(h.app, acme))).access_token;
    }
    const page = await (await get('/jobs?status=succeeded')).text();
    expect(page).toContain('Download expired');
    expect(page).not.toContain(`href="/jobs/${id}/download"`);
  });
});

describe('/api/v1/jobs', () => {
  it('lists with the same filters, shows one job with its log, starts and cancels jobs', async () => {
    const list = await api('/api/v1/jobs?status=succeeded&pageSize=1&page=2');
    expect(list.status).toBe(200);
    const body = await json(list);
    expect(body.total).toBe(2);
    expect(body.items.map((j: { id: string }) => j.id)).toEqual([ids.exportDone]);
    expect((await api(`/api/v1/jobs?task=${theirs.task.id}`)).status).toBe(404);
    expect((await api('/api/v1/jobs?status=sleeping')).status).toBe(422);

    const one = await json(await api(`/api/v1/jobs/${ids.restoreDone}`));
    expect(one).toMatchObject({
      id: ids.restoreDone,
      kind: 'restore',
      state: 'succeeded',
      label: 'Finished restore',
      service: 'Test service',
      initiator: { kind: 'api_key' },
      result: { restored: 4, items: 4, failedItems: 0 },
      download: null,
    });
    expect(one.log.at(-1).message).toMatch(/^4 restored, 0 skipped, 0 failed of 4 items to /);
    expect((await api(`/api/v1/jobs/${otherJobId}`)).status).toBe(404);

    const first = mine.entities[0] as ITaskEntity;
    const tooLong = await api('/api/v1/jobs', {
      method: 'POST',
      body: {
        kind: 'export',
        taskId: mine.task.id,
        entityId: first.id,
        snapshotId: mine.snapshotId,
        label: 'L'.repeat(51),
      },
    });
    expect(tooLong.status).toBe(422);
    expect((await json(tooLong)).error.fields).toEqual({ label: 'The job label is at most 50 characters.' });
    const foreign = await api('/api/v1/jobs', {
      method: 'POST',
      body: {
        kind: 'restore',
        taskId: theirs.task.id,
        entityId: theirs.entities[0]?.id,
        snapshotId: theirs.snapshotId,
        mode: 'in_place',
      },
    });
    expect(foreign.status).toBe(404);

    const started = await api('/api/v1/jobs', {
      method: 'POST',
      body: {
        kind: 'export',
        taskId: mine.task.id,
        entityId: first.id,
        snapshotId: mine.snapshotId,
        label: 'Via the API',
        format: 'tar',
      },
    });
    expect(started.status).toBe(202);
    const { id, url } = await json(started);
    expect(url).toBe(`/api/v1/jobs/${id}`);
    await h.runner.runUntilIdle();
    const done = await json(await api(url));
    expect(done.state).toBe('succeeded');
    expect(done.download).toMatchObject({ state: 'ready', url: `/api/v1/jobs/${id}/download` });
    const file = await api(done.download.url);
    expect(file.status).toBe(200);
    expect(Number(file.headers.get('content-length'))).toBe(done.download.size);
    expect((await file.arrayBuffer()).byteLength).toBe(done.download.size);

    const waiting = await json(
      await api('/api/v1/jobs', {
        method: 'POST',
        body: {
          kind: 'restore',
          taskId: mine.task.id,
          entityId: first.id,
          snapshotId: mine.snapshotId,
          mode: 'in_place',
        },
      }),
    );
    const cancel = await api(`/api/v1/jobs/${waiting.id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(await json(cancel)).toMatchObject({ outcome: 'canceled', job: { state: 'canceled' } });
    const again = await api(`/api/v1/jobs/${waiting.id}/cancel`, { method: 'POST' });
    expect((await json(again)).outcome).toBe('finished');

    const doc = await json(await h.app.app.request('/api/v1/openapi.json'));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/jobs', '/jobs/{id}', '/jobs/{id}/cancel', '/jobs/{id}/download', '/jobs/{id}/compare']),
    );
    expect(doc.paths['/jobs'].post.requestBody.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/NewJob',
    );
    const reference = await (await get('/api/v1/docs')).text();
    expect(reference).toContain('/api/v1/jobs/{id}/download');
  });
});
