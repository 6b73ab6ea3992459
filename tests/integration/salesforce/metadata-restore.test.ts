// Salesforce restores through the kernel's restore jobs against the stand-in: metadata components
// deployed back (check-only first; a refused component named and nothing deployed), to the same org
// or another connected one (a Sandbox), and "Disable
// triggers in restore": the active triggers, validation rules and record-triggered flows of the
// objects switched off for the restore (proven by record writes at the stand-in while it runs)
// and exactly those back on after it — when it succeeds, fails or is cancelled, and, through the
// kernel's recovery steps, when switching back on failed at first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { requestCancel } from '../../../core/jobs/queue.ts';
import { startRestore } from '../../../core/recovery/start.ts';
import { type IBackupTask, PluginRecoveryStep } from '../../../core/tasks/entities.ts';
import { orphanedSteps, runOrphanedSteps } from '../../../core/tasks/recovery-steps.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND } from '../../../plugins/services/salesforce/index.ts';
import {
  type ApiError,
  type Org,
  parseTrigger,
  seedDemoAutomation,
  seedDemoMetadata,
  seedDemoOrg,
} from '../../fakes/salesforce/index.ts';
import { ACTOR } from '../../helpers/jobs.ts';
import { startContext } from '../../helpers/recovery.ts';
import {
  backup,
  createSalesforceHarness,
  discover,
  entity,
  type SalesforceHarness,
  salesforceTask,
  snapshotItems,
} from './harness.ts';

let s: SalesforceHarness;
let task: IBackupTask;

beforeAll(async () => {
  s = await createSalesforceHarness();
  seedDemoOrg(s.fake.org, { accounts: 3, contactsPerAccount: 1 });
  seedDemoMetadata(s.fake.metadata());
  seedDemoAutomation(s.fake.metadata());
  s.clock.now += 3600_000;
  task = await salesforceTask(s);
  await discover(s, task.id);
  const jobs = await backup(s, task.id, ['ApexClass', 'ApexTrigger', 'ValidationRule', 'Flow', 'Account']);
  expect(jobs.map((j) => [j.state, j.error])).toEqual(Array(5).fill(['succeeded', null]));
}, 60_000);

afterAll(async () => {
  await s.close();
});

/** What Account's automation does to a record written now (the written records are purged). */
function accountAutomation(org: Org = s.fake.org) {
  let validation = false;
  try {
    org.purge('Account', org.insert('Account', { Name: 'Probe without phone' }));
  } catch (err) {
    validation =
      ((err as ApiError).body as { errorCode: string }[])[0]?.errorCode === 'FIELD_CUSTOM_VALIDATION_EXCEPTION';
  }
  const id = org.insert('Account', { Name: 'Probe', Phone: '+1 555 0100' });
  const values = org.objects.get('account')?.records.get(id)?.values ?? {};
  org.purge('Account', id);
  return {
    validation,
    trigger: values.Description === 'Stamped by trigger',
    flow: values.Website === 'https://flow.example',
    inactiveTrigger: values.Industry === 'Legacy',
  };
}

const ALL_ON = { validation: true, trigger: true, flow: true, inactiveTrigger: false };
const ALL_OFF = { validation: false, trigger: false, flow: false, inactiveTrigger: false };

/** Contact's rule is not on an object the restore writes: it stays on throughout. */
function contactRuleOn(): boolean {
  try {
    s.fake.org.insert('Contact', { LastName: 'Probe' });
    return false;
  } catch {
    return true;
  }
}

async function restore(name: string, options: Record<string, unknown> = {}, keys?: string[]) {
  const e = await entity(s, task.id, name);
  const org = await s.h.em().findOneOrFail(Organization, { id: task.organization.id });
  return startRestore(startContext(s.h, org), {
    taskId: task.id,
    entityId: e.id,
    snapshotId: e.lastSnapshotId as string,
    mode: 'in_place',
    options,
    ...(keys ? { keys } : {}),
  });
}

async function job(id: string) {
  return s.h.em().findOneOrFail(Job, { id });
}

async function pendingSteps() {
  return s.h.em().count(PluginRecoveryStep, { task: task.id });
}

const AUTOMATION = { disableAutomation: true, automationObjects: ['Account'] };

