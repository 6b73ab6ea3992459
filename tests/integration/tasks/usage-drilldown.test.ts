// The usage drill-down: an object's records added / updated / deleted per day over 7, 14 or 30
// days, linked from its row on the task page, and a task's API calls per day, both read from
// finished backup runs' results; another organization's task or entity is a 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { completeSetupVia, createTestApp, signIn, type TestApp } from '../../helpers/kernel.ts';
import { sessionRequests } from '../../helpers/session-requests.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let cookie: string;
let otherCookie: string;
let taskId: string;
let contactId: string;
const DAY = 86_400_000;
const em = () => t.kernel.orm.em.fork();

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
  root = await rootOf(em());
  const other = await makeOrganization(em(), root, 'partner', 'Other Partner');
  await makeUser(em(), other, 'admin@other.example', { role: 'administrator' });
  otherCookie = await signIn(t.app, 'admin@other.example', TEST_PASSWORD);
  const e = em();
  const task = e.create(BackupTask, { organization: root.id, service: 'salesforce', name: 'Org', connection: 'x' });
  const contact = e.create(TaskEntity, {
    task,
    externalId: 'Contact',
    name: 'Contact',
    kind: 'data',
    pluginState: null,
    lastRunAt: new Date(),
  });
  const account = e.create(TaskEntity, {
    task,
    externalId: 'Account',
    name: 'Account',
    kind: 'data',
    pluginState: null,
  });
  const now = Date.now();
  const run = (entity: typeof contact, daysAgo: number, result: Record<string, number>, state = 'succeeded') =>
    e.create(Job, {
      organization: root.id,
      task,
      entity,
      kind: 'backup',
      label: 'Backup',
      state: state as never,
      initiatorKind: 'schedule',
      initiatorLabel: 'Schedule',
      result,
      runAfter: new Date(now - daysAgo * DAY),
      createdAt: new Date(now - daysAgo * DAY),
      finishedAt: new Date(now - daysAgo * DAY),
    } as never);
  run(contact, 0, { added: 3, updated: 4, deleted: 5, apiCalls: 2 });
  run(contact, 0, { added: 1, updated: 0, deleted: 0, apiCalls: 1 });
  run(contact, 2, { added: 0, updated: 9, deleted: 0, apiCalls: 3 });
  run(contact, 20, { added: 7, updated: 0, deleted: 0, apiCalls: 4 });
  run(contact, 40, { added: 99, updated: 0, deleted: 0, apiCalls: 99 });
  run(account, 0, { added: 50, updated: 0, deleted: 0, apiCalls: 10 });
  await e.flush();
  taskId = task.id;
  contactId = contact.id;
}, 60_000);

afterAll(async () => {
  await t.close();
});

const { get } = sessionRequests(
  () => t.app,
  () => cookie,
);
/** The table's rows as [day, …numbers] text, newest last. */
function rows(html: string): string[][] {
  const body = html.slice(html.indexOf('<tbody>'), html.indexOf('</tbody>'));
  return [...body.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) =>
    [...(m[1] as string).matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => (c[1] as string).replace(/<[^>]+>/g, '')),
  );
}

describe('usage drill-down', () => {
  it('shows an object’s changes per day over 30 days by default, linked from its row', async () => {
    expect(await (await get(`/tasks/${taskId}`)).text()).toContain(
      `href="/tasks/${taskId}/entities/${contactId}/changes"`,
    );
    const res = await get(`/tasks/${taskId}/entities/${contactId}/changes`);
    expect(res.status).toBe(200);
    const table = rows(await res.text());
    expect(table).toHaveLength(30);
    // Day, added, updated, deleted, API calls, runs: today's two runs summed; the 40-day-old run left out.
    expect(table[29]?.slice(1)).toEqual(['4', '4', '5', '3', '2']);
    expect(table[27]?.slice(1)).toEqual(['0', '9', '0', '3', '1']);
    expect(table[9]?.slice(1)).toEqual(['7', '0', '0', '4', '1']);
    expect(table.reduce((sum, r) => sum + Number(r[1]), 0)).toBe(11);
    const week = rows(await (await get(`/tasks/${taskId}/entities/${contactId}/changes?days=7`)).text());
    expect(week).toHaveLength(7);
  });

  it('shows the task’s API calls per day, every object together', async () => {
    const table = rows(await (await get(`/tasks/${taskId}/api-calls?days=14`)).text());
    expect(table).toHaveLength(14);
    expect(table[13]?.slice(1)).toEqual(['13', '3']);
    expect(table[11]?.slice(1)).toEqual(['3', '1']);
  });

  it('is not found for another organization’s task or an entity of another task', async () => {
    expect((await get(`/tasks/${taskId}/entities/${contactId}/changes`, otherCookie)).status).toBe(404);
    expect((await get(`/tasks/${taskId}/api-calls`, otherCookie)).status).toBe(404);
    expect((await get(`/tasks/${taskId}/entities/no-such-entity/changes`)).status).toBe(404);
  });
});
