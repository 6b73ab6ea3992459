// Leads at the stand-in (a replicate's anonymization must treat a person's email the same way in
// Contact and Lead): the object and one lead per person given.
import type { Org } from './model.ts';

export function defineLeadObject(org: Org): void {
  org.defineObject(
    'Lead',
    [
      // Composed by Salesforce from the first and last name, like a Contact's.
      { name: 'Name', type: 'string' },
      { name: 'FirstName', type: 'string' },
      { name: 'LastName', type: 'string' },
      { name: 'Company', type: 'string' },
      { name: 'Email', type: 'email' },
      { name: 'Phone', type: 'phone' },
      { name: 'Description', type: 'textarea' },
    ],
    { keyPrefix: '00Q' },
  );
}

export function seedLead(
  org: Org,
  person: { FirstName: string; LastName: string; Email: string; Company: string; Phone?: string },
): string {
  return org.insert('Lead', {
    Name: `${person.FirstName} ${person.LastName}`,
    Description: 'Met at the fair',
    ...person,
  });
}