describe('Salesforce metadata restore', () => {
  it('deploys the stored components back, check-only first, and they are listed again', async () => {
    const store = s.fake.metadata();
    const original = store.components.get('ApexClass')?.get('AccountService')?.body;
    store.remove('ApexClass', 'AccountService');
    store.put('ApexClass', 'ProjectRollup', 'public class ProjectRollup { /* changed since the backup */ }\n');
    const before = s.fake.deployApi.deploys.length;

    const started = await restore('ApexClass');
    await s.h.runner.runUntilIdle();
    const done = await job(started.id);
    expect([done.state, done.error]).toEqual(['succeeded', null]);
    expect(done.result).toMatchObject({ restored: 2, failedItems: 0 });
    expect(s.fake.deployApi.deploys.slice(before).map((d) => [d.checkOnly, d.status, d.members.sort()])).toEqual([
      [true, 'Succeeded', ['ApexClass:AccountService', 'ApexClass:ProjectRollup']],
      [false, 'Succeeded', ['ApexClass:AccountService', 'ApexClass:ProjectRollup']],
    ]);
    expect(store.components.get('ApexClass')?.get('AccountService')?.body).toBe(original);
    expect(store.components.get('ApexClass')?.get('ProjectRollup')?.body).toContain('return 0');
    // listMetadata (what the next backup reads) lists it again.
    const listed = await s.fake.metadataApi.handle(
      '<soapenv:Body><listMetadata><queries><type>ApexClass</type></queries></listMetadata></soapenv:Body>',
      s.fake.org,
      store,
      '62.0',
    );
    expect(listed).toContain('<fullName>AccountService</fullName>');
  });

  it('names the component the check-only deploy refuses, in the job log and as failed items, and deploys nothing', async () => {
    const store = s.fake.metadata();
    // A trigger that writes a field which no longer exists (removed at the org since the backup).
    s.fake.org.addField('Account', { name: 'Legacy_Code__c', type: 'string', custom: true });
    store.put(
      'ApexTrigger',
      'LegacyCode',
      "trigger LegacyCode on Account (before insert) {\n  for (Account a : Trigger.new) {\n    a.Legacy_Code__c = 'x';\n  }\n}\n",
    );
    await backup(s, task.id, ['ApexTrigger']);
    const account = s.fake.org.object('Account');
    account?.fields.splice(
      account.fields.findIndex((f) => f.name === 'Legacy_Code__c'),
      1,
    );
    store.remove('ApexTrigger', 'LegacyCode');
    store.remove('ApexTrigger', 'MilestoneTrigger');
    const before = s.fake.deployApi.deploys.length;

    const started = await restore('ApexTrigger');
    await s.h.runner.runUntilIdle();
    const done = await job(started.id);
    expect(done.state).toBe('failed');
    expect(done.error).toContain('ApexTrigger LegacyCode: Variable does not exist: Legacy_Code__c');
    const log = done.log.map((l) => l.message).join('\n');
    expect(log).toContain(
      'triggers/LegacyCode.trigger was not restored: ApexTrigger LegacyCode: Variable does not exist: Legacy_Code__c',
    );
    expect(log).toContain(
      'triggers/MilestoneTrigger.trigger was not restored: not deployed: a deploy is all or nothing and other components failed',
    );
    // Only the check-only deploy was sent; nothing came back.
    expect(s.fake.deployApi.deploys.slice(before).map((d) => [d.checkOnly, d.status])).toEqual([[true, 'Failed']]);
    expect(store.components.get('ApexTrigger')?.has('LegacyCode')).toBe(false);
    expect(store.components.get('ApexTrigger')?.has('MilestoneTrigger')).toBe(false);
    // Put the org's triggers back for the next tests (the failing one stays out).
    seedDemoMetadata(store);
    seedDemoAutomation(store);
  });
});

