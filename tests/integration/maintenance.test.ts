// The hourly maintenance purges accounts whose removal grace period is over, with everything
// under them, running the registered purge hooks first; before the 7 days nothing is touched.
// The clock is controlled, so the test crosses the grace period without waiting.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditEvent } from '../../core/audit/entities.ts';
import { type IOrganization, LoginThrottle, Organization, Session, User } from '../../core/identity/entities.ts';
import { createSession } from '../../core/identity/session-service.ts';
import { SamlAssertionUse } from '../../core/identity/sso/saml/saml-entities.ts';
import { databaseReplayStore } from '../../core/identity/sso/saml/saml-replay.ts';
import { runMaintenance, startMaintenanceTimer } from '../../core/maintenance.ts';
import { cancelRemoval, registerPurgeHook, requestRemoval } from '../../core/tenancy/removal.ts';
import { completeSetupVia, createTestApp, type TestApp } from '../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf } from '../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
const em = () => t.kernel.orm.em.fork();
const DAY = 86_400_000;
const POLICY = { maxAgeHours: 24 * 30, idleMinutes: 60 * 24 * 30 };

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  root = await rootOf(em());
}, 60_000);

afterAll(async () => {
  await t.close();
});

afterEach(() => {
  vi.useRealTimers();
});

/** A partner with two customers, a user in each, and a session of the partner's user. */
async function tree(label: string) {
  const e = em();
  const partner = await makeOrganization(e, root, 'partner', `${label} Partner`);
  const first = await makeOrganization(e, partner, 'customer', `${label} Customer 1`);
  const second = await makeOrganization(e, partner, 'customer', `${label} Customer 2`);
  const users = [
    await makeUser(e, partner, `admin@${label}-partner.example`),
    await makeUser(e, first, `admin@${label}-one.example`),
    await makeUser(e, second, `admin@${label}-two.example`),
  ];
  await createSession(e, users[0] as never, POLICY);
  const ids = [partner.id, first.id, second.id];
  return { partner, first, second, ids, userIds: users.map((u) => u.id) };
}

/** Starts the removal grace period of an organization, as of `at`. */
async function removeNow(org: IOrganization, at: Date): Promise<void> {
  const e = em();
  await requestRemoval(e, await e.findOneOrFail(Organization, { id: org.id }), true, at);
}

async function exists(ids: string[]) {
  const e = em();
  return {
    organizations: await e.count(Organization, { id: { $in: ids } }),
    users: await e.count(User, { organization: { $in: ids } }),
  };
}

