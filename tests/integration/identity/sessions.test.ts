// The session read on every request (findSession): it comes back with its user, the user's
// organization and the opened account as managed entities, and every check still holds on each
// call — a revoked session, an idle or expired one, a deactivated user, a changed role or grant
// take effect on the very next request. The clock is passed in, so nothing waits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, Session, User } from '../../../core/identity/entities.ts';
import { createSession, endSession, findSession, rotateSession } from '../../../core/identity/session-service.ts';
import { completeSetupVia, createTestApp, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf } from '../../helpers/tenants.ts';

let t: TestApp;
let partner: IOrganization;
let customer: IOrganization;
const em = () => t.kernel.orm.em.fork();
const POLICY = { maxAgeHours: 12, idleMinutes: 30 };
const MINUTE = 60_000;
let counter = 0;

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const e = em();
  const root = await rootOf(e);
  partner = await makeOrganization(e, root, 'partner', 'Session Partner');
  customer = await makeOrganization(e, partner, 'customer', 'Session Customer');
}, 60_000);

afterAll(async () => {
  await t.close();
});

/** A partner user (custom role, one permission) with a session started at `now`. */
async function started(now: Date) {
  counter++;
  const user = await makeUser(em(), partner, `user${counter}@session-partner.example`, {
    role: 'custom',
    permissions: ['view_activity'],
  });
  const { token } = await createSession(em(), user, POLICY, { ip: '192.0.2.7' }, 'active', now);
  return { user, token };
}

describe('findSession', () => {
  it('returns user, home organization and acting organization loaded, with JSON fields parsed', async () => {
    const now = new Date();
    const { user, token } = await started(now);
    const e = em();
    const first = (await findSession(e, token, POLICY, now)) as NonNullable<Awaited<ReturnType<typeof findSession>>>;
    const { token: openedToken } = await rotateSession(e, first, { actingOrganization: customer }, POLICY, now);
    const reader = em();
    const session = await findSession(reader, openedToken, POLICY, now);
    if (!session) throw new Error('no session');
    const u = session.user as typeof user;
    expect(u.id).toBe(user.id);
    expect(u.email).toBe(user.email);
    expect(u.role).toBe('custom');
    expect(u.permissions).toEqual(['view_activity']);
    expect(u.accessibleOrganizationIds).toEqual([]);
    expect((u.organization as IOrganization).name).toBe('Session Partner');
    expect((u.organization as IOrganization).path).toBe(partner.path);
    expect((session.actingOrganization as IOrganization).name).toBe('Session Customer');
    expect(session.lastSeenAt).toBeInstanceOf(Date);
    expect(session.lastSeenAt.getTime()).toBe(now.getTime());
    expect(session.ip).toBe('192.0.2.7');
    // Managed: the same user object as the identity map's, and a change is written by a flush.
    expect(await reader.findOne(User, { id: user.id })).toBe(u);
    u.displayName = 'Renamed In Session';
    await reader.flush();
    expect((await em().findOneOrFail(User, { id: user.id })).displayName).toBe('Renamed In Session');
  });

  it('writes lastSeenAt at most once a minute', async () => {
    const now = new Date();
    const { token } = await started(now);
    const soon = new Date(now.getTime() + 30_000);
    await findSession(em(), token, POLICY, soon);
    const [row] = await em().find(Session, { lastSeenAt: now });
    expect(row?.lastSeenAt.getTime()).toBe(now.getTime());
    const later = new Date(now.getTime() + 2 * MINUTE);
    await findSession(em(), token, POLICY, later);
    expect((await em().find(Session, { lastSeenAt: later })).length).toBe(1);
  });

  it('ends a session idle for longer than the idle limit', async () => {
    const now = new Date();
    const { user, token } = await started(now);
    expect(await findSession(em(), token, POLICY, new Date(now.getTime() + 29 * MINUTE))).not.toBeNull();
    const idle = new Date(now.getTime() + 29 * MINUTE + 30 * MINUTE);
    expect(await findSession(em(), token, POLICY, idle)).toBeNull();
    expect(await em().count(Session, { user: user.id })).toBe(0);
  });

  it('ends a session at its absolute expiry, however active', async () => {
    const now = new Date();
    const { user, token } = await started(now);
    // A request every 20 minutes keeps it from going idle…
    for (let m = 20; m < 12 * 60; m += 20) {
      expect(await findSession(em(), token, POLICY, new Date(now.getTime() + m * MINUTE))).not.toBeNull();
    }
    expect(await findSession(em(), token, POLICY, new Date(now.getTime() + 12 * 3_600_000))).toBeNull();
    expect(await em().count(Session, { user: user.id })).toBe(0);
  });

  it('refuses a revoked session on the next request', async () => {
    const now = new Date();
    const { token } = await started(now);
    expect(await findSession(em(), token, POLICY, now)).not.toBeNull();
    await endSession(em(), token);
    expect(await findSession(em(), token, POLICY, now)).toBeNull();
  });

  it('refuses the session of a user deactivated since the last request', async () => {
    const now = new Date();
    const { user, token } = await started(now);
    expect(await findSession(em(), token, POLICY, now)).not.toBeNull();
    await em().nativeUpdate(User, { id: user.id }, { status: 'deactivated' });
    expect(await findSession(em(), token, POLICY, now)).toBeNull();
  });

  it('reads a changed role and grant on the next request', async () => {
    const now = new Date();
    const { user, token } = await started(now);
    const before = await findSession(em(), token, POLICY, now);
    expect((before?.user as typeof user | undefined)?.role).toBe('custom');
    await em().nativeUpdate(
      User,
      { id: user.id },
      { role: 'administrator', accessibleAccounts: 'selected', accessibleOrganizationIds: [customer.id] },
    );
    const after = await findSession(em(), token, POLICY, now);
    if (!after) throw new Error('no session');
    const u = after.user as typeof user;
    expect(u.role).toBe('administrator');
    expect(u.accessibleAccounts).toBe('selected');
    expect(u.accessibleOrganizationIds).toEqual([customer.id]);
  });

  it('answers null for a token that was never issued', async () => {
    expect(await findSession(em(), 'not-a-token', POLICY, new Date())).toBeNull();
  });
});
