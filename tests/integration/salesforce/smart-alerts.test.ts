// Smart alerts end to end: a rule "more than 10 % of Contacts deleted by one user" on a Salesforce
// task is checked after each backup run, from the run's change counts and the connector's
// per-user counts (LastModifiedById of the deleted rows queryAll returns). It fires once when one
// user deleted more than 10 % of the Contacts, and the mail reaches a real SMTP server; 9 % by
// one user (even with more by all users together) does not fire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { Notification } from '../../../core/notifications/entities.ts';
import { createRecipient } from '../../../core/notifications/recipients.ts';
import { runNotificationSender } from '../../../core/notifications/sender.ts';
import { createRule } from '../../../core/smart-alerts/rules.ts';
import { BackupTask } from '../../../core/tasks/entities.ts';
import { seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from '../../helpers/smtp.ts';
import { backup, createSalesforceHarness, discover, type SalesforceHarness, salesforceTask } from './harness.ts';

const HOUR = 3600_000;
let s: SalesforceHarness;
let smtp: LoopbackSmtp;

beforeAll(async () => {
  smtp = await startLoopbackSmtp();
  s = await createSalesforceHarness(19, {
    HOLDFAST_SMTP_URL: smtp.url,
    HOLDFAST_PUBLIC_URL: 'https://backup.example.test',
  });
}, 60_000);

afterAll(async () => {
  await s?.close();
  await smtp?.close();
});

const send = () =>
  runNotificationSender(
    s.h.app.kernel.orm,
    s.h.app.kernel.deps.mailer,
    s.h.app.kernel.deps.config,
    s.h.ctx.log,
    s.h.clock.now,
  );

describe('smart alert: more than 10 % of Contacts deleted by one user', () => {
  it('fires once for 11 % by one user, not for 9 % by one user, and the mail arrives', async () => {
    const org = s.fake.addOrg('Alerting Org');
    org.now = () => new Date(s.clock.now);
    seedDemoOrg(org, { accounts: 20, contactsPerAccount: 5 });
    const alice = org.addUser('alice@stand-in.example');
    const bob = org.addUser('bob@stand-in.example');
    s.clock.now += HOUR;
    const task = await salesforceTask(s, { org });
    const em = s.h.em();
    const tenant = await em.findOneOrFail(Organization, { id: (task.organization as { id: string }).id });
    await createRecipient(
      em,
      tenant,
      { email: 'admin@customer.test', displayName: 'Admin', types: ['smart_alerts'] },
      s.h.clock.now,
    );
    await discover(s, task.id);
    await backup(s, task.id, ['Contact']);
    const fresh = await s.h.em().findOneOrFail(BackupTask, { id: task.id });
    await createRule(
      s.h.em(),
      fresh,
      { object: 'Contact', change: 'deleted', unit: 'percent', threshold: 10, users: 'one' },
      s.h.clock.now,
    );

    // 9 of 100 by Alice and 2 by Bob: 11 % by all users, but no single user above 10 %.
    s.clock.now += HOUR;
    const ids = org.liveIds('Contact');
    expect(ids).toHaveLength(100);
    for (const id of ids.slice(0, 9)) org.delete('Contact', id, alice);
    for (const id of ids.slice(9, 11)) org.delete('Contact', id, bob);
    s.clock.now += 60_000;
    const [quiet] = await backup(s, task.id, ['Contact']);
    expect(quiet?.state).toBe('succeeded');
    expect(await s.h.em().count(Notification, { type: 'smart_alerts' })).toBe(0);

    // 10 of the 89 left by Bob: 11.2 %.
    s.clock.now += HOUR;
    for (const id of org.liveIds('Contact').slice(0, 10)) org.delete('Contact', id, bob);
    s.clock.now += 60_000;
    const [loud] = await backup(s, task.id, ['Contact']);
    expect(loud?.state).toBe('succeeded');
    // The run's result keeps the connector's API calls (the usage drill-down reads them).
    expect(loud?.result?.apiCalls).toBeGreaterThan(0);
    // A later run without deletions raises nothing more.
    s.clock.now += HOUR;
    await backup(s, task.id, ['Contact']);

    const alerts = await s.h.em().find(Notification, { type: 'smart_alerts' });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.payload.message).toContain(`10 of 89 Contact records (11.2 %) deleted by user ${bob}`);
    const activity = await s.h.em().find(ActivityEvent, { activity: 'Smart alert', taskId: task.id });
    expect(activity).toHaveLength(1);
    expect(activity[0]?.status).toBe('warning');

    await send();
    const mails = smtp.received.filter((m) => m.to.includes('admin@customer.test'));
    expect(mails).toHaveLength(1);
    expect(mails[0]?.subject).toContain('More than 10 % of Contact records deleted by one user');
    expect(mails[0]?.text).toContain(`deleted by user ${bob}`);
  });
});
