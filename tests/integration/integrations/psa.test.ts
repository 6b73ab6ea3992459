// PSA tickets (Autotask, ConnectWise) against their stand-ins on loopback (tests/fakes/psa/: the
// documented endpoints the connector calls, checking the auth headers and body shapes): a failed
// backup opens a ticket for the account's mapped company, a second failure of the task adds a
// note, a success closes it; a 401 makes the integration Failing (one exceptions mail) and loses
// nothing once the credentials work again; across an appliance restart, and with a batch sent
// again after a crash, no ticket or note is made twice.
import { describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import type { Kernel } from '../../../core/appliance.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Integration, IntegrationTicket } from '../../../core/integrations/entities.ts';
import { createIntegration, integrationState } from '../../../core/integrations/integrations.ts';
import { mapCompany } from '../../../core/integrations/psa-companies.ts';
import { type IntegrationDeps, runIntegrationSender } from '../../../core/integrations/sender.ts';
import { createRecipient } from '../../../core/notifications/recipients.ts';
import { runNotificationSender } from '../../../core/notifications/sender.ts';
import type { PsaStandIn } from '../../fakes/psa/common.ts';
import { AUTOTASK, CONNECTWISE, type PsaConnection } from '../../fakes/psa/connections.ts';
import { cleanUpAfterEach, mailedAppliance, silentLog } from '../../helpers/integration-world.ts';
import type { LoopbackSmtp } from '../../helpers/smtp.ts';
import { makeOrganization } from '../../helpers/tenants.ts';

const cleanUp = cleanUpAfterEach();
const log = silentLog;
const ACTOR = { label: 'tech@msp.example', id: 'u1', ip: '192.0.2.7' };

/** A stand-in's connection, and its ticket statuses. */
interface Psa extends PsaConnection {
  openStatus: string | number;
  closedStatus: string | number;
}

const PSAS: Psa[] = [
  { ...AUTOTASK, openStatus: 1, closedStatus: 5 },
  { ...CONNECTWISE, openStatus: 'New', closedStatus: 'Closed (resolved)' },
];

interface World {
  psa: PsaStandIn;
  smtp: LoopbackSmtp;
  open(): Promise<Kernel>;
  t0: Date;
}

async function world(p: Psa): Promise<World> {
  const appliance = await mailedAppliance(cleanUp);
  const psa = await p.start();
  cleanUp(() => psa.close());
  return { psa, ...appliance, t0: new Date(Math.floor(Date.now() / 1000) * 1000) };
}

const deps = (k: Kernel): IntegrationDeps => ({ orm: k.orm, cipher: k.credentials, settings: k.deps.config, log });
const pass = (k: Kernel, at: Date) => runIntegrationSender(deps(k), at);
const mailPass = (k: Kernel, at: Date) => runNotificationSender(k.orm, k.deps.mailer, k.deps.config, log, at);
const later = (t0: Date, seconds: number) => new Date(t0.getTime() + seconds * 1000);

interface Tree {
  partner: IOrganization;
  northwind: IOrganization;
  contoso: IOrganization;
  fabrikam: IOrganization;
}

async function tree(k: Kernel): Promise<Tree> {
  const em = k.orm.em.fork();
  const id = crypto.randomUUID();
  const root = em.create(Organization, { id, kind: 'root', path: `/${id}/`, name: 'Appliance' });
  await em.flush();
  const distributor = await makeOrganization(em, root, 'distributor', 'Dist One');
  const partner = await makeOrganization(em, distributor, 'partner', 'MSP One');
  return {
    partner,
    northwind: await makeOrganization(em, partner, 'customer', 'Northwind'),
    contoso: await makeOrganization(em, partner, 'customer', 'Contoso'),
    fabrikam: await makeOrganization(em, partner, 'customer', 'Fabrikam'),
  };
}

const TASK = 'a0000000-0000-4000-8000-000000000001';

/** A backup run's System Activity row, as a finished job leaves it. */
async function backup(k: Kernel, org: IOrganization, item: string, status: 'failed' | 'succeeded', at: Date) {
  await k.orm.em.fork().insert(ActivityEvent, {
    at,
    organization: org.id,
    activity: 'Backup',
    service: 'dropbox',
    serviceLabel: 'Dropbox',
    subService: 'Users',
    status,
    taskId: TASK,
    taskName: 'Mailboxes',
    item,
    jobId: crypto.randomUUID(),
    startedAt: at,
    durationMs: 1200,
    bytes: 2048,
    items: 3,
    summary:
      status === 'failed'
        ? `Backup of ${item} failed: the service answered 503 three times.`
        : `Backup of ${item} succeeded: 3 items.`,
  } as never);
}

async function addPsa(k: Kernel, p: Psa, w: World, owner: IOrganization, extra: Record<string, unknown> = {}) {
  return createIntegration(
    k.orm.em.fork(),
    k.credentials,
    owner,
    { kind: p.kind, streams: [], settings: { ...p.settings(w.psa), ...extra }, secret: p.secret },
    { allowPrivate: true },
    ACTOR,
    new Date(),
  );
}

const row = (k: Kernel, id: string) => k.orm.em.fork().findOneOrFail(Integration, { id });

describe.each(PSAS)('$label tickets', (p) => {
  it('opens a ticket for the mapped company, notes a second failure, closes it on success', async () => {
    const w = await world(p);
    const k = await w.open();
    cleanUp(() => k.close());
    const t = await tree(k);
    const integration = await addPsa(k, p, w, t.partner, { defaultCompanyId: String(p.contoso) });
    await mapCompany(
      k.orm.em.fork(),
      t.partner,
      integration,
      t.northwind.id,
      String(p.northwind),
      { cipher: k.credentials, allowPrivate: true },
      ACTOR,
      w.t0,
    );

    await backup(k, t.northwind, 'anna@northwind.example', 'failed', w.t0);
    await pass(k, later(w.t0, 1));
    expect(w.psa.tickets).toHaveLength(1);
    const [ticket] = w.psa.tickets;
    expect(ticket).toMatchObject({
      companyId: p.northwind,
      title: 'Backup failed: Northwind · Mailboxes · anna@northwind.example',
      status: p.openStatus,
    });
    expect(ticket?.description).toContain(
      'Backup of anna@northwind.example failed: the service answered 503 three times.',
    );
    expect(ticket?.description).toContain('Account: Dist One / MSP One / Northwind');

    // The same task fails again (another item too): a note, not new tickets; the failures one
    // after another in the feed are one note.
    await backup(k, t.northwind, 'anna@northwind.example', 'failed', later(w.t0, 60));
    await backup(k, t.northwind, 'ben@northwind.example', 'failed', later(w.t0, 61));
    await pass(k, later(w.t0, 70));
    expect(w.psa.tickets).toHaveLength(1);
    expect(ticket?.notes).toHaveLength(1);
    expect(ticket?.notes[0]?.text).toContain('Backup of anna@northwind.example failed');
    expect(ticket?.notes[0]?.text).toContain('Backup of ben@northwind.example failed');
    await backup(k, t.northwind, 'ben@northwind.example', 'failed', later(w.t0, 90));
    await pass(k, later(w.t0, 95));
    expect(ticket?.notes).toHaveLength(2);

    // One item succeeds: a note; both have: the ticket is closed with a note.
    await backup(k, t.northwind, 'anna@northwind.example', 'succeeded', later(w.t0, 120));
    await pass(k, later(w.t0, 130));
    expect(ticket?.status).toBe(p.openStatus);
    expect(ticket?.notes.at(-1)?.text).toContain('Still failing: ben@northwind.example');
    await backup(k, t.northwind, 'ben@northwind.example', 'succeeded', later(w.t0, 180));
    await pass(k, later(w.t0, 190));
    expect(ticket?.status).toBe(p.closedStatus);
    expect(ticket?.notes.at(-1)?.text).toContain('Backup of ben@northwind.example succeeded');

    // Unmapped account: the default company. A new failure after closing: a new ticket.
    await backup(k, t.fabrikam, 'carl@fabrikam.example', 'failed', later(w.t0, 200));
    await backup(k, t.northwind, 'anna@northwind.example', 'failed', later(w.t0, 201));
    await pass(k, later(w.t0, 210));
    expect(w.psa.tickets.map((x) => [x.companyId, x.title])).toEqual([
      [p.northwind, 'Backup failed: Northwind · Mailboxes · anna@northwind.example'],
      [p.contoso, 'Backup failed: Fabrikam · Mailboxes · carl@fabrikam.example'],
      [p.northwind, 'Backup failed: Northwind · Mailboxes · anna@northwind.example'],
    ]);
    expect(await row(k, integration.id)).toMatchObject({ failingSince: null, deliveredCount: 8 });
  });

  it('opens a ticket for a disconnected task, closed by its next successful backup', async () => {
    const w = await world(p);
    const k = await w.open();
    cleanUp(() => k.close());
    const t = await tree(k);
    await addPsa(k, p, w, t.northwind, { defaultCompanyId: String(p.northwind) });
    await k.orm.em.fork().insert(ActivityEvent, {
      at: w.t0,
      organization: t.northwind.id,
      activity: 'Task disconnected',
      service: 'dropbox',
      serviceLabel: 'Dropbox',
      status: 'failed',
      taskId: TASK,
      taskName: 'Mailboxes',
      summary:
        "The service refused the task's credentials: invalid_access_token. Backups stop until the task is authenticated again.",
    } as never);
    await backup(k, t.northwind, 'anna@northwind.example', 'failed', later(w.t0, 1));
    await pass(k, later(w.t0, 2));
    expect(w.psa.tickets.map((x) => [x.companyId, x.title])).toEqual([
      [p.northwind, 'Task disconnected: Northwind · Mailboxes'],
    ]);
    expect(w.psa.tickets[0]?.description).toContain('invalid_access_token');
    expect(w.psa.tickets[0]?.notes).toHaveLength(1);
    await backup(k, t.northwind, 'anna@northwind.example', 'succeeded', later(w.t0, 60));
    await pass(k, later(w.t0, 61));
    expect(w.psa.tickets[0]?.status).toBe(p.closedStatus);
  });

  it('closes the disconnected ticket with a note when the task is connected again', async () => {
    const w = await world(p);
    const k = await w.open();
    cleanUp(() => k.close());
    const t = await tree(k);
    await addPsa(k, p, w, t.northwind, { defaultCompanyId: String(p.northwind) });
    const connection = (activity: string, status: string, summary: string, at: Date) =>
      k.orm.em.fork().insert(ActivityEvent, {
        at,
        organization: t.northwind.id,
        activity,
        service: 'dropbox',
        serviceLabel: 'Dropbox',
        status,
        taskId: TASK,
        taskName: 'Mailboxes',
        summary,
      } as never);
    await connection('Task disconnected', 'failed', 'The service refused the task’s credentials.', w.t0);
    await pass(k, later(w.t0, 1));
    expect(w.psa.tickets.map((x) => x.title)).toEqual(['Task disconnected: Northwind · Mailboxes']);
    await connection('Task reconnected', 'succeeded', 'The task’s connection works again.', later(w.t0, 60));
    await pass(k, later(w.t0, 61));
    expect(w.psa.tickets[0]?.status).toBe(p.closedStatus);
    expect(w.psa.tickets[0]?.notes).toHaveLength(1);
    expect(w.psa.tickets[0]?.notes[0]?.text).toContain('The task’s connection works again.');
    expect(w.psa.tickets[0]?.notes[0]?.title ?? w.psa.tickets[0]?.notes[0]?.text).toMatch(/^Task connected again/);
  });

  it('posts a note once when the PSA’s answer to it was lost', async () => {
    const w = await world(p);
    const k = await w.open();
    cleanUp(() => k.close());
    const t = await tree(k);
    const integration = await addPsa(k, p, w, t.northwind, { defaultCompanyId: String(p.northwind) });
    await backup(k, t.northwind, 'anna@northwind.example', 'failed', w.t0);
    await pass(k, later(w.t0, 1));
    const [ticket] = w.psa.tickets;
    const notes = p.kind === 'autotask' ? `/V1.0/Tickets/${ticket?.id}/Notes` : `/service/tickets/${ticket?.id}/notes`;

    // The PSA stores the note, the connection drops before its answer: the retry finds the note.
    w.psa.loseNextAnswer('POST', notes);
    await backup(k, t.northwind, 'anna@northwind.example', 'failed', later(w.t0, 60));
    await pass(k, later(w.t0, 61));
    expect(ticket?.notes).toHaveLength(1);
    expect((await row(k, integration.id)).failingSince).not.toBeNull();
    await pass(k, later(w.t0, 200));
    expect(ticket?.notes).toHaveLength(1);
    expect((await row(k, integration.id)).failingSince).toBeNull();

    // The same for the note that closes the ticket: noted once, then closed.
    w.psa.loseNextAnswer('POST', notes);
    await backup(k, t.northwind, 'anna@northwind.example', 'succeeded', later(w.t0, 300));
    await pass(k, later(w.t0, 301));
    expect(ticket?.status).toBe(p.openStatus);
    await pass(k, later(w.t0, 500));
    expect(ticket?.notes).toHaveLength(2);
    expect(ticket?.status).toBe(p.closedStatus);
    expect(await row(k, integration.id)).toMatchObject({ failingSince: null, deliveredCount: 3 });
  });

  it('makes one ticket and one note of a run of 250 failed items, and closes it when all succeed', async () => {
    const w = await world(p);
    const k = await w.open();
    cleanUp(() => k.close());
    const t = await tree(k);
    const integration = await addPsa(k, p, w, t.northwind, { defaultCompanyId: String(p.northwind) });
    for (let i = 0; i < 250; i++) await backup(k, t.northwind, `user${i}@northwind.example`, 'failed', w.t0);
    await pass(k, later(w.t0, 1));
    expect(w.psa.tickets).toHaveLength(1);
    // Batches of 100: the first opens the ticket and notes 99, the next two note 100 and 50.
    expect(w.psa.tickets[0]?.notes).toHaveLength(3);
    expect(w.psa.tickets[0]?.notes[0]?.text).toContain(
      '99 runs; the first 10 below, 89 more in Holdfast’s System Activity.',
    );
    for (let i = 0; i < 250; i++)
      await backup(k, t.northwind, `user${i}@northwind.example`, 'succeeded', later(w.t0, 60));
    await pass(k, later(w.t0, 61));
    expect(w.psa.tickets[0]?.status).toBe(p.closedStatus);
    expect(w.psa.tickets[0]?.notes).toHaveLength(6);
    expect(await row(k, integration.id)).toMatchObject({ deliveredCount: 500 });
  });

  it('opens no ticket for an unmapped account when there is no default company', async () => {
    const w = await world(p);
    const k = await w.open();
    cleanUp(() => k.close());
    const t = await tree(k);
    const integration = await addPsa(k, p, w, t.partner);
    await backup(k, t.fabrikam, 'carl@fabrikam.example', 'failed', w.t0);
    await pass(k, later(w.t0, 1));
    expect(w.psa.tickets).toEqual([]);
    expect(integrationState(await row(k, integration.id))).toBe('active');
  });

  it('a 401 makes it Failing with the reason, mails once, and loses nothing once the credentials work', async () => {
    const w = await world(p);
    const k = await w.open();
    cleanUp(() => k.close());
    const t = await tree(k);
    await createRecipient(
      k.orm.em.fork(),
      t.partner,
      { email: 'noc@msp.example', displayName: 'NOC', types: ['exceptions'] },
      w.t0,
    );
    const integration = await addPsa(k, p, w, t.partner, { defaultCompanyId: String(p.contoso) });
    w.psa.revokeCredentials();
    await backup(k, t.northwind, 'anna@northwind.example', 'failed', w.t0);
    for (const s of [1, 62, 183]) {
      await pass(k, later(w.t0, s));
      await mailPass(k, later(w.t0, s));
    }
    const failing = await row(k, integration.id);
    expect(integrationState(failing)).toBe('failing');
    expect(failing.lastError).toBe(p.refusal);
    expect(failing.attempts).toBe(3);
    expect(w.psa.tickets).toEqual([]);
    expect(w.smtp.received.map((m) => m.subject)).toEqual([
      expect.stringMatching(new RegExp(`^Integration failing: ${p.label} \\(.*\\) \\(MSP One\\)$`)),
    ]);
    expect(w.smtp.received[0]?.text).toContain(p.refusal);

    // Fixed in the PSA: the failure meanwhile and the one before both reach it, once.
    await backup(k, t.northwind, 'anna@northwind.example', 'failed', later(w.t0, 200));
    w.psa.restoreCredentials();
    await pass(k, later(w.t0, 424));
    await pass(k, later(w.t0, 430));
    expect(w.psa.tickets).toHaveLength(1);
    expect(w.psa.tickets[0]?.notes).toHaveLength(1);
    expect(await row(k, integration.id)).toMatchObject({ failingSince: null, attempts: 0, deliveredCount: 2 });
    await mailPass(k, later(w.t0, 431));
    expect(w.smtp.received.map((m) => m.subject)).toHaveLength(2);
    expect(w.smtp.received[1]?.subject).toMatch(/^Resolved: integration /);
  });

  it('makes no second ticket across a restart, nor when a batch is resent after a crash or a lost answer', async () => {
    const w = await world(p);
    let k = await w.open();
    const t = await tree(k);
    const integration = await addPsa(k, p, w, t.partner, { defaultCompanyId: String(p.northwind) });
    await backup(k, t.northwind, 'anna@northwind.example', 'failed', w.t0);
    await pass(k, later(w.t0, 1));
    expect(w.psa.tickets).toHaveLength(1);
    const delivered = (await row(k, integration.id)).cursor;
    await k.close();

    k = await w.open();
    cleanUp(() => k.close());
    await backup(k, t.northwind, 'anna@northwind.example', 'failed', later(w.t0, 60));
    await pass(k, later(w.t0, 61));
    expect(w.psa.tickets).toHaveLength(1);
    expect(w.psa.tickets[0]?.notes).toHaveLength(1);

    // A crash after the PSA's answers but before the cursor moved: the batch comes again.
    await k.orm.em.fork().nativeUpdate(Integration, { id: integration.id }, { cursor: delivered });
    await pass(k, later(w.t0, 62));
    expect(w.psa.tickets).toHaveLength(1);
    expect(w.psa.tickets[0]?.notes).toHaveLength(1);

    // The PSA opens a ticket but its answer is lost: the next pass finds that ticket, opens none.
    await backup(k, t.northwind, 'anna@northwind.example', 'succeeded', later(w.t0, 70));
    await pass(k, later(w.t0, 71));
    w.psa.loseNextAnswer('POST', p.kind === 'autotask' ? '/V1.0/Tickets' : '/service/tickets');
    await backup(k, t.northwind, 'ben@northwind.example', 'failed', later(w.t0, 80));
    await pass(k, later(w.t0, 81));
    expect(w.psa.tickets).toHaveLength(2);
    expect((await row(k, integration.id)).failingSince).not.toBeNull();
    await pass(k, later(w.t0, 200));
    expect(w.psa.tickets).toHaveLength(2);
    expect((await row(k, integration.id)).failingSince).toBeNull();
    await backup(k, t.northwind, 'ben@northwind.example', 'failed', later(w.t0, 210));
    await pass(k, later(w.t0, 211));
    expect(w.psa.tickets.map((x) => x.notes.length)).toEqual([2, 1]);

    const tickets = await k.orm.em.fork().find(IntegrationTicket, { integration: integration.id });
    expect(tickets.map((x) => [x.ticketId, x.failing, x.openingSince])).toEqual([
      [String(w.psa.tickets[1]?.id), ['ben@northwind.example'], null],
    ]);
  });
});
