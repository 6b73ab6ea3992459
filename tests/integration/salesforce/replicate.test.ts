// Replicate (seed 6.3.1) through the kernel's restore job against the stand-in: parents chosen by
// a WHERE filter with their children, anonymized, written to a Sandbox task's org with every
// lookup remapped; no source value of an anonymized field anywhere in the Sandbox; one email
// anonymized the same way in Contact and Lead; Production as target refused; a filter outside
// the safe subset refused before a job starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { startRestore } from '../../../core/recovery/start.ts';
import { openConnectionSettings } from '../../../core/tasks/connection.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { SALESFORCE_KIND } from '../../../plugins/services/salesforce/index.ts';
import {
  defineHierarchyObjects,
  defineLeadObject,
  type Org,
  seedAccountHierarchy,
  seedDemoMetadata,
  seedDemoOrg,
  seedLead,
} from '../../fakes/salesforce/index.ts';
import { ACTOR } from '../../helpers/jobs.ts';
import { completeSetupVia, ORIGIN, signIn } from '../../helpers/kernel.ts';
import { startContext } from '../../helpers/recovery.ts';
import { makeUser, TEST_PASSWORD } from '../../helpers/tenants.ts';
import {
  backup,
  createSalesforceHarness,
  discover,
  entity,
  type SalesforceHarness,
  salesforceTask,
} from './harness.ts';

let s: SalesforceHarness;
let org: IOrganization;
let taskId: string;
let sandbox: Org;
let production: Org;
let sandboxTaskId: string;
let productionTaskId: string;

/** The fields the default template anonymizes on the objects replicated here. */
const ANONYMIZED: Record<string, string[]> = {
  Account: ['Name'],
  Contact: ['Name', 'FirstName', 'LastName', 'Email'],
  Lead: ['Name', 'FirstName', 'LastName', 'Company', 'Email', 'Phone', 'Description'],
};

async function connectedTask(target: Org, name: string, environment: 'sandbox' | 'production'): Promise<string> {
  const e = s.h.em();
  const task = await createTask(
    e,
    s.h.deps,
    e.getReference(Organization, org.id),
    {
      service: SALESFORCE_KIND,
      name,
      connection: {
        environment,
        orgId: target.id,
        orgName: target.name,
        refreshToken: s.fake.grant(target).refreshToken,
      },
      settings: {},
    },
    ACTOR,
  );
  await discover(s, task.id);
  return task.id;
}

function prepareOrg(target: Org): void {
  seedDemoOrg(target, { accounts: 0 });
  defineHierarchyObjects(target);
  defineLeadObject(target);
}

beforeAll(async () => {
  s = await createSalesforceHarness();
  seedDemoOrg(s.fake.org, { accounts: 2, contactsPerAccount: 1 });
  defineHierarchyObjects(s.fake.org);
  defineLeadObject(s.fake.org);
  seedAccountHierarchy(s.fake.org, 'Replica Co');
  seedDemoMetadata(s.fake.metadata());
  // The first contact of the hierarchy is also a lead (same name and email, another case).
  seedLead(s.fake.org, {
    FirstName: 'Person 1',
    LastName: 'Replica Co',
    Email: 'PERSON1@hierarchy.example',
    Company: 'Replica Co',
    Phone: '+1 (415) 555-0101',
  });
  const task = await salesforceTask(s);
  taskId = task.id;
  org = (await s.h.em().findOneOrFail(BackupTask, { id: taskId }, { populate: ['organization'] }))
    .organization as IOrganization;
  await discover(s, taskId);
  // Records and metadata in one backup round: a replicate reads the round's other snapshots.
  const everything = (await s.h.em().find(TaskEntity, { task: taskId })).map((e) => e.name);
  await backup(s, taskId, everything);
  sandbox = s.fake.addOrg('Acme Sandbox');
  prepareOrg(sandbox);
  production = s.fake.addOrg('Acme Other Production');
  prepareOrg(production);
  sandboxTaskId = await connectedTask(sandbox, 'Sandbox', 'sandbox');
  productionTaskId = await connectedTask(production, 'Other production', 'production');
});
afterAll(async () => {
  await s.close();
});

function live(target: Org, object: string): Record<string, unknown>[] {
  return [...(target.object(object)?.records.values() ?? [])].filter((r) => !r.deletedAt).map((r) => r.values);
}

async function replicate(targetTaskId: string, replicateOptions: Record<string, unknown>, hierarchyDepth = 2) {
  const account = await entity(s, taskId, 'Account');
  const target = await entity(s, targetTaskId, 'Account');
  const started = await startRestore(startContext(s.h, org), {
    taskId,
    entityId: account.id,
    snapshotId: account.lastSnapshotId as string,
    destinationEntityId: target.id,
    mode: 'in_place',
    options: { hierarchyDepth, replicate: replicateOptions },
  });
  await s.h.runner.runUntilIdle();
  return s.h.em().findOneOrFail(Job, { id: started.id });
}

