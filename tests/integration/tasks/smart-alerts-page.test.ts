// A task's Smart alerts page and /api/v1/tasks/{id}/smart-alerts: rules added, edited (one user
// vs all users fixed), turned off and deleted; bad input answered on its field with nothing saved;
// a very low amount asks for confirmation first; another organization's task or rule is a 404;
// a task whose service offers no smart alerts has no such page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { SmartAlertRule } from '../../../core/smart-alerts/entities.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { completeSetupVia, createTestApp, signIn, type TestApp } from '../../helpers/kernel.ts';
import { sessionRequests } from '../../helpers/session-requests.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let cookie: string;
/** An administrator of another partner: root's tasks are out of its reach. */
let otherCookie: string;
let task: string;
let foreignTask: string;
let plainTask: string;
const em = () => t.kernel.orm.em.fork();

async function salesforceTask(orgId: string, service = 'salesforce'): Promise<string> {
  const e = em();
  const row = e.create(BackupTask, { organization: orgId, service, name: 'Org backup', connection: 'not-sealed' });
  for (const name of ['Account', 'Contact']) {
    e.create(TaskEntity, { task: row, externalId: name, name, kind: 'data', pluginState: null });
  }
  await e.flush();
  return row.id;
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
  root = await rootOf(em());
  const other = await makeOrganization(em(), root, 'partner', 'Other Partner');
  task = await salesforceTask(root.id);
  foreignTask = await salesforceTask(other.id);
  await makeUser(em(), other, 'admin@other.example', { role: 'administrator' });
  otherCookie = await signIn(t.app, 'admin@other.example', TEST_PASSWORD);
  plainTask = await salesforceTask(root.id, 'test-service');
}, 60_000);

afterAll(async () => {
  await t.close();
});

const { get, post, api } = sessionRequests(
  () => t.app,
  () => cookie,
);
const rulesOf = (id: string) => em().find(SmartAlertRule, { task: id }, { orderBy: { id: 'asc' } });

describe('the Smart alerts page', () => {
  it('is linked from the task page and adds, edits, turns off and deletes an alert', async () => {
    expect(await (await get(`/tasks/${task}`)).text()).toContain(`href="/tasks/${task}/smart-alerts"`);
    const form = await (await get(`/tasks/${task}/smart-alerts/new`)).text();
    expect(form).toContain('Specific object');
    expect(form).toContain('<option value="Contact">Contact</option>');

    const added = await post(`/tasks/${task}/smart-alerts`, [
      ['scope', 'object'],
      ['object', 'Contact'],
      ['threshold', '10'],
      ['unit', 'percent'],
      ['change', 'deleted'],
      ['users', 'one'],
    ]);
    expect(added.status).toBe(303);
    const [rule] = await rulesOf(task);
    expect(rule).toMatchObject({
      entityExternalId: 'Contact',
      threshold: 10,
      unit: 'percent',
      change: 'deleted',
      users: 'one',
      enabled: true,
    });
    expect(await (await get(`/tasks/${task}/smart-alerts`)).text()).toContain(
      'More than 10 % of Contact records deleted by one user in a run',
    );

    // Users is fixed: a posted "all" is ignored, the rest changes.
    const edited = await post(`/tasks/${task}/smart-alerts/${rule?.id}`, [
      ['scope', 'all'],
      ['threshold', '200'],
      ['unit', 'count'],
      ['change', 'updated'],
      ['users', 'all'],
    ]);
    expect(edited.status).toBe(303);
    expect((await rulesOf(task))[0]).toMatchObject({
      entityExternalId: null,
      threshold: 200,
      unit: 'count',
      change: 'updated',
      users: 'one',
    });

    expect((await post(`/tasks/${task}/smart-alerts/${rule?.id}/toggle`, [])).status).toBe(303);
    expect((await rulesOf(task))[0]?.enabled).toBe(false);
    expect((await post(`/tasks/${task}/smart-alerts/${rule?.id}/delete`, [])).status).toBe(303);
    expect(await rulesOf(task)).toHaveLength(0);
  });

  it('answers bad input on its field and saves nothing', async () => {
    const cases: [[string, string][], string, string][] = [
      [
        [
          ['scope', 'object'],
          ['object', ''],
          ['threshold', '5'],
          ['unit', 'count'],
          ['change', 'deleted'],
          ['users', 'all'],
        ],
        'object-error',
        'Choose the object that triggers the alert.',
      ],
      [
        [
          ['scope', 'object'],
          ['object', 'Lead'],
          ['threshold', '50'],
          ['unit', 'count'],
          ['change', 'deleted'],
          ['users', 'all'],
        ],
        'object-error',
        'Choose an object of this task.',
      ],
      [
        [
          ['scope', 'all'],
          ['threshold', 'ten'],
          ['unit', 'count'],
          ['change', 'deleted'],
          ['users', 'all'],
        ],
        'threshold-error',
        'Enter a whole number.',
      ],
      [
        [
          ['scope', 'all'],
          ['threshold', '150'],
          ['unit', 'percent'],
          ['change', 'deleted'],
          ['users', 'all'],
        ],
        'threshold-error',
        'Enter a percentage from 0 to 100.',
      ],
      [
        [
          ['scope', 'all'],
          ['threshold', '50'],
          ['unit', 'count'],
          ['change', 'renamed'],
          ['users', 'all'],
        ],
        'change-error',
        'Choose added, updated or deleted.',
      ],
    ];
    for (const [fields, id, message] of cases) {
      const res = await post(`/tasks/${task}/smart-alerts`, fields);
      expect(res.status).toBe(422);
      expect(await res.text()).toContain(`<p class="field-error" id="${id}">${message}</p>`);
    }
    expect(await rulesOf(task)).toHaveLength(0);
  });

  it('asks to confirm an alert with very wide criteria before adding it', async () => {
    const fields: [string, string][] = [
      ['scope', 'all'],
      ['threshold', '1'],
      ['unit', 'count'],
      ['change', 'added'],
      ['users', 'all'],
    ];
    const asked = await post(`/tasks/${task}/smart-alerts`, fields);
    expect(asked.status).toBe(200);
    const text = await asked.text();
    expect(text).toContain('You have created an alert with very wide criteria.');
    expect(text).toContain('name="confirmWide" value="yes"');
    expect(await rulesOf(task)).toHaveLength(0);
    expect((await post(`/tasks/${task}/smart-alerts`, [...fields, ['confirmWide', 'yes']])).status).toBe(303);
    expect(await rulesOf(task)).toHaveLength(1);
  });

  it('is not found for another organization’s task or rule, nor for a service without smart alerts', async () => {
    const e = em();
    const mine = e.create(SmartAlertRule, {
      task,
      entityExternalId: null,
      change: 'deleted',
      unit: 'count',
      threshold: 9,
      users: 'all',
      createdAt: new Date(),
    });
    const foreign = e.create(SmartAlertRule, {
      task: foreignTask,
      entityExternalId: null,
      change: 'deleted',
      unit: 'count',
      threshold: 9,
      users: 'all',
      createdAt: new Date(),
    });
    await e.flush();
    const fields: [string, string][] = [
      ['scope', 'all'],
      ['threshold', '50'],
      ['unit', 'count'],
      ['change', 'added'],
      ['users', 'all'],
    ];
    // Another tenant's administrator, aimed at this organization's task and rule.
    expect((await get(`/tasks/${task}/smart-alerts`, otherCookie)).status).toBe(404);
    expect((await post(`/tasks/${task}/smart-alerts`, fields, otherCookie)).status).toBe(404);
    expect((await post(`/tasks/${task}/smart-alerts/${mine.id}/delete`, [], otherCookie)).status).toBe(404);
    expect((await api('GET', `/tasks/${task}/smart-alerts`, undefined, otherCookie)).status).toBe(404);
    expect((await api('DELETE', `/tasks/${task}/smart-alerts/${mine.id}`, undefined, otherCookie)).status).toBe(404);
    // Another task's rule under this task's path.
    expect((await post(`/tasks/${task}/smart-alerts/${foreign.id}/delete`, [])).status).toBe(404);
    expect((await api('PATCH', `/tasks/${task}/smart-alerts/${foreign.id}`, { threshold: 1 })).status).toBe(404);
    expect(await em().count(SmartAlertRule, { id: { $in: [mine.id, foreign.id] } })).toBe(2);
    expect(await rulesOf(task)).toHaveLength(2);
    // A service without smart alerts: no page, no link.
    expect((await get(`/tasks/${plainTask}/smart-alerts`)).status).toBe(404);
    expect(await (await get(`/tasks/${plainTask}`)).text()).not.toContain('/smart-alerts"');
    await em().nativeDelete(SmartAlertRule, { task });
  });
});

