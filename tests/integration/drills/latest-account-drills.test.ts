// The portal's account rows read the latest restore drill of every listed account in one
// statement (latestAccountDrills): per account the drill that finished last, whichever of its
// tasks ran it; an account never drilled is absent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestAccountDrills } from '../../../core/drills/drill-status.ts';
import { RestoreDrill } from '../../../core/drills/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { BackupTask } from '../../../core/tasks/entities.ts';
import { completeSetupVia, createTestApp, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, rootOf } from '../../helpers/tenants.ts';

let t: TestApp;
let first: IOrganization;
let second: IOrganization;
let undrilled: IOrganization;
const em = () => t.kernel.orm.em.fork();
const HOUR = 3_600_000;
const base = Date.UTC(2026, 11, 1, 12);

async function taskOf(org: IOrganization, name: string): Promise<string> {
  const e = em();
  const task = e.create(BackupTask, {
    organization: org.id,
    service: 'test-service',
    name,
    connection: 'not-a-sealed-connection',
  });
  await e.flush();
  return task.id;
}

async function drill(org: IOrganization, task: string, hoursAfter: number, passed: boolean, items: number) {
  const e = em();
  e.create(RestoreDrill, {
    organization: org.id,
    task,
    jobId: null,
    startedAt: new Date(base + hoursAfter * HOUR - 1000),
    finishedAt: new Date(base + hoursAfter * HOUR),
    passed,
    snapshots: 1,
    items,
    bytes: 100,
    storageBytesRead: 100,
    durationMs: 1000,
    failures: [],
  });
  await e.flush();
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const root = await rootOf(em());
  const partner = await makeOrganization(em(), root, 'partner', 'Drill Partner');
  first = await makeOrganization(em(), partner, 'customer', 'First');
  second = await makeOrganization(em(), partner, 'customer', 'Second');
  undrilled = await makeOrganization(em(), partner, 'customer', 'Undrilled');
  const [a, b] = [await taskOf(first, 'A'), await taskOf(first, 'B')];
  await drill(first, a, 1, true, 11);
  await drill(first, b, 5, false, 12); // the latest of First, from its other task
  await drill(first, a, 3, true, 13);
  const c = await taskOf(second, 'C');
  await drill(second, c, 9, true, 21); // the latest of Second
  await drill(second, c, 2, false, 22);
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('latestAccountDrills', () => {
  it('gives each account its newest drill of any task and leaves out accounts never drilled', async () => {
    const latest = await latestAccountDrills(em(), [first.id, second.id, undrilled.id, first.id]);
    expect([...latest.keys()].sort()).toEqual([first.id, second.id].sort());
    expect(latest.get(first.id)).toMatchObject({ items: 12, passed: false });
    expect(latest.get(second.id)).toMatchObject({ items: 21, passed: true });
  });

  it('answers an empty map for no accounts', async () => {
    expect((await latestAccountDrills(em(), [])).size).toBe(0);
  });
});
