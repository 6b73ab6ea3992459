// The Salesforce connector's choices before the sign-in: Production, Sandbox or a My Domain URL
// (checked: https, *.my.salesforce.com, or the appliance's stand-in), the login host each one
// signs in at, and the choice stored with the settings the code is traded for.
import { describe, expect, it } from 'vitest';
import { createSalesforcePlugin } from '../../../plugins/services/salesforce/index.ts';

const app = { clientId: 'key', clientSecret: 'secret' };
const input = { redirectUri: 'https://holdfast.example/cb', state: 's', codeChallenge: 'c' };

function problems(plugin: ReturnType<typeof createSalesforcePlugin>, value: Record<string, unknown>) {
  const parsed = plugin.oauth?.choices?.safeParse(value);
  return parsed?.success ? parsed.data : parsed?.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('Salesforce connect choices', () => {
  const plugin = createSalesforcePlugin(app);

  it('signs in at the login host of the chosen environment', () => {
    const host = (choices: Record<string, unknown>) =>
      new URL(plugin.oauth?.authorizationUrl({ ...input, choices }) ?? '').origin;
    expect(host({})).toBe('https://login.salesforce.com');
    expect(host({ environment: 'sandbox' })).toBe('https://test.salesforce.com');
    expect(host({ environment: 'mydomain', myDomainUrl: 'https://acme.my.salesforce.com' })).toBe(
      'https://acme.my.salesforce.com',
    );
  });

  it('accepts only https My Domain URLs of Salesforce, without a path', () => {
    expect(
      problems(plugin, { environment: 'mydomain', myDomainUrl: 'https://acme--uat.sandbox.my.salesforce.com/' }),
    ).toEqual({ environment: 'mydomain', myDomainUrl: 'https://acme--uat.sandbox.my.salesforce.com' });
    expect(problems(plugin, { environment: 'mydomain' })).toEqual(['myDomainUrl: Enter the org’s My Domain URL.']);
    expect(problems(plugin, { environment: 'mydomain', myDomainUrl: 'http://acme.my.salesforce.com' })).toEqual([
      'myDomainUrl: The My Domain URL starts with https://.',
    ]);
    expect(problems(plugin, { environment: 'mydomain', myDomainUrl: 'https://acme.evil.example' })).toEqual([
      expect.stringContaining('myDomainUrl: A My Domain URL ends in .my.salesforce.com'),
    ]);
    expect(problems(plugin, { environment: 'mydomain', myDomainUrl: 'https://acme.my.salesforce.com/x' })).toEqual([
      expect.stringContaining('without a path'),
    ]);
    // A My Domain URL left over from another choice is not kept.
    expect(problems(plugin, { environment: 'sandbox', myDomainUrl: 'https://acme.my.salesforce.com' })).toEqual({
      environment: 'sandbox',
    });
  });

  it('accepts the appliance’s stand-in as a My Domain URL', () => {
    const standIn = createSalesforcePlugin({ ...app, loginUrl: 'http://127.0.0.1:4000' });
    expect(problems(standIn, { environment: 'mydomain', myDomainUrl: 'http://127.0.0.1:4000' })).toEqual({
      environment: 'mydomain',
      myDomainUrl: 'http://127.0.0.1:4000',
    });
    expect(problems(plugin, { environment: 'mydomain', myDomainUrl: 'http://127.0.0.1:4000' })).toEqual([
      'myDomainUrl: The My Domain URL starts with https://.',
    ]);
  });

  it('checks a My Domain URL given with the settings of the JWT bearer flow the same way', () => {
    const parsed = plugin.settings.safeParse({
      environment: 'mydomain',
      myDomainUrl: 'https://acme.example.com',
      orgId: '00D000000000001AAA',
      username: 'u@example.com',
      privateKey: 'pem',
    });
    expect(parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'))).toEqual(['myDomainUrl']);
  });
});