describe('/api/v1/tasks/{id}/smart-alerts', () => {
  it('lists, adds, changes and removes rules, with field messages for bad input', async () => {
    const created = await api('POST', `/tasks/${task}/smart-alerts`, {
      object: 'Account',
      change: 'updated',
      unit: 'count',
      threshold: 500,
      users: 'all',
    });
    expect(created.status).toBe(201);
    const rule = (await created.json()) as { id: number; object: string; description: string };
    expect(rule).toMatchObject({
      object: 'Account',
      description: 'More than 500 Account records updated by all users in a run',
    });
    const listed = (await (await api('GET', `/tasks/${task}/smart-alerts`)).json()) as { id: number }[];
    expect(listed.map((r) => r.id)).toContain(rule.id);

    const bad = await api('POST', `/tasks/${task}/smart-alerts`, {
      change: 'deleted',
      unit: 'percent',
      threshold: 101,
      users: 'one',
    });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { error: { fields: Record<string, string> } }).error.fields).toEqual({
      threshold: 'Enter a percentage from 0 to 100.',
    });

    const fixed = await api('PATCH', `/tasks/${task}/smart-alerts/${rule.id}`, { users: 'one' });
    expect(fixed.status).toBe(422);
    expect(((await fixed.json()) as { error: { fields: Record<string, string> } }).error.fields.users).toContain(
      'cannot be changed',
    );

    const changed = await api('PATCH', `/tasks/${task}/smart-alerts/${rule.id}`, { threshold: 700, enabled: false });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ threshold: 700, enabled: false, object: 'Account' });

    expect(
      (
        await api('POST', `/tasks/${plainTask}/smart-alerts`, {
          change: 'deleted',
          unit: 'count',
          threshold: 5,
          users: 'all',
        })
      ).status,
    ).toBe(409);
    expect((await api('DELETE', `/tasks/${task}/smart-alerts/${rule.id}`)).status).toBe(204);
    expect(await em().count(SmartAlertRule, { id: rule.id })).toBe(0);
  });
});