describe('Salesforce metadata restore of selected components', () => {
  it('deploys a selected component with its -meta.xml', async () => {
    const store = s.fake.metadata();
    store.remove('ApexClass', 'ProjectRollup');
    const started = await restore('ApexClass', {}, ['classes/ProjectRollup.cls', 'classes/ProjectRollup.cls-meta.xml']);
    await s.h.runner.runUntilIdle();
    const done = await job(started.id);
    expect([done.state, done.error]).toEqual(['succeeded', null]);
    expect(s.fake.deployApi.deploys.at(-1)?.members).toEqual(['ApexClass:ProjectRollup']);
    expect(store.components.get('ApexClass')?.has('ProjectRollup')).toBe(true);
  });

  it('refuses a component selected without its -meta.xml, naming the file to add, before any deploy', async () => {
    const before = s.fake.deployApi.deploys.length;
    const started = await restore('ApexClass', {}, ['classes/ProjectRollup.cls']);
    await s.h.runner.runUntilIdle();
    const done = await job(started.id);
    expect(done.state).toBe('failed');
    expect(done.error).toContain(
      'ApexClass ProjectRollup: select classes/ProjectRollup.cls-meta.xml too: Salesforce deploys the component with its metadata file',
    );
    expect(s.fake.deployApi.deploys.length).toBe(before);
  });
});

