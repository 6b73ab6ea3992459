// The Replicate form's typed fields (plugins/services/salesforce/replicate-form.ts) turned into
// the restore options' `replicate` part: parents with filters and limits (a semicolon inside a
// quoted value stays in the filter), rules, Full Organization, metadata types, and the field messages.
import { describe, expect, it } from 'vitest';
import { replicateForm } from '../../../plugins/services/salesforce/replicate-form.ts';

describe('the Replicate form', () => {
  it('turns parents and rules into the restore options', () => {
    const out = replicateForm.parse({
      scope: 'parents',
      parents: "Account WHERE Name = 'a;b' AND Industry != 'Energy' LIMIT 3; Lead",
      hierarchyDepth: 7,
      anonymize: true,
      rules: 'Contact.Title = random; *.Phone = blank; Lead.Company = fixed Acme Inc',
    });
    expect(out).toEqual({
      hierarchyDepth: 7,
      replicate: {
        what: 'data',
        metadataTypes: [],
        scope: 'parents',
        parents: [
          { object: 'Account', where: "Name = 'a;b' AND Industry != 'Energy'", limit: 3 },
          { object: 'Lead', where: '' },
        ],
        anonymize: true,
        rules: [
          { object: 'Contact', field: 'Title', action: 'random' },
          { object: '*', field: 'Phone', action: 'blank' },
          { object: 'Lead', field: 'Company', action: 'fixed', value: 'Acme Inc' },
        ],
      },
    });
  });

  it('takes no parents and no depth for the Full Organization', () => {
    expect(replicateForm.parse({ scope: 'full', parents: 'Account', hierarchyDepth: 3 })).toEqual({
      hierarchyDepth: 0,
      replicate: { what: 'data', metadataTypes: [], scope: 'full', parents: [], anonymize: false, rules: [] },
    });
  });

  it('takes metadata types for a metadata replicate, none meaning every type (seed 6.3.2)', () => {
    expect(
      replicateForm.parse({ what: 'metadata', metadataTypes: 'ApexClass; Flow;ApexClass', anonymize: true }),
    ).toEqual({
      hierarchyDepth: 0,
      replicate: {
        what: 'metadata',
        metadataTypes: ['ApexClass', 'Flow'],
        scope: 'full',
        parents: [],
        anonymize: false,
        rules: [],
      },
    });
    expect(replicateForm.parse({ what: 'metadata' }).replicate.metadataTypes).toEqual([]);
    const refused = replicateForm.safeParse({ what: 'metadata', metadataTypes: 'Apex Class' });
    expect(refused.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['metadataTypes', '“Apex Class” is not a metadata type name (e.g. ApexClass).'],
    ]);
  });

  it('names the field of each problem', () => {
    const result = replicateForm.safeParse({
      scope: 'parents',
      parents: 'Account WHERE Name ~ 1; 3Bad',
      rules: 'Contact.Email = scramble',
      hierarchyDepth: 8,
    });
    expect(result.success).toBe(false);
    const issues = result.error?.issues.map((i) => [i.path.join('.'), i.message]);
    expect(issues).toEqual([
      ['parents', 'Account: The filter is not understood at “~ 1”.'],
      ['parents', '“3Bad” is not Object [WHERE filter] [LIMIT n].'],
      ['hierarchyDepth', 'The hierarchy depth is a whole number from 0 to 7.'],
      ['rules', '“Contact.Email = scramble” is not Object.Field = keep, fake, random, blank or fixed <value>.'],
    ]);
  });
});