describe('Salesforce replicate to a Sandbox with anonymization', () => {
  it('writes the filtered parents and their children anonymized, lookups remapped, no source value left', async () => {
    const job = await replicate(sandboxTaskId, {
      scope: 'parents',
      parents: [
        { object: 'Account', where: "Name LIKE 'Replica Co%' AND Industry IN ('Retail', 'Finance')" },
        { object: 'Lead' },
      ],
      anonymize: true,
    });
    expect(job.error).toBeNull();
    // 2 accounts, 2 contacts, 3 opportunities, a case, an invoice (depth 1), 3 line items and the
    // opportunity's task (depth 2), the lead.
    expect(job.result?.counts).toEqual({ created: 14, updated: 0, skipped: 0, failed: 0 });

    // Lookups intact: the hierarchy hangs together with the Sandbox's new ids.
    const accounts = live(sandbox, 'Account');
    expect(accounts).toHaveLength(2);
    const child = accounts.find((a) => a.ParentId);
    const parent = accounts.find((a) => !a.ParentId);
    expect(child?.ParentId).toBe(parent?.Id);
    const contacts = live(sandbox, 'Contact');
    expect(contacts).toHaveLength(2);
    for (const c of contacts) expect(c.AccountId).toBe(child?.Id);
    const opportunities = live(sandbox, 'Opportunity');
    expect(opportunities.map((o) => o.AccountId)).toEqual([child?.Id, child?.Id, child?.Id]);
    const items = live(sandbox, 'OpportunityLineItem');
    expect(items.every((i) => opportunities.some((o) => o.Id === i.OpportunityId))).toBe(true);
    expect(live(sandbox, 'Invoice__c').map((i) => i.Account__c)).toEqual([child?.Id]);

    // No source value of an anonymized field anywhere in the Sandbox (every record of every object).
    const sourceValues = new Set<string>();
    for (const [object, fields] of Object.entries(ANONYMIZED)) {
      for (const r of live(s.fake.org, object)) {
        for (const f of fields) if (typeof r[f] === 'string' && r[f]) sourceValues.add((r[f] as string).toLowerCase());
      }
    }
    expect(sourceValues.has('person1@hierarchy.example')).toBe(true);
    const leaks: string[] = [];
    let scanned = 0;
    for (const object of sandbox.objects.values()) {
      for (const r of object.records.values()) {
        scanned++;
        for (const [field, v] of Object.entries(r.values)) {
          if (typeof v !== 'string') continue;
          const value = v.toLowerCase();
          if (
            sourceValues.has(value) ||
            (value.includes('@') && [...sourceValues].some((x) => x.includes('@') && value.includes(x)))
          ) {
            leaks.push(`${object.name}.${field} = ${v}`);
          }
        }
      }
    }
    expect(scanned).toBeGreaterThanOrEqual(13);
    expect(leaks).toEqual([]);

    // The same email anonymized the same way in Contact and Lead (case aside), at the reserved domain.
    const [lead] = live(sandbox, 'Lead');
    const emails = contacts.map((c) => c.Email);
    expect(emails).toContain(lead?.Email);
    expect(new Set(emails).size).toBe(2);
    expect(lead?.Email).toMatch(/^[a-z0-9.]+@example\.invalid$/);
    expect(lead?.Phone).toMatch(/^\+\d \(\d{3}\) \d{3}-\d{4}$/);
  });

  it('replicates the Full Organization: every record of every data object, lookups remapped, without anonymization', async () => {
    const full = s.fake.addOrg('Acme Full Sandbox');
    prepareOrg(full);
    const fullTaskId = await connectedTask(full, 'Full sandbox', 'sandbox');
    const users = live(full, 'User').length;
    const job = await replicate(fullTaskId, { scope: 'full' }, 0);
    expect(job.error).toBeNull();
    const objects = ['Account', 'Contact', 'Opportunity', 'OpportunityLineItem', 'Case', 'Invoice__c', 'Task', 'Lead'];
    for (const object of objects) {
      expect({ object, count: live(full, object).length }).toEqual({ object, count: live(s.fake.org, object).length });
    }
    // Users are the org's own, not data: none copied.
    expect(live(full, 'User')).toHaveLength(users);
    const byName = new Map(live(full, 'Account').map((a) => [a.Name, a.Id]));
    const source = live(s.fake.org, 'Account');
    for (const c of live(full, 'Contact')) {
      const sourceContact = live(s.fake.org, 'Contact').find((x) => x.Email === c.Email);
      const sourceAccount = source.find((a) => a.Id === sourceContact?.AccountId);
      expect(c.AccountId).toBe(byName.get(sourceAccount?.Name));
    }
    expect(live(full, 'Contact').map((c) => c.Email)).toContain('person1@hierarchy.example');
  });

  it('refuses Production as the target with a clear message and writes nothing there', async () => {
    const before = live(production, 'Account').length;
    const job = await replicate(productionTaskId, { scope: 'full', anonymize: true }, 0);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(
      /Replicate writes only to a Sandbox org: “Acme Other Production” is connected as Production/,
    );
    expect(live(production, 'Account')).toHaveLength(before);
  });

  it('refuses a filter outside the safe subset before a job starts, naming the field', async () => {
    await expect(
      replicate(sandboxTaskId, { scope: 'parents', parents: [{ object: 'Account', where: 'Name = x; DELETE' }] }),
    ).rejects.toMatchObject({
      fields: { 'options.replicate.parents.0.where': expect.stringMatching(/not understood/) },
    });
    await expect(replicate(sandboxTaskId, { scope: 'parents', parents: [] }, 8)).rejects.toMatchObject({
      fields: {
        'options.hierarchyDepth': 'A replicate takes children up to 7 levels down.',
        'options.replicate.parents': 'Choose at least one parent object.',
      },
    });
  });
});

