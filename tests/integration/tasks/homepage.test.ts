// The homepage's task list (seed 002 Homepage): a search for a task by name or service (the
// table swapped in place by htmx, the address bar following), and each task's last backup size —
// the logical bytes of the last snapshot of each of its entities, deleted ones left out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { ADMIN, completeSetupVia, createTestApp, signIn, type TestApp } from '../../helpers/kernel.ts';
import { rootOf } from '../../helpers/tenants.ts';

let t: TestApp;
let cookie: string;
let org: IOrganization;
const em = () => t.kernel.orm.em.fork();

async function task(name: string, sizes: { bytes: number; deleted?: boolean }[]): Promise<void> {
  const e = em();
  const made = e.create(BackupTask, {
    organization: org.id,
    service: 'test-service',
    name,
    connection: 'not-a-sealed-connection',
  });
  sizes.forEach((s, i) => {
    e.create(TaskEntity, {
      task: made,
      externalId: `${name}-${i}`,
      name: `${name} ${i}`,
      kind: 'user',
      pluginState: null,
      status: 'success',
      lastBytes: s.bytes,
      lastRunAt: new Date('2026-12-01T02:00:00Z'),
      deletedAt: s.deleted ? new Date() : null,
    });
  });
  await e.flush();
}

/** Task names and sizes as the table shows them, in order. */
function tableOf(html: string): [string, string][] {
  return [
    ...html.matchAll(/class="task-link"[^>]*>([^<]+)<\/a>[\s\S]*?<td data-label="Last backup"[^>]*>([\s\S]*?)<\/td>/g),
  ].map((m) => [
    m[1] as string,
    /class="muted block last-backup-size"[^>]*>([^<]*)</.exec(m[2] as string)?.[1] ?? 'Never',
  ]);
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  cookie = await signIn(t.app, ADMIN.email, ADMIN.password);
  org = await rootOf(em());
  await task('Mail archive', [{ bytes: 1_000_000 }, { bytes: 1_000_000 }, { bytes: 999_999_999, deleted: true }]);
  await task('Finance files', [{ bytes: 2048 }]);
  await task('CRM org', []);
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('the homepage', () => {
  it("shows each task's last backup size: its entities' last snapshots summed, deleted ones left out", async () => {
    const html = await (await t.app.request('/', { headers: { cookie } })).text();
    expect(tableOf(html)).toEqual([
      ['CRM org', 'Never'],
      ['Finance files', '2.0 KB'],
      ['Mail archive', '2.0 MB'],
    ]);
    expect(html).toContain('<label for="task-q">Search for a task</label>');
  });

  it('finds a task by part of its name or its service, ignoring case, in place with htmx', async () => {
    const byName = await t.app.request('/?q=ARCH', { headers: { cookie } });
    expect(tableOf(await byName.text()).map(([name]) => name)).toEqual(['Mail archive']);
    const fragment = await t.app.request('/?q=files', { headers: { cookie, 'hx-request': 'true' } });
    const html = await fragment.text();
    expect(html.trimStart().startsWith('<div id="home-tasks">')).toBe(true);
    expect(html).not.toContain('<h1>');
    expect(fragment.headers.get('hx-push-url')).toBe('/?q=files');
    expect(tableOf(html).map(([name]) => name)).toEqual(['Finance files']);
  });

  it('says when no task matches, and keeps the Add button', async () => {
    const html = await (await t.app.request('/?q=payroll', { headers: { cookie } })).text();
    expect(tableOf(html)).toEqual([]);
    expect(html).toContain('No backup task\'s name or service contains "payroll".');
    expect(html).toContain('+ Add backup task');
  });
});
