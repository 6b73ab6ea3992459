// Sign-in throttling through the real /login route: an attempt is counted before its password is
// checked (so a burst of concurrent guesses counts in full), an account is locked only from the
// address that guessed wrong, and guesses spread over many addresses slow the account rather
// than lock its owner out.
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { type IOrganization, LoginThrottle } from '../../../core/identity/entities.ts';
import { completeSetupVia, createTestApp, form, fromAddress, type TestApp } from '../../helpers/kernel.ts';
import { testClock } from '../../helpers/security.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let org: IOrganization;
let clock: ReturnType<typeof testClock>;
const em = (): EntityManager => t.kernel.orm.em.fork();

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  clock = testClock(t.kernel.deps);
  org = await makeOrganization(em(), await rootOf(em()), 'partner', 'Throttled Partner');
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const login = (email: string, password: string, address: string) =>
  t.app.request('/login', form({ email, password }), fromAddress(address));

describe('sign-in throttling', () => {
  it('counts 25 simultaneous attempts before checking any password: five are checked, the right one among the rest is refused', async () => {
    const user = await makeUser(em(), org, 'burst@throttle.example');
    const attempts = [
      ...Array.from({ length: 24 }, (_, i) => login(user.email, `wrong-${i}`, '198.51.100.10')),
      login(user.email, TEST_PASSWORD, '198.51.100.10'),
    ];
    const statuses = (await Promise.all(attempts)).map((r) => r.status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    expect(statuses.filter((s) => s !== 429)).toHaveLength(5);
    // Every password that was checked and failed is in the audit; the locked ones never were.
    const failures = await em().count(AuditEvent, { activity: 'Sign-in', status: 'failed', account: user.email });
    expect(failures).toBe(statuses.filter((s) => s === 401).length);
    if (!statuses.includes(303)) expect((await login(user.email, TEST_PASSWORD, '198.51.100.10')).status).toBe(429);
  });

  it('locks an account only from the address that guessed wrong', async () => {
    const user = await makeUser(em(), org, 'pair@throttle.example');
    for (let i = 0; i < 5; i++) expect((await login(user.email, `wrong-${i}`, '198.51.100.20')).status).toBe(401);
    const blocked = await login(user.email, TEST_PASSWORD, '198.51.100.20');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(14 * 60);
    expect(await blocked.text()).toContain('Too many failed sign-in attempts');
    expect((await login(user.email, TEST_PASSWORD, '203.0.113.20')).status).toBe(303);
  });

  it('slows guesses spread over many addresses to one per 10 seconds instead of locking the owner out', async () => {
    const user = await makeUser(em(), org, 'spread@throttle.example');
    for (let i = 0; i < 10; i++)
      expect((await login(user.email, `wrong-${i}`, `198.51.100.${100 + i}`)).status).toBe(401);
    const slowed = await login(user.email, TEST_PASSWORD, '203.0.113.30');
    expect(slowed.status).toBe(429);
    expect(Number(slowed.headers.get('retry-after'))).toBeLessThanOrEqual(10);
    expect(await slowed.text()).toContain('Try again in 10 seconds');
    clock.advance(10);
    expect((await login(user.email, TEST_PASSWORD, '203.0.113.30')).status).toBe(303);
    // The success clears the account's counter and its own address's; the guessing addresses stay counted.
    const left = await em().find(LoginThrottle, { key: { $like: '%spread@throttle.example%' } });
    expect(left.map((r) => r.key)).not.toContain('account:spread@throttle.example');
    expect(left.map((r) => r.key)).not.toContain('account-address:spread@throttle.example|203.0.113.30');
    expect(left).toHaveLength(10);
  });

  it('gives back only its own attempt on success: the address keeps the count of its guesses at other accounts', async () => {
    const mine = await makeUser(em(), org, 'mine@throttle.example');
    for (let i = 0; i < 3; i++)
      expect((await login(`nobody-${i}@throttle.example`, 'wrong', '198.51.100.40')).status).toBe(401);
    expect((await login(mine.email, TEST_PASSWORD, '198.51.100.40')).status).toBe(303);
    const address = await em().findOneOrFail(LoginThrottle, { key: 'address:198.51.100.40' });
    expect(address.failures).toBe(3);
  });
});
