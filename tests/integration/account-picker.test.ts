// Account pickers are a type-ahead (issue 20): System Activity and Security Audit render no list
// of accounts, GET /accounts/search answers a few matches by name or email from the reach of the
// caller only, and an account past what a full list used to hold (500) can be found and filtered by.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../core/identity/entities.ts';
import { Organization } from '../../core/identity/entities.ts';
import { ACCOUNT_SEARCH_LIMIT } from '../../core/tenancy/account-search.ts';
import { seedPortalTree } from '../fixtures/portal-tree.ts';
import { completeSetupVia, createTestApp, signIn, type TestApp } from '../helpers/kernel.ts';
import { makeUser, rootOf, TEST_PASSWORD } from '../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let rootCookie: string;
let partnerCookie: string;

const em = () => t.kernel.orm.em.fork();

function get(path: string, cookie?: string, headers: Record<string, string> = {}) {
  return t.app.request(path, { headers: { ...(cookie ? { cookie } : {}), ...headers } });
}

/** The names the options fragment offers, in order ("All accounts" first). */
function optionNames(html: string): string[] {
  return [...html.matchAll(/data-account-name="([^"]*)"/g)].map((m) => m[1] as string);
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const e = em();
  root = await rootOf(e);
  // 600 customers: more than the 500 the old select listed.
  await seedPortalTree(e, root, { distributors: 1, partners: 2, customers: 600, tasks: 0 });
  const partner = await e.findOneOrFail(Organization, { name: 'Partner 0' });
  await makeUser(e, partner, 'admin@partner-0.example');
  rootCookie = await signIn(t.app);
  partnerCookie = await signIn(t.app, 'admin@partner-0.example', TEST_PASSWORD);
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('account pickers', () => {
  it('render no list of accounts on System Activity and Security Audit, only the type-ahead', async () => {
    for (const path of ['/activity', '/activity/security-audit']) {
      const html = await (await get(path, rootCookie)).text();
      expect(html).toContain('hx-get="/accounts/search"');
      expect(html).toContain('<input type="hidden" id="account" name="account" value="">');
      expect(html).not.toContain('Customer 599');
      expect(html).not.toContain('<select id="account"');
    }
  });

  it('find an account past the 500th by name or email and filter by it', async () => {
    const target = await em().findOneOrFail(Organization, { name: 'Customer 599' });
    expect(optionNames(await (await get('/accounts/search?account_search=customer%20599', rootCookie)).text())).toEqual(
      ['', 'Customer 599'],
    );
    expect(
      optionNames(await (await get('/accounts/search?account_search=it%40customer-599.example', rootCookie)).text()),
    ).toEqual(['', 'Customer 599']);
    const res = await get(`/activity?account=${target.id}`, rootCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<input type="hidden" id="account" name="account" value="${target.id}">`);
    expect(html).toContain('value="Customer 599"');
  });

  it('answer at most a few matches and say that more match', async () => {
    const html = await (await get('/accounts/search?account_search=customer', rootCookie)).text();
    expect(optionNames(html)).toHaveLength(ACCOUNT_SEARCH_LIMIT + 1);
    expect(html).toContain('More accounts match');
  });

  it('offer only what the caller may reach', async () => {
    // Partners alternate: Customer 1 belongs to Partner 1, Customer 2 to Partner 0.
    const other = await (await get('/accounts/search?account_search=customer%201', partnerCookie)).text();
    expect(optionNames(other)).not.toContain('Customer 1');
    expect(optionNames(other).every((n) => n === '' || Number(n.split(' ')[1]) % 2 === 0)).toBe(true);
    const own = await (await get('/accounts/search?account_search=customer%202', partnerCookie)).text();
    expect(optionNames(own)).toContain('Customer 2');
    const foreign = await em().findOneOrFail(Organization, { name: 'Customer 1' });
    expect((await get(`/activity?account=${foreign.id}`, partnerCookie)).status).toBe(404);
    expect((await get(`/activity/security-audit?account=${foreign.id}`, partnerCookie)).status).toBe(404);
  });

  it('leave a user’s accessible accounts to a type-ahead of check-boxes below the organization', async () => {
    const html = await (await get('/settings/users/new', rootCookie)).text();
    expect(html).toContain('hx-get="/accounts/search?mode=grant"');
    expect(html).not.toContain('Customer 599');
    const found = await (await get('/accounts/search?mode=grant&account_search=customer%20599', rootCookie)).text();
    const target = await em().findOneOrFail(Organization, { name: 'Customer 599' });
    expect(found).toContain(`<input type="checkbox" name="accounts" value="${target.id}">`);
    // The organization itself is never one of its accounts.
    const self = await (
      await get(`/accounts/search?mode=grant&account_search=${encodeURIComponent(root.name)}`, rootCookie)
    ).text();
    expect(self).not.toContain(`value="${root.id}"`);
  });

  it('needs a signed-in user', async () => {
    const res = await get('/accounts/search?account_search=customer');
    expect([302, 303]).toContain(res.status);
    expect(await res.text()).not.toContain('Customer');
  });
});