describe('purge of removed accounts', () => {
  it('purges nothing during the 7-day grace period, then the whole subtree with its hooks', async () => {
    const { partner, first, second, ids, userIds } = await tree('grace');
    const requestedAt = new Date('2026-11-01T09:00:00.000Z');
    await removeNow(partner, requestedAt);
    const hooked: string[] = [];
    const unregister = registerPurgeHook(async (hookEm, org) => {
      // A hook runs while the organization still exists, deepest first.
      expect(await hookEm.count(Organization, { id: org.id })).toBe(1);
      hooked.push(org.id);
    });
    try {
      for (const offset of [0, DAY, 6 * DAY, 7 * DAY - 1000]) {
        const report = await runMaintenance(t.kernel.orm, t.kernel.deps.log, new Date(requestedAt.getTime() + offset));
        expect(report.purged).toEqual([]);
      }
      expect(await exists(ids)).toEqual({ organizations: 3, users: 3 });
      expect(hooked).toEqual([]);

      const report = await runMaintenance(t.kernel.orm, t.kernel.deps.log, new Date(requestedAt.getTime() + 7 * DAY));
      expect(report.purged).toEqual([{ id: partner.id, name: 'grace Partner', parentId: root.id }]);
      expect(await exists(ids)).toEqual({ organizations: 0, users: 0 });
      expect(await em().count(User, { id: { $in: userIds } })).toBe(0);
      expect(await em().count(Session, { user: { $in: userIds } })).toBe(0);
      expect(hooked).toHaveLength(3);
      expect(new Set(hooked.slice(0, 2))).toEqual(new Set([first.id, second.id]));
      expect(hooked[2]).toBe(partner.id);
      const [entry] = await em().find(AuditEvent, { organization: root.id, activity: 'Account purged' });
      expect(entry?.account).toBe('grace Partner');
      expect(entry?.description).toContain('7-day removal grace period ended');
      // Nothing else was touched.
      expect(await em().count(Organization, { id: root.id })).toBe(1);
    } finally {
      unregister();
    }
  });

  it('purges a removed account under a removed ancestor once, with the ancestor', async () => {
    const { partner, first, ids } = await tree('nested');
    const at = new Date('2026-11-02T00:00:00.000Z');
    await removeNow(first, at);
    await removeNow(partner, at);
    const hooked: string[] = [];
    const unregister = registerPurgeHook(async (_em, org) => {
      hooked.push(org.id);
    });
    try {
      const report = await runMaintenance(t.kernel.orm, t.kernel.deps.log, new Date(at.getTime() + 8 * DAY));
      expect(report.purged.map((p) => p.id)).toEqual([partner.id]);
      expect(hooked.sort()).toEqual([...ids].sort());
      expect(await exists(ids)).toEqual({ organizations: 0, users: 0 });
    } finally {
      unregister();
    }
  });

  it('leaves a restored account alone', async () => {
    const { partner, ids } = await tree('restored');
    const at = new Date('2026-11-03T00:00:00.000Z');
    const e = em();
    const org = await e.findOneOrFail(Organization, { id: partner.id });
    await requestRemoval(e, org, true, at);
    await cancelRemoval(e, org);
    await runMaintenance(t.kernel.orm, t.kernel.deps.log, new Date(at.getTime() + 30 * DAY));
    expect(await exists(ids)).toEqual({ organizations: 3, users: 3 });
  });

  it('runs on the appliance timer with the appliance clock', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { partner, ids } = await tree('timer');
    const at = new Date('2026-11-04T00:00:00.000Z');
    await removeNow(partner, at);
    let now = new Date(at.getTime() + 3 * DAY);
    const timer = startMaintenanceTimer(t.kernel.orm, t.kernel.deps.log, () => now, 3_600_000);
    try {
      expect(timer.current()).toBeUndefined();
      await vi.advanceTimersByTimeAsync(3_600_000);
      expect((await timer.current())?.purged).toEqual([]);
      expect(await exists(ids)).toEqual({ organizations: 3, users: 3 });

      now = new Date(at.getTime() + 7 * DAY + 60_000);
      await vi.advanceTimersByTimeAsync(3_600_000);
      expect((await timer.current())?.purged.map((p) => p.id)).toEqual([partner.id]);
      expect(await exists(ids)).toEqual({ organizations: 0, users: 0 });
    } finally {
      timer.stop();
    }
  });
});

describe('sign-in throttle counters', () => {
  it('deletes counters whose window lapsed and that lock nothing, and keeps the live ones', async () => {
    const now = new Date('2026-12-07T12:00:00Z');
    const hour = 3_600_000;
    const e = em();
    const rows = [
      // A failure two days ago: nothing left to count or lock.
      { key: 'account:old@example.test', failures: 3, windowStartedAt: new Date(now.getTime() - 2 * DAY) },
      // A lock that is still in force, from a window long past.
      {
        key: 'address:203.0.113.9',
        failures: 20,
        windowStartedAt: new Date(now.getTime() - 2 * DAY),
        lockedUntil: new Date(now.getTime() + hour),
      },
      // A window that is still open.
      { key: 'account:recent@example.test', failures: 2, windowStartedAt: new Date(now.getTime() - 5 * 60_000) },
    ];
    for (const row of rows) e.create(LoginThrottle, { lockedUntil: null, ...row });
    await e.flush();

    const report = await runMaintenance(t.kernel.orm, t.kernel.deps.log, now);

    expect(report.throttlesDeleted).toBe(1);
    const left = (await em().find(LoginThrottle, {}, { orderBy: { key: 'asc' } })).map((r) => r.key);
    expect(left).toEqual(['account:recent@example.test', 'address:203.0.113.9']);
  });
});

describe('used SAML assertions', () => {
  it('deletes the records of expired assertions and keeps the ones that could still be replayed', async () => {
    const now = new Date('2026-12-07T12:00:00Z');
    const store = databaseReplayStore(t.kernel.orm.em);
    expect(await store.claim('https://idp.example', '_expired', new Date(now.getTime() - 60_000), now)).toBe(true);
    expect(await store.claim('https://idp.example', '_live', new Date(now.getTime() + 60_000), now)).toBe(true);

    const report = await runMaintenance(t.kernel.orm, t.kernel.deps.log, now);

    expect(report.samlAssertionsDeleted).toBe(1);
    expect(await em().count(SamlAssertionUse, {})).toBe(1);
    expect(await store.claim('https://idp.example', '_live', new Date(now.getTime() + 60_000), now)).toBe(false);
  });
});