describe('Salesforce metadata restore to another org', () => {
  let sandbox: Org;
  let sandboxTaskId: string;

  beforeAll(async () => {
    sandbox = s.fake.addOrg('Metadata Sandbox');
    seedDemoOrg(sandbox, { accounts: 0 });
    const e = s.h.em();
    const created = await createTask(
      e,
      s.h.deps,
      e.getReference(Organization, task.organization.id),
      {
        service: SALESFORCE_KIND,
        name: 'Metadata Sandbox',
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
    sandboxTaskId = created.id;
    await discover(s, sandboxTaskId);
  });

  async function restoreTo(name: string, keys: string[]) {
    const source = await entity(s, task.id, name);
    const org = await s.h.em().findOneOrFail(Organization, { id: task.organization.id });
    const started = await startRestore(startContext(s.h, org), {
      taskId: task.id,
      entityId: source.id,
      snapshotId: source.lastSnapshotId as string,
      destinationEntityId: (await entity(s, sandboxTaskId, name)).id,
      mode: 'in_place',
      keys,
    });
    await s.h.runner.runUntilIdle();
    return job(started.id);
  }

  it('deploys the selected components to the other org, check-only first; the source org is untouched', async () => {
    const sourceStore = s.fake.metadata();
    const sandboxStore = s.fake.metadata(sandbox);
    const sourceBody = sourceStore.components.get('ApexClass')?.get('AccountService')?.body;
    const before = s.fake.deployApi.deploys.length;
    const done = await restoreTo('ApexClass', ['classes/AccountService.cls', 'classes/AccountService.cls-meta.xml']);
    expect([done.state, done.error]).toEqual(['succeeded', null]);
    expect(done.result?.destination).toBe('ApexClass in Metadata Sandbox');
    expect(s.fake.deployApi.deploys.slice(before).map((d) => [d.checkOnly, d.status, d.members])).toEqual([
      [true, 'Succeeded', ['ApexClass:AccountService']],
      [false, 'Succeeded', ['ApexClass:AccountService']],
    ]);
    expect(sandboxStore.components.get('ApexClass')?.get('AccountService')?.body).toBe(sourceBody);
    expect(sandboxStore.components.get('ApexClass')?.has('ProjectRollup')).toBe(false);
    expect(sourceStore.components.get('ApexClass')?.get('AccountService')?.body).toBe(sourceBody);
  });

  it('names the component the other org refuses in the job log, and deploys nothing there', async () => {
    // A trigger writing a field the source org has and the Sandbox does not.
    s.fake.org.addField('Account', { name: 'Region_Code__c', type: 'string', custom: true });
    s.fake
      .metadata()
      .put(
        'ApexTrigger',
        'RegionCode',
        "trigger RegionCode on Account (before insert) {\n  for (Account a : Trigger.new) {\n    a.Region_Code__c = 'x';\n  }\n}\n",
      );
    await backup(s, task.id, ['ApexTrigger']);
    // The trigger is in the backup now: off the source org again, for the tests after this one.
    s.fake.metadata().remove('ApexTrigger', 'RegionCode');
    const before = s.fake.deployApi.deploys.length;
    const done = await restoreTo('ApexTrigger', [
      'triggers/RegionCode.trigger',
      'triggers/RegionCode.trigger-meta.xml',
    ]);
    expect(done.state).toBe('failed');
    const log = done.log.map((l) => l.message).join('\n');
    expect(log).toContain(
      'triggers/RegionCode.trigger was not restored: ApexTrigger RegionCode: Variable does not exist: Region_Code__c',
    );
    expect(s.fake.deployApi.deploys.slice(before).map((d) => [d.checkOnly, d.status])).toEqual([[true, 'Failed']]);
    expect(s.fake.metadata(sandbox).components.get('ApexTrigger')?.get('RegionCode')).toBeUndefined();
  });
});

describe('Salesforce validation rules (one file per object)', () => {
  it('keeps every rule of an object in its file when only one of them changed', async () => {
    const store = s.fake.metadata();
    store.put(
      'ValidationRule',
      'Account.Require_Name_Length',
      '<validationRules><fullName>Require_Name_Length</fullName><active>false</active><errorConditionFormula>ISBLANK(Name)</errorConditionFormula><errorMessage>Name is required.</errorMessage></validationRules>',
    );
    await backup(s, task.id, ['ValidationRule']);
    s.clock.now += 60_000;
    // One rule changes (not the one listed last): the next run must still store both in the file.
    const rule = store.components.get('ValidationRule')?.get('Account.Require_Phone');
    store.put('ValidationRule', 'Account.Require_Phone', (rule?.body ?? '').replace('Phone is', 'A phone is'));
    await backup(s, task.id, ['ValidationRule']);
    const file = (await snapshotItems(s, task.id, 'ValidationRule')).get('objects/Account.object')?.content ?? '';
    expect(file).toContain('A phone is required.');
    expect(file).toContain('<fullName>Require_Name_Length</fullName>');
    store.put('ValidationRule', 'Account.Require_Phone', rule?.body ?? '');
    store.remove('ValidationRule', 'Account.Require_Name_Length');
    await backup(s, task.id, ['ValidationRule']);
  });
});

describe('Salesforce automation switched off for a restore', () => {
  it('is off while the restore writes and exactly the same is on again after it succeeds', async () => {
    expect(accountAutomation()).toEqual(ALL_ON);
    const hold = s.fake.deployApi.hold((d) => d.checkOnly);
    const started = await restore('ApexClass', AUTOMATION);
    const running = s.h.runner.runUntilIdle();
    await hold.reached;
    // Mid-restore: Account's trigger, rule and flow are off; Contact's rule is untouched.
    expect(accountAutomation()).toEqual(ALL_OFF);
    expect(contactRuleOn()).toBe(true);
    expect(await pendingSteps()).toBe(1);
    hold.release();
    await running;

    const done = await job(started.id);
    expect([done.state, done.error]).toEqual(['succeeded', null]);
    expect(accountAutomation()).toEqual(ALL_ON);
    // The inactive trigger was never switched: it is still inactive (not turned on by the restore).
    const legacy = s.fake.metadata().components.get('ApexTrigger')?.get('AccountLegacy');
    expect(legacy?.meta).toContain('<status>Inactive</status>');
    expect(parseTrigger(legacy?.body ?? '')?.object).toBe('Account');
    expect(await pendingSteps()).toBe(0);
  });

  it('is on again after the restore fails', async () => {
    // The record restore of the Account object fails after the automation of the objects it
    // writes (the default: every object it writes) was switched off: Salesforce answers every
    // sObject Collections write with a 500, past the retries, so no record is written.
    const before = s.fake.deployApi.deploys.length;
    s.fake.failRoute('collections', 'server', 1000);
    const started = await restore('Account', { disableAutomation: true });
    await s.h.runner.runUntilIdle();
    s.fake.failRoute('collections', 'server', 0);
    const done = await job(started.id);
    expect(done.state).toBe('failed');
    expect(done.error).toContain('No item could be restored');
    // Off, then back on: two deploys of Account's trigger, rule and flow.
    expect(s.fake.deployApi.deploys.slice(before).map((d) => [d.checkOnly, d.status, d.members.sort()])).toEqual([
      [
        false,
        'Succeeded',
        ['ApexTrigger:AccountStamp', 'Flow:Account_Website', 'ValidationRule:Account.Require_Phone'],
      ],
      [
        false,
        'Succeeded',
        ['ApexTrigger:AccountStamp', 'Flow:Account_Website', 'ValidationRule:Account.Require_Phone'],
      ],
    ]);
    expect(accountAutomation()).toEqual(ALL_ON);
    expect(contactRuleOn()).toBe(true);
    expect(await pendingSteps()).toBe(0);
  });

  it('is on again after a restore whose deploy is refused', async () => {
    // The check-only deploy of this restore fails (a field its trigger writes is gone).
    const store = s.fake.metadata();
    s.fake.org.addField('Account', { name: 'Gone__c', type: 'string', custom: true });
    store.put('ApexClass', 'GoneUser', 'public class GoneUser {}\n');
    store.put('ApexTrigger', 'GoneStamp', "trigger GoneStamp on Account (before update) {\n  a.Gone__c = 'x';\n}\n");
    await backup(s, task.id, ['ApexTrigger']);
    const account = s.fake.org.object('Account');
    account?.fields.splice(
      account.fields.findIndex((f) => f.name === 'Gone__c'),
      1,
    );
    store.remove('ApexTrigger', 'GoneStamp');

    const started = await restore('ApexTrigger', AUTOMATION);
    await s.h.runner.runUntilIdle();
    const done = await job(started.id);
    expect(done.state).toBe('failed');
    expect(done.error).toContain('Variable does not exist: Gone__c');
    expect(accountAutomation()).toEqual(ALL_ON);
    expect(await pendingSteps()).toBe(0);
  });

  it('is on again after the restore is cancelled', async () => {
    const stall = s.fake.deployApi.stall((d) => d.checkOnly);
    const started = await restore('ApexClass', AUTOMATION);
    const running = s.h.runner.runUntilIdle();
    await stall.reached;
    expect(accountAutomation()).toEqual(ALL_OFF);
    expect(await requestCancel(s.h.em(), started.id, s.h.clock.now, 'admin@acme.example')).toBe('requested');
    await running;
    stall.unstall();

    expect((await job(started.id)).state).toBe('canceled');
    expect(accountAutomation()).toEqual(ALL_ON);
    expect(await pendingSteps()).toBe(0);
  });

  it('stays pending when switching back on fails, says so, and is switched on at the next start', async () => {
    // Every switch-back deploy of this restore fails at the stand-in (the trigger's object is
    // briefly unknown): the restore itself succeeds, the step stays.
    const hold = s.fake.deployApi.hold((d) => d.checkOnly);
    const started = await restore('ApexClass', AUTOMATION);
    const running = s.h.runner.runUntilIdle();
    await hold.reached;
    const accounts = s.fake.org.objects.get('account');
    s.fake.org.objects.delete('account');
    hold.release();
    await running;
    const done = await job(started.id);
    expect(done.state).toBe('succeeded');
    expect(done.log.map((l) => l.message).join('\n')).toContain(
      'could not be undone yet: tried again when the appliance starts',
    );
    expect(await pendingSteps()).toBe(1);
    const failedRows = await s.h.em().find(ActivityEvent, { activity: 'Restore clean-up', taskId: task.id });
    expect(failedRows.map((r) => r.status)).toEqual(['failed']);
    expect(failedRows[0]?.summary).toContain('Invalid SObject type name: Account');

    // The object is back; the next start runs the step (the job is over, so it is an orphan).
    s.fake.org.objects.set('account', accounts as never);
    expect(accountAutomation()).toEqual(ALL_OFF);
    const orphans = await orphanedSteps(s.h.em(), new Date());
    expect(orphans).toHaveLength(1);
    expect(await runOrphanedSteps({ ...s.h.ctx, em: s.h.em() }, orphans)).toEqual({ done: 1, failed: 0 });
    expect(accountAutomation()).toEqual(ALL_ON);
    expect(await pendingSteps()).toBe(0);
    const rows = await s.h
      .em()
      .find(ActivityEvent, { activity: 'Restore clean-up', taskId: task.id }, { orderBy: { id: 'asc' } });
    expect(rows.map((r) => r.status)).toEqual(['failed', 'succeeded']);
  });

  it('refuses options that are not valid before a job starts, naming them', async () => {
    const jobs = await s.h.em().count(Job, {});
    await expect(
      restore('ApexClass', { disableAutomation: true, automationObjects: ['Account; DROP'] }),
    ).rejects.toMatchObject({ fields: { 'options.automationObjects.0': 'An object is named by its API name.' } });
    expect(await s.h.em().count(Job, {})).toBe(jobs);
  });
});