/** Every component of an org's metadata: type/fullName → body. */
function components(target: Org): Map<string, string> {
  const out = new Map<string, string>();
  for (const [type, byName] of s.fake.metadata(target).components) {
    for (const [name, c] of byName) out.set(`${type}/${name}`, c.body);
  }
  return out;
}

describe('Salesforce metadata replicate to a Sandbox (seed 6.3.2)', () => {
  it('deploys every component of the backup round to the Sandbox (Full Organization)', async () => {
    const target = s.fake.addOrg('Acme Metadata Sandbox');
    prepareOrg(target);
    const targetTaskId = await connectedTask(target, 'Metadata sandbox', 'sandbox');
    expect(components(target).size).toBe(0);
    const job = await replicate(targetTaskId, { what: 'metadata' }, 0);
    expect([job.state, job.error]).toEqual(['succeeded', null]);
    const source = components(s.fake.org);
    expect(source.size).toBeGreaterThan(5);
    expect(components(target)).toEqual(source);
    // The source org is untouched.
    expect(components(s.fake.org)).toEqual(source);
  });

  it('deploys only the types named (Granular Selection)', async () => {
    const target = s.fake.addOrg('Acme Granular Sandbox');
    prepareOrg(target);
    const targetTaskId = await connectedTask(target, 'Granular sandbox', 'sandbox');
    const job = await replicate(targetTaskId, { what: 'metadata', metadataTypes: ['ApexClass', 'Flow'] }, 0);
    expect([job.state, job.error]).toEqual(['succeeded', null]);
    const expected = [...components(s.fake.org)].filter(([k]) => k.startsWith('ApexClass/') || k.startsWith('Flow/'));
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect([...components(target)].sort()).toEqual(expected.sort());
  });

  it('refuses Production as the target with the clear message and deploys nothing there', async () => {
    const job = await replicate(productionTaskId, { what: 'metadata' }, 0);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(
      /Replicate writes only to a Sandbox org: “Acme Other Production” is connected as Production/,
    );
    expect(components(production).size).toBe(0);
  });

  it('names a type the backup does not hold, and deploys nothing', async () => {
    const target = s.fake.addOrg('Acme Missing Sandbox');
    prepareOrg(target);
    const targetTaskId = await connectedTask(target, 'Missing sandbox', 'sandbox');
    const job = await replicate(targetTaskId, { what: 'metadata', metadataTypes: ['ApexClass', 'Workflow'] }, 0);
    expect(job.state).toBe('failed');
    expect(job.error).toContain('The backup holds no Workflow at this point in time (metadata:Workflow)');
    expect(components(target).size).toBe(0);
  });
});

