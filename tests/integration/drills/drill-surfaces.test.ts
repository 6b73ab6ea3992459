// Where a restore drill's result shows, through the real app with the test service: the task page
// (the result, its cost, the "Run a restore drill" button queuing one), the account row of the
// portal, the API (`lastDrill` of a task, POST …/drills; another tenant's task is a 404), the
// summary report's CSV column; and the schedule: a task's first drill is due its interval after
// its creation, once per day, and not again until the interval has passed since the last one;
// an account's drill policy (Settings › Account) overrides the interval for it and those below it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { setDrillPolicy } from '../../../core/drills/drill-policy.ts';
import { enqueueDueDrills } from '../../../core/drills/drill-schedule.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { SUMMARY_CSV_HEADER } from '../../../core/notifications/summary-report.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { getTokens, json, makeKey, withBearer } from '../../helpers/api.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { completeSetupVia, ORIGIN, signIn } from '../../helpers/kernel.ts';
import { makeOrganization, rootOf } from '../../helpers/tenants.ts';

const DAY = 24 * 60 * 60 * 1000;
let h: JobsHarness;
let admin: string;
let home: IOrganization;
let customer: IOrganization;
let task: IBackupTask;

async function backUp(t: IBackupTask) {
  const em = h.em();
  const stored = await em.findOneOrFail(BackupTask, { id: t.id });
  await discoverEntities(em, stored, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  const ids = (await em.find(TaskEntity, { task: t.id })).map((e) => e.id);
  await backupNow(em, t, ids, { kind: 'user', ...ACTOR }, h.clock.now, 1);
  await h.runner.runUntilIdle();
}

beforeAll(async () => {
  h = await createJobsHarness();
  h.app.kernel.deps.now = () => h.clock.now;
  await completeSetupVia(h.app.app);
  admin = await signIn(h.app.app);
  home = await rootOf(h.em());
  customer = await makeOrganization(h.em(), home, 'customer', 'Drilled Customer');
  task = await h.task(customer);
  await backUp(task);
}, 60_000);
afterAll(async () => {
  await h.close();
});

describe('restore drill results', () => {
  it("the API starts one and gives its result as the task's lastDrill; another tenant's task is a 404", async () => {
    const key = await makeKey(h.app, home);
    const { access_token } = await getTokens(h.app.app, key);
    const task0 = await json(await h.app.app.request(`/api/v1/tasks/${task.id}`, withBearer(access_token)));
    expect(task0.lastDrill).toBeNull();
    const started = await h.app.app.request(`/api/v1/tasks/${task.id}/drills`, withBearer(access_token, 'POST'));
    expect(started.status).toBe(202);
    const { jobId } = await json(started);
    await h.runner.runUntilIdle();
    expect((await h.em().findOneOrFail(Job, { id: jobId })).state).toBe('succeeded');
    const got = await json(await h.app.app.request(`/api/v1/tasks/${task.id}`, withBearer(access_token)));
    expect(got.lastDrill).toMatchObject({
      passed: true,
      items: 15,
      snapshots: 3,
      cost: { serviceApiCalls: 0, storageBytesRead: expect.any(Number) },
      failures: [],
      summary: expect.stringMatching(/^Last verified restorable: .*, 15 items, /),
    });
    expect(got.lastDrill.cost.storageBytesRead).toBeGreaterThan(0);
    const other = await h.organization('Other tenant');
    const foreign = await h.task(other);
    const refused = await h.app.app.request(`/api/v1/tasks/${foreign.id}/drills`, withBearer(access_token, 'POST'));
    expect(refused.status).toBe(404);
  });

  it('the portal shows it on the account row', async () => {
    const page = await (await h.app.app.request('/portal', { headers: { cookie: admin } })).text();
    const row = page.slice(page.indexOf('Drilled Customer'));
    expect(row.slice(0, row.indexOf('</tr>'))).toMatch(/Verified restorable <time datetime="[^"]+">/);
  });

  it('the task page shows the result and its cost, and its button queues another drill', async () => {
    const opened = await h.app.app.request(`/portal/accounts/${customer.id}/open`, {
      method: 'POST',
      headers: { origin: ORIGIN, cookie: admin, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(opened.status).toBe(303);
    const acting = /holdfast_session=[^;]*/.exec(opened.headers.get('set-cookie') ?? '')?.[0] ?? '';
    const page = await (await h.app.app.request(`/tasks/${task.id}`, { headers: { cookie: acting } })).text();
    expect(page).toMatch(/Last verified restorable: <time [^>]+>[^<]+<\/time>, 15 items, \d+ bytes, took \d+ (ms|s)/);
    expect(page).toMatch(/Cost: no service API calls; [\d.]+ (bytes|KB) read from storage\./);
    const res = await h.app.app.request(`/tasks/${task.id}/drill`, {
      method: 'POST',
      headers: { origin: ORIGIN, cookie: acting, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(res.status).toBe(303);
    const drills = (await h.em().find(Job, { task: task.id }, { orderBy: { id: 'asc' } })).filter(
      (j) => j.params.operation === 'drill',
    );
    expect(drills.map((j) => j.initiatorLabel).sort()).toEqual([
      expect.stringMatching(/^API key /),
      'admin@acme.example',
    ]);
    await h.runner.runUntilIdle();
  });

  it('the summary report has a column for it', () => {
    expect(SUMMARY_CSV_HEADER.at(-1)).toBe('Restore drill');
  });
});

describe('the drill schedule', () => {
  it("queues a task's first drill its interval after creation, once a day, then waits the interval again", async () => {
    const fresh = await h.task(customer);
    await backUp(fresh);
    const drillsOf = async () =>
      (await h.em().find(Job, { task: fresh.id })).filter((j) => j.params.operation === 'drill').length;
    expect(await enqueueDueDrills(h.ctx, h.clock.now)).toBe(0);
    h.advance(7 * DAY);
    // The other tasks of this file are due too; this one once.
    await enqueueDueDrills(h.ctx, h.clock.now);
    expect(await drillsOf()).toBe(1);
    await enqueueDueDrills(h.ctx, h.clock.now);
    expect(await drillsOf()).toBe(1);
    await h.runner.runUntilIdle();
    h.advance(DAY);
    await enqueueDueDrills(h.ctx, h.clock.now);
    expect(await drillsOf()).toBe(1);
    h.advance(7 * DAY);
    await enqueueDueDrills(h.ctx, h.clock.now);
    expect(await drillsOf()).toBe(2);
  });
});

describe('the drill policy of accounts', () => {
  it('overrides the appliance interval for the account and those below it; 0 turns drills off', async () => {
    const partner = await makeOrganization(h.em(), home, 'partner', 'Policy Partner');
    const child = await makeOrganization(h.em(), partner, 'customer', 'Policy Customer');
    const quiet = await makeOrganization(h.em(), partner, 'customer', 'Quiet Customer');
    const childTask = await h.task(child);
    const quietTask = await h.task(quiet);
    await backUp(childTask);
    await backUp(quietTask);
    await setDrillPolicy(h.em(), partner, 2);
    await setDrillPolicy(h.em(), quiet, 0);
    const drillsOf = async (t: IBackupTask) =>
      (await h.em().find(Job, { task: t.id })).filter((j) => j.params.operation === 'drill').length;

    h.advance(DAY);
    await enqueueDueDrills(h.ctx, h.clock.now);
    expect([await drillsOf(childTask), await drillsOf(quietTask)]).toEqual([0, 0]);
    // Two days: the partner's policy, not the appliance's seven, applies to its customer.
    h.advance(DAY);
    await enqueueDueDrills(h.ctx, h.clock.now);
    expect([await drillsOf(childTask), await drillsOf(quietTask)]).toEqual([1, 0]);
    await h.runner.runUntilIdle();
    h.advance(30 * DAY);
    await enqueueDueDrills(h.ctx, h.clock.now);
    expect([await drillsOf(childTask), await drillsOf(quietTask)]).toEqual([2, 0]);
    await h.runner.runUntilIdle();
  });

  it('is set on Settings › Account, checked, audited, and cleared to inherit', async () => {
    // The clock moved past the session's life: a fresh sign-in.
    admin = await signIn(h.app.app);
    const post = (intervalDays: string) =>
      h.app.app.request('/settings/account/drills', {
        method: 'POST',
        headers: { origin: ORIGIN, cookie: admin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ intervalDays }).toString(),
      });
    const bad = await post('often');
    expect(bad.status).toBe(422);
    expect(await bad.text()).toContain('Enter a whole number of days from 0 to 365, or leave it empty to inherit.');
    expect((await post('3')).status).toBe(303);
    const page = async () =>
      (await (await h.app.app.request('/settings/account', { headers: { cookie: admin } })).text()).replace(
        /\s+/g,
        ' ',
      );
    expect(await page()).toContain('<strong id="drill-policy-now">every 3 days</strong>, set for this account.');
    expect((await post('')).status).toBe(303);
    expect(await page()).toContain('<strong id="drill-policy-now">every 7 days</strong>, the appliance’s setting.');
    const audit = await h.em().find(AuditEvent, { description: { $like: 'Restore drill policy:%' } });
    expect(audit.map((a) => a.description).sort()).toEqual([
      'Restore drill policy: every 3 day(s)',
      'Restore drill policy: inherited',
    ]);
  });
});

describe('the drill policy API', () => {
  it('reads and sets an account policy, says where it comes from, and 404s out of reach', async () => {
    const partner = await makeOrganization(h.em(), home, 'partner', 'API Partner');
    const child = await makeOrganization(h.em(), partner, 'customer', 'API Customer');
    const other = await makeOrganization(h.em(), home, 'partner', 'Other Partner');
    const { access_token: token } = await getTokens(h.app.app, await makeKey(h.app, partner));
    const { access_token: otherToken } = await getTokens(h.app.app, await makeKey(h.app, other));
    const call = async (t: string, method: string, id: string, body?: unknown) => {
      const res = await h.app.app.request(`/api/v1/organizations/${id}/drill-policy`, withBearer(t, method, body));
      return [res.status, await json(res)] as const;
    };
    expect(await call(token, 'GET', child.id)).toEqual([
      200,
      { intervalDays: null, effectiveDays: 7, source: 'appliance', fromId: null },
    ]);
    expect(await call(token, 'PUT', partner.id, { intervalDays: 3 })).toEqual([
      200,
      { intervalDays: 3, effectiveDays: 3, source: 'own', fromId: partner.id },
    ]);
    expect(await call(token, 'GET', child.id)).toEqual([
      200,
      { intervalDays: null, effectiveDays: 3, source: 'inherited', fromId: partner.id },
    ]);
    const [bad] = await call(token, 'PUT', child.id, { intervalDays: 400 });
    expect(bad).toBe(422);
    const [foreign] = await call(otherToken, 'PUT', child.id, { intervalDays: 1 });
    expect(foreign).toBe(404);
    expect((await call(token, 'PUT', partner.id, { intervalDays: null }))[1]).toEqual({
      intervalDays: null,
      effectiveDays: 7,
      source: 'appliance',
      fromId: null,
    });
  });
});
