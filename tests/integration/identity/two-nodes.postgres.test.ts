// Two web nodes on one PostgreSQL database, as behind a load balancer: nothing a request needs
// lives in one node's memory. Sessions, sign-in throttles and one-time links are rows; the
// session cookie is signed with a key derived from the shared master key.
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { User } from '../../../core/identity/entities.ts';
import { issueToken } from '../../../core/identity/one-time-tokens.ts';
import {
  ADMIN,
  completeSetupVia,
  createTestApp,
  form,
  fromAddress,
  signIn,
  type TestApp,
} from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
let a: TestApp;
let b: TestApp;
const em = (): EntityManager => a.kernel.orm.em.fork();

beforeAll(async () => {
  a = await createTestApp({ HOLDFAST_MASTER_KEY: MASTER_KEY, HOLDFAST_NODE_ROLE: 'web' });
  b = await createTestApp({
    HOLDFAST_MASTER_KEY: MASTER_KEY,
    HOLDFAST_NODE_ROLE: 'web',
    HOLDFAST_DATABASE_URL: a.kernel.deps.config.databaseUrl as string,
  });
  await completeSetupVia(a.app);
}, 60_000);
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const login = (node: TestApp, email: string, password: string, address: string) =>
  node.app.request('/login', form({ email, password }), fromAddress(address));

describe('two web nodes on one database', () => {
  it('continues on node B a session signed in on node A, and a sign-out on B ends it on A', async () => {
    const cookie = await signIn(a.app);
    const onB = await b.app.request('/', { headers: { cookie } });
    expect(onB.status).toBe(200);
    expect(await onB.text()).toContain(ADMIN.email);

    const out = await b.app.request('/logout', { ...form({}), headers: { ...form({}).headers, cookie } });
    expect(out.status).toBe(303);
    const onA = await a.app.request('/', { headers: { cookie } });
    expect(onA.status).toBe(303);
    expect(onA.headers.get('location')).toMatch(/^\/login/);
  });

  it('counts failed sign-ins on both nodes toward one lock', async () => {
    const org = await makeOrganization(em(), await rootOf(em()), 'partner', 'Two-node partner');
    const user = await makeUser(em(), org, 'guesses@two-nodes.example');
    const address = '198.51.100.77';
    const statuses: number[] = [];
    for (const node of [a, b, a, b, a]) statuses.push((await login(node, user.email, 'wrong-guess', address)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    // Five failures from this address, three on A and two on B: locked on both.
    expect((await login(b, user.email, TEST_PASSWORD, address)).status).toBe(429);
    expect((await login(a, user.email, TEST_PASSWORD, address)).status).toBe(429);
    // Seven password hashes on a shared 2-core machine: a ceiling, not a timing.
  }, 90_000);

  it('spends on node B a one-time link issued on node A', async () => {
    const org = await makeOrganization(em(), await rootOf(em()), 'partner', 'Reset partner');
    const user = await makeUser(em(), org, 'reset@two-nodes.example');
    const e = em();
    const token = await issueToken(e, await e.findOneOrFail(User, { id: user.id }), 'reset_password', new Date());

    expect((await b.app.request(`/reset-password/${token}`)).status).toBe(200);
    const reset = await b.app.request(
      `/reset-password/${token}`,
      form({ password: 'Another-good-pass-2027', confirmPassword: 'Another-good-pass-2027' }),
    );
    expect(reset.status).toBe(303);
    expect((await a.app.request(`/reset-password/${token}`)).status).toBe(410);
    expect((await login(a, user.email, 'Another-good-pass-2027', '203.0.113.9')).status).toBe(303);
  });
});
