// Objects a hierarchy restore crosses, added to the demo org's: Account's self-lookup (ParentId),
// opportunity line items (master-detail of Opportunity), a custom master-detail child of Account
// (Invoice__c, with a formula and a read-only field), and Task with its polymorphic lookups
// (WhatId: Account, Opportunity, Case; WhoId: Contact). Plus one account hierarchy to restore.
import type { Org } from './model.ts';

export function defineHierarchyObjects(org: Org): void {
  org.addField('Account', {
    name: 'ParentId',
    type: 'reference',
    referenceTo: ['Account'],
    relationshipName: 'Parent',
  });
  org.defineObject(
    'OpportunityLineItem',
    [
      {
        name: 'OpportunityId',
        type: 'reference',
        referenceTo: ['Opportunity'],
        relationshipName: 'Opportunity',
        cascadeDelete: true,
      },
      { name: 'Quantity', type: 'double' },
      { name: 'UnitPrice', type: 'currency' },
      { name: 'TotalPrice', type: 'currency', formula: true },
    ],
    { keyPrefix: '00k', noName: true },
  );
  org.defineObject(
    'Invoice__c',
    [
      {
        name: 'Account__c',
        type: 'reference',
        referenceTo: ['Account'],
        relationshipName: 'Account__r',
        cascadeDelete: true,
        custom: true,
      },
      { name: 'Amount__c', type: 'currency', custom: true },
      { name: 'Amount_With_Tax__c', type: 'currency', formula: true, custom: true },
      { name: 'Invoice_Number__c', type: 'string', readOnly: true, custom: true },
    ],
    { label: 'Invoice' },
  );
  org.defineObject(
    'Task',
    [
      { name: 'Subject', type: 'string' },
      {
        name: 'WhatId',
        type: 'reference',
        referenceTo: ['Account', 'Opportunity', 'Case'],
        relationshipName: 'What',
      },
      { name: 'WhoId', type: 'reference', referenceTo: ['Contact'], relationshipName: 'Who' },
    ],
    { keyPrefix: '00T', noName: true },
  );
}

export interface AccountHierarchy {
  parent: string;
  account: string;
  contacts: string[];
  opportunities: string[];
  lineItems: string[];
  caseId: string;
  invoice: string;
  task: string;
}

/** "Hierarchy Co" under "Parent Holdings", with 2 contacts, 3 opportunities with a line item each, a case, an invoice, a task. */
export function seedAccountHierarchy(org: Org, name = 'Hierarchy Co'): AccountHierarchy {
  const parent = org.insert('Account', { Name: `${name} Holdings`, Industry: 'Finance' });
  const account = org.insert('Account', { Name: name, Industry: 'Retail', ParentId: parent, AnnualRevenue: 900_000 });
  const contacts = [1, 2].map((n) =>
    org.insert('Contact', {
      Name: `Person ${n} ${name}`,
      FirstName: `Person ${n}`,
      LastName: name,
      Email: `person${n}@hierarchy.example`,
      AccountId: account,
    }),
  );
  const opportunities = [1, 2, 3].map((n) =>
    org.insert('Opportunity', {
      Name: `${name} deal ${n}`,
      StageName: 'Prospecting',
      Amount: n * 1000,
      CloseDate: '2027-06-30',
      AccountId: account,
    }),
  );
  const lineItems = opportunities.map((o, n) =>
    org.insert('OpportunityLineItem', { OpportunityId: o, Quantity: n + 1, UnitPrice: 250, TotalPrice: (n + 1) * 250 }),
  );
  const caseId = org.insert('Case', { Subject: `${name} question`, Status: 'New', AccountId: account });
  const invoice = org.insert('Invoice__c', {
    Name: `INV ${name}`,
    Account__c: account,
    Amount__c: 1200,
    Amount_With_Tax__c: 1440,
    Invoice_Number__c: 'INV-0001',
  });
  const task = org.insert('Task', {
    Subject: `Call about ${name} deal 1`,
    WhatId: opportunities[0] as string,
    WhoId: contacts[0] as string,
  });
  return { parent, account, contacts, opportunities, lineItems, caseId, invoice, task };
}

/** Deletes the hierarchy as an admin deleting the account would (children first, then the accounts). */
export function deleteAccountHierarchy(org: Org, h: AccountHierarchy): void {
  org.delete('Task', h.task);
  org.delete('Case', h.caseId);
  for (const o of h.opportunities) org.delete('Opportunity', o);
  for (const c of h.contacts) org.delete('Contact', c);
  org.delete('Account', h.account);
  org.delete('Account', h.parent);
}