describe('the Replicate form on the task page', () => {
  let cookie: string;
  const page = () => `/tasks/${taskId}/replicate`;
  const post = (fields: Record<string, string>) =>
    s.h.app.app.request(page(), {
      method: 'POST',
      headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  beforeAll(async () => {
    await completeSetupVia(s.h.app.app);
    await makeUser(s.h.em(), org, 'replicator@acme.example');
    cookie = await signIn(s.h.app.app, 'replicator@acme.example', TEST_PASSWORD);
  });

  it('is linked from the task page and offers the backup times, the other tasks and the plugin’s generated fields', async () => {
    const task = await s.h.app.app.request(`/tasks/${taskId}`, { headers: { cookie } });
    expect(await task.text()).toContain(`href="/tasks/${taskId}/replicate"`);
    const res = await s.h.app.app.request(page(), { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<select id="snapshot" name="snapshot"');
    expect(html).toContain(`<option value="${sandboxTaskId}">Sandbox</option>`);
    expect(html).toContain('<option value="parents" selected>Multiple Parent Objects</option>');
    expect(html).toContain('<input type="checkbox" id="anonymize" name="anonymize"');
    expect(html).toContain(`href="/tasks/${taskId}/replicate/template.csv"`);
  });

  it('downloads the anonymization template as CSV', async () => {
    const res = await s.h.app.app.request(`${page()}/template.csv`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="anonymization-template.csv"');
    const csv = (await res.text()).replace(/^\uFEFF/, '');
    expect(csv.split('\r\n')[0]).toBe('Object,Field,Action,Fake value type,Example');
    expect(csv).toMatch(/\*,Email,fake,email,maria\.garcia@acme\.com → [a-z.0-9]+@example\.invalid/);
  });

  it('refuses Production and a filter outside the subset on the form, with field messages, and starts nothing', async () => {
    const jobs = await s.h.em().count(Job, {});
    const res = await post({
      targetTask: productionTaskId,
      scope: 'parents',
      parents: "Account WHERE Name = 'x' OR DELETE",
      hierarchyDepth: '9',
    });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain(
      'Replicate writes only to a Sandbox org: “Acme Other Production” is connected as Production.',
    );
    expect(html).toContain('Account: After DELETE an operator is expected.');
    expect(html).toContain('The hierarchy depth is a whole number from 0 to 7.');
    expect(await s.h.em().count(Job, {})).toBe(jobs);
  });

  it('refuses a task connected to the backup’s own org, which the copy would overwrite', async () => {
    const sameOrg = await connectedTask(s.fake.org, 'Same org as sandbox', 'sandbox');
    const res = await post({ targetTask: sameOrg, scope: 'parents', parents: 'Lead' });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain(
      'Same org as sandbox is connected to the same account as this task: choose a task of another one (a Sandbox).',
    );
  });

  it('starts the replicate job into the Sandbox', async () => {
    const before = live(sandbox, 'Lead').length;
    const snapshot = (await entity(s, taskId, 'Account')).lastSnapshotId as string;
    const res = await post({
      snapshot,
      targetTask: sandboxTaskId,
      scope: 'parents',
      parents: 'Lead LIMIT 1',
      hierarchyDepth: '0',
      anonymize: 'on',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/jobs');
    await s.h.runner.runUntilIdle();
    const job = await s.h.em().findOneOrFail(Job, { label: 'Replicate to Sandbox' });
    expect(job.error).toBeNull();
    expect(job.result?.counts).toEqual({ created: 1, updated: 0, skipped: 0, failed: 0 });
    const leads = live(sandbox, 'Lead');
    expect(leads).toHaveLength(before + 1);
    // The same source email became the same fake in this run too: the task's own sealed key.
    expect(leads.at(-1)?.Email).toBe(leads[0]?.Email);
    const target = await s.h.em().findOneOrFail(BackupTask, { id: sandboxTaskId });
    const settings = openConnectionSettings(s.h.deps.credentials, target) as { anonymizationKey?: string };
    expect(settings.anonymizationKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(target.connection).not.toContain(settings.anonymizationKey);
  });

  it('starts a metadata replicate of the named types into a Sandbox', async () => {
    const target = s.fake.addOrg('Acme Form Metadata Sandbox');
    prepareOrg(target);
    const targetTaskId = await connectedTask(target, 'Form metadata sandbox', 'sandbox');
    const html = await (await s.h.app.app.request(page(), { headers: { cookie } })).text();
    expect(html).toContain('Metadata (Apex code, flows, layouts, profiles, …)');
    const refused = await post({ targetTask: targetTaskId, what: 'metadata', metadataTypes: 'ApexClass; not a type!' });
    expect(refused.status).toBe(422);
    expect(await refused.text()).toContain('“not a type!” is not a metadata type name (e.g. ApexClass).');
    const snapshot = (await entity(s, taskId, 'Account')).lastSnapshotId as string;
    const res = await post({ snapshot, targetTask: targetTaskId, what: 'metadata', metadataTypes: 'ApexClass' });
    expect(res.status).toBe(303);
    await s.h.runner.runUntilIdle();
    const job = await s.h.em().findOneOrFail(Job, { label: 'Replicate to Form metadata sandbox' });
    expect([job.state, job.error]).toEqual(['succeeded', null]);
    expect([...components(target).keys()].sort()).toEqual(
      [...components(s.fake.org).keys()].filter((k) => k.startsWith('ApexClass/')).sort(),
    );
  });
});
