// A small demo org: Accounts with Contacts, Opportunities and Cases, a custom object (Project__c)
// with a master-detail child (Milestone__c), a few files, and one object that cannot be queried
// (as Salesforce has: change-event and some system objects), for the demo and the tests.
import { METADATA_NS, type MetadataStore } from './metadata.ts';
import type { Org } from './model.ts';

/** Defines the demo objects (without records). */
export function defineDemoObjects(org: Org): void {
  org.defineObject(
    'Account',
    [
      { name: 'Industry', type: 'picklist' },
      { name: 'AnnualRevenue', type: 'currency' },
      { name: 'Phone', type: 'phone' },
      { name: 'Website', type: 'url' },
      { name: 'Description', type: 'textarea' },
    ],
    { keyPrefix: '001' },
  );
  org.defineObject(
    'Contact',
    [
      // The full name: Salesforce composes it, so unlike an Account's Name it is not required.
      { name: 'Name', type: 'string' },
      { name: 'FirstName', type: 'string' },
      { name: 'LastName', type: 'string' },
      { name: 'Email', type: 'email' },
      { name: 'AccountId', type: 'reference', referenceTo: ['Account'], relationshipName: 'Account' },
    ],
    { keyPrefix: '003' },
  );
  org.defineObject(
    'Opportunity',
    [
      { name: 'StageName', type: 'picklist' },
      { name: 'Amount', type: 'currency' },
      { name: 'CloseDate', type: 'date' },
      { name: 'AccountId', type: 'reference', referenceTo: ['Account'], relationshipName: 'Account' },
    ],
    { keyPrefix: '006' },
  );
  org.defineObject(
    'Case',
    [
      { name: 'Subject', type: 'string' },
      { name: 'Status', type: 'picklist' },
      { name: 'Priority', type: 'picklist' },
      { name: 'AccountId', type: 'reference', referenceTo: ['Account'], relationshipName: 'Account' },
    ],
    { keyPrefix: '500', noName: true },
  );
  org.defineObject(
    'Project__c',
    [
      { name: 'Budget__c', type: 'currency', custom: true },
      { name: 'Account__c', type: 'reference', referenceTo: ['Account'], relationshipName: 'Account__r', custom: true },
    ],
    { label: 'Project' },
  );
  org.defineObject(
    'Milestone__c',
    [
      { name: 'Due__c', type: 'date', custom: true },
      { name: 'Done__c', type: 'boolean', custom: true },
      {
        name: 'Project__c',
        type: 'reference',
        referenceTo: ['Project__c'],
        relationshipName: 'Project__r',
        cascadeDelete: true,
        custom: true,
      },
    ],
    { label: 'Milestone' },
  );
  org.defineObject('AccountChangeEvent', [], { queryable: false, label: 'Account Change Event' });
  // Queryable, but only with a filter on one id (Salesforce: "Implementation restriction"). A file
  // shared with a record; deleting the file or the record deletes the link (as Salesforce does).
  org.defineObject(
    'ContentDocumentLink',
    [
      {
        name: 'ContentDocumentId',
        type: 'reference',
        referenceTo: ['ContentDocument'],
        relationshipName: 'ContentDocument',
        required: true,
        cascadeDelete: true,
      },
      {
        name: 'LinkedEntityId',
        type: 'reference',
        referenceTo: ['Account', 'Contact', 'Opportunity', 'Case', 'User'],
        relationshipName: 'LinkedEntity',
        required: true,
        cascadeDelete: true,
      },
      { name: 'ShareType', type: 'picklist' },
      { name: 'Visibility', type: 'picklist' },
    ],
    { keyPrefix: '06A', noName: true, filterRequired: true },
  );
}

export interface DemoOrgOptions {
  accounts?: number;
  contactsPerAccount?: number;
}

/** Fills the org: accounts, their contacts, opportunities and cases, projects with milestones, files. */
export function seedDemoOrg(org: Org, options: DemoOrgOptions = {}): void {
  defineDemoObjects(org);
  const industries = ['Technology', 'Manufacturing', 'Retail', 'Energy', 'Finance'];
  for (let a = 1; a <= (options.accounts ?? 5); a++) {
    const accountId = org.insert('Account', {
      Name: `Account ${a}`,
      Industry: industries[a % industries.length] as string,
      AnnualRevenue: a * 100_000,
      Phone: `+1 555 010 ${String(a).padStart(4, '0')}`,
    });
    for (let c = 1; c <= (options.contactsPerAccount ?? 3); c++) {
      org.insert('Contact', {
        FirstName: `Contact${c}`,
        LastName: `Of Account ${a}`,
        Name: `Contact${c} Of Account ${a}`,
        Email: `contact${c}.account${a}@example.com`,
        AccountId: accountId,
      });
    }
    org.insert('Opportunity', {
      Name: `Deal ${a}`,
      StageName: 'Prospecting',
      Amount: a * 5000,
      CloseDate: '2027-03-31',
      AccountId: accountId,
    });
    org.insert('Case', { Subject: `Question ${a}`, Status: 'New', Priority: 'Medium', AccountId: accountId });
    const project = org.insert('Project__c', { Name: `Rollout ${a}`, Budget__c: a * 20_000, Account__c: accountId });
    org.insert('Milestone__c', { Name: `Kick-off ${a}`, Due__c: '2027-01-15', Done__c: false, Project__c: project });
    org.insert('Milestone__c', { Name: `Go-live ${a}`, Due__c: '2027-04-01', Done__c: false, Project__c: project });
  }
  org.addFile('Price list', 'Widget,Price\nSmall,10\nLarge,25\n', 'csv');
  org.addFile('Contract', `Master services agreement\n${'clause\n'.repeat(200)}`, 'txt');
}

/** Metadata of the demo org: Apex classes and a trigger, a flow, a layout, profiles, a permission set. */
export function seedDemoMetadata(store: MetadataStore): void {
  store.put(
    'ApexClass',
    'AccountService',
    'public with sharing class AccountService {\n  public static void touch() {}\n}\n',
  );
  store.put(
    'ApexClass',
    'ProjectRollup',
    'public class ProjectRollup {\n  public static Decimal total() { return 0; }\n}\n',
  );
  store.put('ApexTrigger', 'MilestoneTrigger', 'trigger MilestoneTrigger on Milestone__c (after insert) {}\n');
  store.put(
    'Flow',
    'Case_Escalation',
    `<?xml version="1.0" encoding="UTF-8"?>\n<Flow xmlns="${METADATA_NS}"><label>Case Escalation</label><processType>AutoLaunchedFlow</processType></Flow>\n`,
  );
  store.put(
    'CustomObject',
    'Project__c',
    `<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="${METADATA_NS}"><label>Project</label></CustomObject>\n`,
  );
  store.put(
    'Layout',
    'Account-Account Layout',
    `<?xml version="1.0" encoding="UTF-8"?>\n<Layout xmlns="${METADATA_NS}"></Layout>\n`,
  );
  store.put(
    'Profile',
    'Admin',
    `<?xml version="1.0" encoding="UTF-8"?>\n<Profile xmlns="${METADATA_NS}"><custom>false</custom></Profile>\n`,
  );
  store.put(
    'Profile',
    'Standard',
    `<?xml version="1.0" encoding="UTF-8"?>\n<Profile xmlns="${METADATA_NS}"><custom>false</custom></Profile>\n`,
  );
  store.put(
    'PermissionSet',
    'Backup_Reader',
    `<?xml version="1.0" encoding="UTF-8"?>\n<PermissionSet xmlns="${METADATA_NS}"><label>Backup Reader</label></PermissionSet>\n`,
  );
}
