// Replicate at the seed's full child hierarchy depth (6.3: up to 7 levels): a chain of custom
// objects 8 levels deep under one account, replicated to a Sandbox at depth 7. Every level down
// to the 7th arrives with its lookup remapped to the Sandbox's new id of the level above; the 8th
// level stays behind. Depth 8 itself is refused (replicate.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { startRestore } from '../../../core/recovery/start.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND } from '../../../plugins/services/salesforce/index.ts';
import { chainObjectName, defineChainObjects, type Org, seedChain, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { ACTOR } from '../../helpers/jobs.ts';
import { startContext } from '../../helpers/recovery.ts';
import {
  backup,
  createSalesforceHarness,
  discover,
  entity,
  type SalesforceHarness,
  salesforceTask,
} from './harness.ts';

const LEVELS = 8;
const DEPTH = 7;

let s: SalesforceHarness;
let org: IOrganization;
let taskId: string;
let sandbox: Org;
let sandboxTaskId: string;
let chain: string[];

function live(target: Org, object: string): Record<string, unknown>[] {
  return [...(target.object(object)?.records.values() ?? [])].filter((r) => !r.deletedAt).map((r) => r.values);
}

beforeAll(async () => {
  s = await createSalesforceHarness();
  seedDemoOrg(s.fake.org, { accounts: 1, contactsPerAccount: 0 });
  defineChainObjects(s.fake.org, LEVELS);
  chain = seedChain(s.fake.org, LEVELS);
  const task = await salesforceTask(s);
  taskId = task.id;
  org = (await s.h.em().findOneOrFail(BackupTask, { id: taskId }, { populate: ['organization'] }))
    .organization as IOrganization;
  await discover(s, taskId);
  const everything = (await s.h.em().find(TaskEntity, { task: taskId })).map((e) => e.name);
  await backup(s, taskId, everything);

  sandbox = s.fake.addOrg('Chain Sandbox');
  seedDemoOrg(sandbox, { accounts: 0 });
  defineChainObjects(sandbox, LEVELS);
  const e = s.h.em();
  const sandboxTask = await createTask(
    e,
    s.h.deps,
    e.getReference(Organization, org.id),
    {
      service: SALESFORCE_KIND,
      name: 'Sandbox',
      connection: {
        environment: 'sandbox',
        orgId: sandbox.id,
        orgName: sandbox.name,
        refreshToken: s.fake.grant(sandbox).refreshToken,
      },
      settings: {},
    },
    ACTOR,
  );
  sandboxTaskId = sandboxTask.id;
  await discover(s, sandboxTaskId);
});
afterAll(async () => {
  await s.close();
});

describe('Salesforce replicate at the full hierarchy depth', () => {
  it('replicates a 7-level child chain with every lookup remapped to the Sandbox ids, and not the 8th level', async () => {
    const account = await entity(s, taskId, 'Account');
    const target = await entity(s, sandboxTaskId, 'Account');
    const started = await startRestore(startContext(s.h, org), {
      taskId,
      entityId: account.id,
      snapshotId: account.lastSnapshotId as string,
      destinationEntityId: target.id,
      mode: 'in_place',
      options: {
        hierarchyDepth: DEPTH,
        replicate: { scope: 'parents', parents: [{ object: 'Account', where: "Name = 'Chain Co'" }], anonymize: false },
      },
    });
    await s.h.runner.runUntilIdle();
    const job = await s.h.em().findOneOrFail(Job, { id: started.id });
    expect(job.error).toBeNull();
    // The account and one record on each of the 7 levels below it.
    expect(job.result?.counts).toEqual({ created: 1 + DEPTH, updated: 0, skipped: 0, failed: 0 });

    const accounts = live(sandbox, 'Account');
    expect(accounts.map((a) => a.Name)).toEqual(['Chain Co']);
    let above = accounts[0]?.Id as string;
    expect(chain).not.toContain(above);
    for (let level = 1; level <= DEPTH; level++) {
      const rows = live(sandbox, chainObjectName(level));
      expect(rows.map((r) => r.Name)).toEqual([`Chain Co level ${level}`]);
      const row = rows[0] as Record<string, unknown>;
      // Remapped: the Sandbox's id of the level above, never the source org's.
      expect(row.Parent__c).toBe(above);
      expect(chain).not.toContain(row.Id);
      above = row.Id as string;
    }
    expect(live(sandbox, chainObjectName(LEVELS))).toEqual([]);
  });
});
