// Activity › System Activity over HTTP: scope (the organization worked in and its reachable
// accounts, never a sibling's), every filter, paging, the one-job view, the info dialog's details
// and job log, the CSV export (exactly the filtered rows of all pages, audited), the permission
// guards and tabs, and /api/v1/activity with the same filters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent, type ActivityStatus } from '../../../core/activity/entities.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { getTokens, json, makeKey, withBearer } from '../../helpers/api.ts';
import { parseCsv } from '../../helpers/csv.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { completeSetupVia, signIn } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let h: JobsHarness;
let root: IOrganization;
let partner: IOrganization;
let customer: IOrganization;
let sibling: IOrganization;
let siblingCustomer: IOrganization;
let adminCookie: string;
let activityOnlyCookie: string;
let auditOnlyCookie: string;
let nothingCookie: string;
let jobId: string;
let jobRowId: number;
let siblingRowId: number;

const DAY = 86_400_000;
const BASE = Date.parse('2026-03-01T12:00:00.000Z');

function get(path: string, cookie?: string, headers: Record<string, string> = {}) {
  return h.app.app.request(path, { headers: { ...(cookie ? { cookie } : {}), ...headers } });
}

function decode(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The summaries of the table rows of a page, in order (each row's dialog holds its summary). */
function summaries(html: string): string[] {
  return [...html.matchAll(/data-fact="summary">([^<]*)</g)].map((m) => decode(m[1] as string));
}

async function allPageRows(query: string, cookie: string): Promise<string[]> {
  const rows: string[] = [];
  for (let page = 1; page < 100; page++) {
    const sep = query ? '&' : '?';
    const html = await (await get(`/activity${query}${sep}page=${page}`, cookie)).text();
    rows.push(...summaries(html));
    if (!html.includes('>Next</a>')) return rows;
  }
  throw new Error('too many pages');
}

const SUMMARY_COLUMN = 12;

beforeAll(async () => {
  h = await createJobsHarness();
  await completeSetupVia(h.app.app);
  const e = h.em();
  root = await rootOf(e);
  partner = await makeOrganization(e, root, 'partner', 'Contoso IT');
  customer = await makeOrganization(e, partner, 'customer', 'Fabrikam');
  sibling = await makeOrganization(e, root, 'partner', 'Sibling Partner');
  siblingCustomer = await makeOrganization(e, sibling, 'customer', 'Sibling Customer');
  await makeUser(e, partner, 'admin@contoso.example');
  await makeUser(e, partner, 'activity@contoso.example', { role: 'custom', permissions: ['view_activity'] });
  await makeUser(e, partner, 'audit@contoso.example', { role: 'custom', permissions: ['view_security_audit'] });
  await makeUser(e, partner, 'nothing@contoso.example', { role: 'custom', permissions: ['view_dashboard'] });

  // 130 rows over 13 days and four organizations; summaries are unique so rows can be compared.
  const orgs = [partner, customer, sibling, siblingCustomer, root];
  const activities = ['Backup', 'Restore', 'Export', 'Item archived'];
  const statuses: ActivityStatus[] = ['succeeded', 'failed', 'partially_succeeded', 'canceled', 'warning'];
  for (let i = 0; i < 130; i++) {
    const n = String(i).padStart(3, '0');
    e.create(ActivityEvent, {
      at: new Date(BASE + (i % 13) * DAY + i * 1000),
      organization: (orgs[i % orgs.length] as IOrganization).id,
      activity: activities[i % activities.length] as string,
      service: i % 3 === 0 ? 'test-service' : 'dropbox',
      serviceLabel: i % 3 === 0 ? 'Test service' : 'Dropbox',
      subService: i % 2 ? 'Users' : 'Team folders',
      status: statuses[i % statuses.length] as ActivityStatus,
      taskId: null,
      taskName: i % 4 === 0 ? 'Nightly_100% mail' : 'Weekly files',
      item: `user${n}@fabrikam.example`,
      durationMs: 65_000 + i,
      bytes: 1_500_000,
      items: i,
      summary: `Row ${n}, with "quotes", commas`,
    });
  }
  await e.flush();
  siblingRowId = (await h.em().findOneOrFail(ActivityEvent, { organization: sibling.id }, { orderBy: { id: 'asc' } }))
    .id;

  // A real run in the customer account: its row links to the job and its log.
  const task = await h.task(customer, { entities: 1, items: 3 });
  const t = await h.em().findOneOrFail(BackupTask, { id: task.id });
  await discoverEntities(h.em(), t, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  const entity = await h.em().findOneOrFail(TaskEntity, { task: task.id });
  const em = h.em();
  const { jobIds } = await backupNow(
    em,
    await em.findOneOrFail(BackupTask, { id: task.id }),
    [entity.id],
    { kind: 'user', ...ACTOR },
    h.clock.now,
    3,
  );
  await h.runner.runUntilIdle();
  jobId = jobIds[0] as string;
  jobRowId = (await h.em().findOneOrFail(ActivityEvent, { jobId })).id;

  adminCookie = await signIn(h.app.app, 'admin@contoso.example', TEST_PASSWORD);
  activityOnlyCookie = await signIn(h.app.app, 'activity@contoso.example', TEST_PASSWORD);
  auditOnlyCookie = await signIn(h.app.app, 'audit@contoso.example', TEST_PASSWORD);
  nothingCookie = await signIn(h.app.app, 'nothing@contoso.example', TEST_PASSWORD);
}, 60_000);

afterAll(async () => {
  await h.close();
});

describe('the page', () => {
  it('shows the rows of the partner and its accounts, newest first, never a sibling tenant’s', async () => {
    const res = await get('/activity', adminCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<h1>System activity</h1>');
    // Partner (i % 5 == 0) and customer (i % 5 == 1) rows: 52 seeded, plus the real run and its events.
    const rows = await allPageRows('', adminCookie);
    const seeded = rows.filter((r) => r.startsWith('Row '));
    expect(seeded).toHaveLength(52);
    expect(seeded.every((r) => [0, 1].includes(Number(r.slice(4, 7)) % 5))).toBe(true);
    expect(rows).toContain(`Backup task "Test backup" created for Test service by ${ACTOR.label}.`);
    expect(html).toContain('Page 1 of 2');
    expect(html).toContain('in Fabrikam');
    expect(html).toContain('Contoso IT and the accounts under it');
    // Newest first: the real run (now) comes before the seeded rows of March 2026.
    expect(rows.indexOf(rows.find((r) => r.startsWith('Backup of')) as string)).toBeLessThan(
      rows.indexOf(seeded[0] as string),
    );
    // The columns of the guides and the tabs.
    for (const column of ['Activity', 'Date and time', 'Service', 'Sub service', 'Status', 'Task name', 'Item']) {
      expect(html).toContain(`<th scope="col">${column}</th>`);
    }
    expect(html).toContain('<a href="/activity" aria-current="page">System activity</a>');
    expect(html).toContain('<a href="/activity/security-audit">Security audit</a>');
    expect(html).toContain('user040@<wbr>fabrikam.example');
  });

  it('filters by date, activity, service, status, task name, item and account', async () => {
    const count = async (query: string) => (await allPageRows(query, adminCookie)).length;
    expect(await count('?activity=Restore')).toBe(14);
    // 18 seeded, and the real task's creation, activation and run.
    expect(await count('?service=test-service')).toBe(18 + 3);
    // Seeded failures are the customer's; warnings belong to the root only.
    expect(await count('?status=failed')).toBe(26);
    expect(await count('?status=warning')).toBe(0);
    expect(await count('?from=2026-03-02&to=2026-03-03')).toBe(8);
    expect(await count('?task=100%25')).toBe(13);
    expect(await count('?task=nightly_')).toBe(13);
    expect(await count('?item=USER00')).toBe(4);
    expect(await count(`?account=${customer.id}`)).toBe(26 + 3);
    expect(await count(`?job=${jobId}`)).toBe(1);
    const html = await (await get('/activity?activity=Restore&status=failed', adminCookie)).text();
    expect(html).toContain('<option selected>Restore</option>');
    expect(html).toContain('<option value="failed" selected>Failed</option>');
    expect(html).toContain('href="/activity/export.csv?activity=Restore&amp;status=failed"');
  });

  it('shows one job with a chip and a way back to all activity', async () => {
    const html = await (await get(`/activity?job=${jobId}&status=succeeded`, adminCookie)).text();
    expect(html).toContain('Showing one job');
    expect(html).toContain('href="/activity?status=succeeded">Show all activity</a>');
    expect(summaries(html)).toHaveLength(1);
    expect(html).toContain(`<input type="hidden" name="job" value="${jobId}">`);
    // A job that has not ended has no row yet, and the page says so.
    const pending = await (await get(`/activity?job=${crypto.randomUUID()}`, adminCookie)).text();
    expect(pending).toContain('Nothing recorded for this job yet');
  });

  it('explains bad filters and an empty result', async () => {
    const bad = await get('/activity?from=2026-13-01&activity=Nope&status=bad&service=%3Cx%3E&job=42', adminCookie);
    expect(bad.status).toBe(422);
    const html = await bad.text();
    for (const message of [
      'Enter a date as YYYY-MM-DD.',
      'Choose an activity from the list.',
      'Choose a status from the list.',
      'Choose a service from the list.',
      'That is not a job id.',
    ]) {
      expect(html).toContain(message);
    }
    const reversed = await get('/activity?from=2026-03-05&to=2026-03-01', adminCookie);
    expect(await reversed.text()).toContain('The end date is before the start date.');
    const none = await (await get('/activity?item=nobody-has-this', adminCookie)).text();
    expect(none).toContain('No activity matches');
    const export422 = await get('/activity/export.csv?status=bad', adminCookie);
    expect(export422.status).toBe(422);
  });

  it('answers htmx with the results fragment and the tidy address', async () => {
    const res = await get('/activity?activity=Export&task=&item=', adminCookie, { 'hx-request': 'true' });
    const html = await res.text();
    expect(html).not.toContain('<html');
    expect(html).toMatch(/^\s*<div id="activity-results"/);
    expect(res.headers.get('hx-push-url')).toBe('/activity?activity=Export');
  });

  it('offers no account filter where no account is below, for the activity and the audit alike', async () => {
    const e = h.em();
    await makeUser(e, customer, 'admin@fabrikam.example');
    const customerCookie = await signIn(h.app.app, 'admin@fabrikam.example', TEST_PASSWORD);
    for (const path of ['/activity', '/activity/security-audit']) {
      const html = await (await get(path, customerCookie)).text();
      expect(html).toContain('<p class="page-subtitle" title="Fabrikam">Fabrikam</p>');
      expect(html).not.toContain('and the accounts under it');
      const partnerHtml = await (await get(path, adminCookie)).text();
      expect(partnerHtml).toContain('Contoso IT and the accounts under it');
    }
  });

  it("refuses another tenant's account with 404", async () => {
    expect((await get(`/activity?account=${sibling.id}`, adminCookie)).status).toBe(404);
    expect((await get(`/activity/export.csv?account=${siblingCustomer.id}`, adminCookie)).status).toBe(404);
  });
});

describe('the info dialog', () => {
  it('shows the figures in the row and the job log when loaded', async () => {
    const html = await (await get(`/activity?job=${jobId}`, adminCookie)).text();
    expect(html).toContain(`commandfor="activity-info-${jobRowId}" command="show-modal"`);
    expect(html).toContain(`<dialog id="activity-info-${jobRowId}"`);
    expect(html).toContain(`hx-get="/activity/events/${jobRowId}" hx-trigger="intersect once"`);
    expect(html).toContain('<dd data-fact="items">3</dd>');
    expect(html).toContain("Loading the job's log…");

    const fragment = await (await get(`/activity/events/${jobRowId}`, adminCookie, { 'hx-request': 'true' })).text();
    expect(fragment).not.toContain('<html');
    expect(fragment).toContain('<dd data-fact="items">3</dd>');
    expect(fragment).toContain('<dd data-fact="size">192 B</dd>');
    expect(fragment).toMatch(/<dd data-fact="duration">\d+ s<\/dd>/);
    expect(fragment).toContain('queued by admin@acme.example');
    expect(fragment).toContain('Backup saved: 3 added, 0 changed, 0 removed');
    expect(fragment).not.toMatch(/\b[0-9a-f]{12}\b/);

    const page = await get(`/activity/events/${jobRowId}`, adminCookie);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1>Backup</h1>');
  });

  it('keeps the figures when the job is gone, and formats sizes and durations for people', async () => {
    const seeded = await h.em().findOneOrFail(ActivityEvent, { organization: partner.id, activity: 'Backup' });
    const html = await (await get(`/activity/events/${seeded.id}`, adminCookie, { 'hx-request': 'true' })).text();
    expect(html).toContain('<dd data-fact="size">1.50 MB</dd>');
    expect(html).toContain('<dd data-fact="duration">1 min 5 s</dd>');
    expect(html).not.toContain('Job log');
    const em = h.em();
    const row = em.create(ActivityEvent, {
      at: new Date(),
      organization: partner.id,
      activity: 'Export',
      status: 'succeeded',
      jobId: crypto.randomUUID(),
      summary: 'An export whose job is gone',
    });
    await em.flush();
    const gone = await (await get(`/activity/events/${row.id}`, adminCookie, { 'hx-request': 'true' })).text();
    expect(gone).toContain('The job is no longer kept, so its log is gone');
  });

  it("answers 404 for another tenant's row and for ids that are not numbers", async () => {
    expect((await get(`/activity/events/${siblingRowId}`, adminCookie)).status).toBe(404);
    expect((await get('/activity/events/abc', adminCookie)).status).toBe(404);
    expect((await get('/activity/events/99999999', adminCookie)).status).toBe(404);
  });
});

describe('the CSV export', () => {
  it('holds exactly the filtered rows of all pages, in the same order, and is audited', async () => {
    for (const query of ['', '?status=failed&item=fabrikam', '?from=2026-03-03&to=2026-03-09&activity=Backup']) {
      const pageRows = await allPageRows(query, adminCookie);
      const res = await get(`/activity/export.csv${query}`, adminCookie);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(res.headers.get('content-disposition')).toMatch(
        /^attachment; filename="holdfast-system-activity-\d{4}-\d{2}-\d{2}\.csv"$/,
      );
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const [header, ...data] = parseCsv(new TextDecoder().decode(bytes.slice(3)));
      expect(header).toEqual([
        'Date and time',
        'Activity',
        'Service',
        'Sub service',
        'Status',
        'Task name',
        'Item',
        'Account',
        'Started',
        'Duration (s)',
        'Data size (bytes)',
        'Items',
        'Summary',
        'Job',
      ]);
      expect(data.map((r) => r[SUMMARY_COLUMN])).toEqual(pageRows);
      expect(pageRows.length).toBeGreaterThan(query ? 3 : 50);
    }
    const [csv] = await Promise.all([(await get('/activity/export.csv?activity=Restore', adminCookie)).text()]);
    const restore = parseCsv(csv.slice(1))[1] as string[];
    expect(restore.slice(1, 8)).toEqual([
      'Restore',
      'Dropbox',
      'Users',
      'Succeeded',
      'Weekly files',
      'user025@fabrikam.example',
      'Contoso IT',
    ]);
    expect(restore.slice(9, 12)).toEqual(['65', '1500000', '25']);
    const audit = await h.em().find(AuditEvent, { activity: 'Activity exported' }, { orderBy: { id: 'desc' } });
    expect(audit[0]?.description).toBe('Exported 14 system activity rows as CSV (filters: activity Restore)');
    expect(audit[0]?.performedBy).toBe('admin@contoso.example');
    expect(audit).toHaveLength(4);
  });
});

describe('permissions', () => {
  it('guards System Activity with "view activity" and sends audit-only users to the audit', async () => {
    const only = await get('/activity', activityOnlyCookie);
    expect(only.status).toBe(200);
    const html = await only.text();
    // One tab only: no tab row.
    expect(html).not.toContain('aria-label="Activity sections"');
    expect((await get('/activity/security-audit', activityOnlyCookie)).status).toBe(403);

    const audit = await get('/activity', auditOnlyCookie);
    expect(audit.status).toBe(302);
    expect(audit.headers.get('location')).toBe('/activity/security-audit');
    expect((await get('/activity/security-audit', auditOnlyCookie)).status).toBe(200);
    for (const path of ['/activity/export.csv', `/activity/events/${jobRowId}`, '/api/v1/activity']) {
      expect((await get(path, auditOnlyCookie)).status).toBe(403);
    }

    const none = await get('/activity', nothingCookie);
    expect(none.status).toBe(403);
    expect(await none.text()).toContain('View account activity');
    const home = await (await get('/', nothingCookie)).text();
    expect(home).not.toContain('href="/activity"');
    expect(await (await get('/', activityOnlyCookie)).text()).toContain('href="/activity"');
  });
});

describe('/api/v1/activity', () => {
  it('lists with the same filters and paging, and exports the same rows', async () => {
    const token = (await getTokens(h.app.app, await makeKey(h.app, partner))).access_token;
    const page = await json(
      await h.app.app.request('/api/v1/activity?activity=Restore&pageSize=5&page=2', withBearer(token, 'GET')),
    );
    expect(page.total).toBe(14);
    expect(page.page).toBe(2);
    expect(page.items).toHaveLength(5);
    expect(page.items[0]).toMatchObject({
      activity: 'Restore',
      service: 'dropbox',
      serviceLabel: 'Dropbox',
      bytes: 1_500_000,
      task: null,
    });
    const all = await json(
      await h.app.app.request('/api/v1/activity?activity=Restore&pageSize=200', withBearer(token, 'GET')),
    );
    const csv = await (
      await h.app.app.request('/api/v1/activity/export.csv?activity=Restore', withBearer(token, 'GET'))
    ).text();
    expect(
      parseCsv(csv)
        .slice(1)
        .map((r) => r[SUMMARY_COLUMN]),
    ).toEqual(all.items.map((i: { summary: string }) => i.summary));

    const one = await json(await h.app.app.request(`/api/v1/activity?job=${jobId}`, withBearer(token, 'GET')));
    expect(
      one.items.map((i: { jobId: string; status: string; items: number }) => [i.jobId, i.status, i.items]),
    ).toEqual([[jobId, 'succeeded', 3]]);
    expect(one.items[0].organization).toEqual({ id: customer.id, name: 'Fabrikam' });

    const foreign = await h.app.app.request(`/api/v1/activity?organization=${sibling.id}`, withBearer(token, 'GET'));
    expect(foreign.status).toBe(404);
    const bad = await h.app.app.request('/api/v1/activity?status=nope&from=yesterday', withBearer(token, 'GET'));
    expect(bad.status).toBe(422);
    expect((await json(bad)).error.code).toBe('validation_failed');
  });
});
