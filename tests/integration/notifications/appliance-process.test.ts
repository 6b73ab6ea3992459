// The notification sender of a real appliance process (jobs in worker threads): a backup that
// fails queues an exceptions mail, the mail server refuses the first attempt, the appliance is
// stopped (SIGTERM) and started again on the same data folder, and the mail is delivered once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailMessage } from '../../../core/mail/entities.ts';
import { createRecipient } from '../../../core/notifications/recipients.ts';
import { type ApplianceWithTask, JOB_ENV, startApplianceWithTask } from '../../helpers/appliance-task.ts';
import { tempDir } from '../../helpers/config.ts';
import { baseEnv, type RunningProcess, startApplianceProcess } from '../../helpers/process.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from '../../helpers/smtp.ts';

const dir = tempDir();
let smtp: LoopbackSmtp;
let a: ApplianceWithTask;
let restarted: RunningProcess | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  smtp = await startLoopbackSmtp();
  // Retries wait 5 s, doubling: the restart happens while the mail waits for its second attempt.
  env = { HOLDFAST_SMTP_URL: smtp.url, HOLDFAST_MAIL_RETRY_BASE_SECONDS: '5' };
  a = await startApplianceWithTask(dir.path, 'Shared drive', { account: 'acme', failEntities: ['user-001'] }, env);
}, 120_000);

afterAll(async () => {
  restarted?.child.kill('SIGTERM');
  await restarted?.exited;
  await a?.close();
  await smtp?.close();
  dir.remove();
});

describe('the appliance process', () => {
  it('delivers a notification refused before a restart once, after it', async () => {
    await createRecipient(
      a.kernel.orm.em.fork(),
      a.admin.organization,
      { email: 'noc@acme.example', displayName: 'Acme NOC', types: ['exceptions'] },
      new Date(),
    );
    smtp.refuseNext(1);
    const job = await a.backup();
    await a.waitFor('the backup to fail', async () => ((await a.jobState(job)) === 'failed' ? true : undefined));
    await a.waitFor('the first, refused attempt', async () => (smtp.refusals() === 1 ? true : undefined));

    a.appliance.child.kill('SIGTERM');
    expect(await a.appliance.exited).toBe(0);
    const row = () => a.kernel.orm.em.fork().findOne(MailMessage, { to: 'noc@acme.example' });
    expect(await row()).toMatchObject({ status: 'outbox', attempts: 1 });

    restarted = await startApplianceProcess(baseEnv(dir.path, { ...JOB_ENV, ...env }));
    await a.waitFor('the mail to be sent', async () => ((await row())?.status === 'sent' ? true : undefined));
    expect(smtp.received.map((m) => [m.to, m.subject])).toEqual([
      [['noc@acme.example'], 'Backup failed: Shared drive (Acme Managed Services)'],
    ]);
    expect(await row()).toMatchObject({ status: 'sent', attempts: 2 });
  });
});
