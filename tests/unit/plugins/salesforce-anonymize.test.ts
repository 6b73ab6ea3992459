// The replicate's anonymization (plugins/services/salesforce/anonymize.ts): the default template,
// per-field rules, consistency under one key (and difference under another), formats and lengths
// kept, emails valid at the reserved domain, and the template as CSV.
import { describe, expect, it } from 'vitest';
import { ANONYMOUS_EMAIL_DOMAIN, Anonymizer, templateCsv } from '../../../plugins/services/salesforce/anonymize.ts';

const KEY = Buffer.alloc(32, 1);
const contactFields = [
  { name: 'Id', type: 'id' },
  { name: 'AccountId', type: 'reference' },
  { name: 'FirstName', type: 'string', length: 40 },
  { name: 'LastName', type: 'string', length: 80 },
  { name: 'Email', type: 'email', length: 80 },
  { name: 'Phone', type: 'phone', length: 40 },
  { name: 'MailingStreet', type: 'textarea', length: 255 },
  { name: 'MailingPostalCode', type: 'string', length: 20 },
  { name: 'Description', type: 'textarea', length: 32000 },
  { name: 'Title', type: 'string', length: 128 },
  { name: 'LeadSource', type: 'picklist' },
];
const contact = {
  Id: '003000000000001AAA',
  AccountId: '001000000000001AAA',
  FirstName: 'Maria',
  LastName: 'Garcia',
  Email: 'Maria.Garcia@acme.com',
  Phone: '(415) 555-0134',
  MailingStreet: '1 Market St',
  MailingPostalCode: 'SW1A 1AA',
  Description: 'Called about the renewal.\nWants a discount.',
  Title: 'CFO',
  LeadSource: 'Web',
};

describe('anonymizing a record with the default template', () => {
  it('replaces names, email, phone, address and notes; keeps ids, lookups, picklists and other fields', () => {
    const out = new Anonymizer(KEY).record('Contact', contact, contactFields);
    for (const f of ['FirstName', 'LastName', 'Email', 'Phone', 'MailingStreet', 'MailingPostalCode', 'Description']) {
      expect(out[f], f).not.toBe(contact[f as keyof typeof contact]);
    }
    expect(out.Id).toBe(contact.Id);
    expect(out.AccountId).toBe(contact.AccountId);
    expect(out.LeadSource).toBe('Web');
    expect(out.Title).toBe('CFO');
  });

  it('keeps formats and lengths: a valid email at the reserved domain, the phone and postal code shapes, text length', () => {
    const out = new Anonymizer(KEY).record('Contact', contact, contactFields);
    expect(out.Email).toMatch(new RegExp(`^[a-z0-9.]+@${ANONYMOUS_EMAIL_DOMAIN.replace('.', '\\.')}$`));
    expect(out.Phone).toMatch(/^\(\d{3}\) \d{3}-\d{4}$/);
    expect(out.MailingPostalCode).toMatch(/^[A-Z]{2}\d[A-Z] \d[A-Z]{2}$/);
    expect(String(out.Description)).toHaveLength(contact.Description.length);
    expect(String(out.Description).split('\n')).toHaveLength(2);
    const short = new Anonymizer(KEY).record('Contact', contact, [{ name: 'Email', type: 'email', length: 12 }]);
    expect(String(short.Email)).toHaveLength(12);
  });

  it('is consistent: the same value becomes the same fake in every object and run with one key, another with another key', () => {
    const a = new Anonymizer(KEY);
    const lead = a.record('Lead', { Email: 'maria.garcia@ACME.com', LastName: 'Garcia' }, contactFields);
    const again = new Anonymizer(Buffer.from(KEY)).record('Contact', contact, contactFields);
    expect(lead.Email).toBe(again.Email);
    expect(lead.LastName).toBe(again.LastName);
    const other = new Anonymizer(Buffer.alloc(32, 2)).record('Contact', contact, contactFields);
    expect(other.Email).not.toBe(again.Email);
  });
});

describe('per-field rules', () => {
  it('keep, fixed value, blank and random override the template; a rule for one object leaves the others', () => {
    const a = new Anonymizer(KEY, [
      { object: 'Contact', field: 'Email', action: 'keep' },
      { object: 'Contact', field: 'LastName', action: 'fixed', value: 'Anonymous' },
      { object: '*', field: 'Phone', action: 'blank' },
      { object: 'Contact', field: 'Title', action: 'random' },
    ]);
    const out = a.record('Contact', contact, contactFields);
    expect(out.Email).toBe(contact.Email);
    expect(out.LastName).toBe('Anonymous');
    expect(out.Phone).toBeNull();
    expect(out.Title).toMatch(/^[a-z]{3}$/);
    expect(out.Title).not.toBe('CFO');
    const lead = a.record('Lead', { Email: contact.Email }, contactFields);
    expect(lead.Email).not.toBe(contact.Email);
  });

  it('never changes an id or a lookup, whatever a rule says', () => {
    const a = new Anonymizer(KEY, [{ object: 'Contact', field: 'AccountId', action: 'random' }]);
    expect(a.record('Contact', contact, contactFields).AccountId).toBe(contact.AccountId);
  });

  it('refuses a key shorter than 16 bytes', () => {
    expect(() => new Anonymizer('short')).toThrow(/at least 16 bytes/);
  });
});

describe('the template as CSV', () => {
  it('lists every template row with its action, kind and an example', () => {
    const lines = templateCsv().trim().split('\r\n');
    expect(lines[0]).toBe('Object,Field,Action,Fake value type,Example');
    expect(lines).toContainEqual(
      expect.stringMatching(/^\*,Email,fake,email,maria\.garcia@acme\.com → .+@example\.invalid$/),
    );
    expect(lines).toContainEqual(
      '*,Description,random,text,Called about renewal → ' +
        lines.find((l) => l.startsWith('*,Description'))?.split(' → ')[1],
    );
  });
});
