// MSP billing, acceptance (issue 24): November 2026 simulated with a moved clock — the hourly
// maintenance runs at 23:00 every day and samples the usage history; accounts are added mid-month,
// one trial is subscribed, one expires, users are activated and archived during the month, one
// account's removal is requested. Every invoice line is checked against a hand computation
// written out below (pro-rating, tiers, minimums, the rounding rule of docs/BILLING.md), the
// distributor's wholesale invoice of the partner against the partner's retail invoices, the
// expired trial's backups held (scheduler and manual start) with its data kept, and the
// PDF rendered by pdftoppm with the CSV's totals.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { forecasts } from '../../../core/billing/billing-status.ts';
import { BillingAccount, type IInvoice, Invoice, PricePlan } from '../../../core/billing/entities.ts';
import { invoiceCsvRows, lineCsvRows } from '../../../core/billing/invoice-csv.ts';
import { invoicePdfOf, issueInvoice, markInvoicePaid, shownStatus } from '../../../core/billing/invoice-status.ts';
import { draftInvoice, draftInvoicesOf, invoiceLines } from '../../../core/billing/invoices.ts';
import { createPlan } from '../../../core/billing/plans.ts';
import { startTrial, subscribeAccounts, trialCounts, trialStatus } from '../../../core/billing/trials.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { MailFile, MailMessage } from '../../../core/mail/entities.ts';
import { runMaintenance } from '../../../core/maintenance.ts';
import { Notification, NotificationRecipient } from '../../../core/notifications/entities.ts';
import { fanOutNotifications } from '../../../core/notifications/sender.ts';
import { enqueueDueWork } from '../../../core/scheduler/scheduler.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import { UsageSample } from '../../../core/tenancy/usage-entities.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { completeSetupVia } from '../../helpers/kernel.ts';
import { makeOrganization, rootOf } from '../../helpers/tenants.ts';
import { usageFixtures } from './usage-fixtures.ts';

const GIB = 1024 ** 3;
let h: JobsHarness;
const em = () => h.em();
let distributor: IOrganization;
let partner: IOrganization;
let alpha: IOrganization;
let beta: IOrganization;
let gamma: IOrganization;
let delta: IOrganization;
let echo: IOrganization;
let foxtrot: IOrganization;
const { tasks, entities, setStatus } = usageFixtures(em);
const at = (iso: string) => new Date(iso);

async function account(parent: IOrganization, name: string, createdAt: string): Promise<IOrganization> {
  const org = await makeOrganization(em(), parent, parent.kind === 'distributor' ? 'partner' : 'customer', name);
  await em().nativeUpdate(
    Organization,
    { id: org.id },
    { createdAt: at(createdAt), contactEmail: `billing@${name.split(' ')[0]?.toLowerCase()}.example` },
  );
  return em().findOneOrFail(Organization, { id: org.id });
}

async function invoiceOf(org: IOrganization): Promise<IInvoice | null> {
  return em().findOne(Invoice, { account: org.id, period: '2026-11' });
}

async function linesOf(org: IOrganization) {
  const invoice = (await invoiceOf(org)) as IInvoice;
  return (await invoiceLines(em(), invoice)).map((l) => [l.meter, l.quantity, l.amountCents]);
}

beforeAll(async () => {
  h = await createJobsHarness();
  await completeSetupVia(h.app.app);
  const root = await rootOf(em());
  distributor = await account(root, 'Northwind Distribution', '2026-09-01T00:00:00Z');
  partner = await account(distributor, 'Harbour IT', '2026-09-15T00:00:00Z');
  // Alpha: a customer all month. Beta: added on the 16th. Echo: removal requested on the 21st.
  alpha = await account(partner, 'Alpha Dental', '2026-10-15T08:00:00Z');
  beta = await account(partner, 'Beta Books', '2026-11-16T10:00:00Z');
  echo = await account(partner, 'Echo Engineering', '2026-09-20T08:00:00Z');
  // Gamma: a trial from Nov 1 (ends Nov 15), subscribed Nov 10. Delta: a trial from Oct 25 (ends Nov 8), never subscribed.
  gamma = await account(partner, 'Gamma Garden', '2026-11-01T09:00:00Z');
  delta = await account(partner, 'Delta Trial Account With A Rather Long Name', '2026-10-25T00:00:00Z');
  // Foxtrot: added on Nov 5 under another partner whose default plan is annual.
  const glacier = await account(distributor, 'Glacier IT', '2026-09-15T00:00:00Z');
  foxtrot = await account(glacier, 'Foxtrot Annual', '2026-11-05T10:00:00Z');
  await startTrial(em(), gamma, at('2026-11-01T09:00:00Z'));
  await startTrial(em(), delta, at('2026-10-25T00:00:00Z'));
  await entities(alpha, [
    ['user', 'user', 10, true, 0],
    ['new', 'user', 5, false, 0],
    ['folder', 'team_folder', 1, true, 3 * GIB],
    ['shared', 'team_folder', 1, true, GIB],
  ]);
  await entities(beta, [['user', 'user', 4, true, 0]]);
  await entities(gamma, [
    ['user', 'user', 3, true, 0],
    ['new', 'user', 7, false, 0],
  ]);
  await entities(delta, [['user', 'user', 2, true, 0]]);
  await entities(echo, [['user', 'user', 6, true, 0]]);
  await entities(foxtrot, [['user', 'user', 8, true, 0]]);
  const annual = await createPlan(
    em(),
    glacier,
    {
      name: 'Glacier yearly',
      currency: 'CHF',
      period: 'annual',
      minimumCents: 10000,
      meters: [{ meter: 'protected:user', measure: 'max', tiers: [{ upTo: null, unitCents: 3000 }] }],
    },
    at('2026-10-01T00:00:00Z'),
  );
  const g = em();
  g.create(BillingAccount, { organization: glacier.id, defaultPlan: annual.id, updatedAt: at('2026-10-01T00:00:00Z') });
  await g.flush();
  const e = em();
  e.create(NotificationRecipient, {
    organization: partner.id,
    email: 'trials@harbour.example',
    emailKey: 'trials@harbour.example',
    displayName: 'Harbour billing',
    types: ['trials'],
    createdAt: at('2026-10-01T00:00:00Z'),
  });
  await e.flush();

  // The partner's retail plan: users in three bands, team folders, stored GiB averaged, €25 minimum.
  const retail = await createPlan(
    em(),
    partner,
    {
      name: 'Harbour Standard',
      currency: 'eur',
      period: 'monthly',
      minimumCents: 2500,
      meters: [
        {
          meter: 'protected:user',
          measure: 'max',
          tiers: [
            { upTo: 10, unitCents: 300 },
            { upTo: 50, unitCents: 250 },
            { upTo: null, unitCents: 200 },
          ],
        },
        { meter: 'protected:team_folder', measure: 'max', tiers: [{ upTo: null, unitCents: 150 }] },
        { meter: 'stored_gib', measure: 'average', tiers: [{ upTo: null, unitCents: 10 }] },
      ],
    },
    at('2026-10-01T00:00:00Z'),
  );
  // The distributor's wholesale price of a protected user, paid by the partner for its customers.
  const wholesale = await createPlan(
    em(),
    distributor,
    {
      name: 'Wholesale users',
      currency: 'EUR',
      period: 'monthly',
      meters: [{ meter: 'protected:user', measure: 'max', tiers: [{ upTo: null, unitCents: 100 }] }],
    },
    at('2026-10-01T00:00:00Z'),
  );
  const b = em();
  b.create(BillingAccount, {
    organization: partner.id,
    plan: wholesale.id,
    defaultPlan: retail.id,
    updatedAt: at('2026-10-01T00:00:00Z'),
  });
  b.create(BillingAccount, { organization: alpha.id, taxRateBasisPoints: 2000, updatedAt: at('2026-10-01T00:00:00Z') });
  await b.flush();
  await em().nativeUpdate(BillingAccount, { organization: gamma.id }, { taxRateBasisPoints: 1900 });

  // November, day by day: the day's changes, then the maintenance pass at 23:00.
  for (let d = 1; d <= 30; d++) {
    const day = `2026-11-${String(d).padStart(2, '0')}`;
    if (d === 10) {
      await subscribeAccounts(em(), partner, [gamma], ACTOR, at('2026-11-10T12:00:00Z'));
    }
    if (d === 11) await setStatus(alpha, 'new', [1, 2, 3, 4, 5], 'scheduled');
    if (d === 16) {
      await em().nativeUpdate(
        TaskEntity,
        { task: tasks.get(alpha.id), externalId: 'Alpha Dental-folder-1' },
        { storedBytes: 4.5 * GIB },
      );
    }
    if (d === 20) await setStatus(gamma, 'new', [1, 2, 3, 4, 5, 6, 7], 'scheduled');
    if (d === 21) {
      await setStatus(alpha, 'user', [1, 2, 3], 'archived');
      // Removal requested (its grace period set past the month, so the account is still there to invoice).
      await em().nativeUpdate(
        Organization,
        { id: echo.id },
        {
          status: 'removal_pending',
          removalRequestedAt: at('2026-11-21T08:00:00Z'),
          purgeAfter: at('2027-01-31T00:00:00Z'),
        },
      );
    }
    await runMaintenance(h.app.kernel.orm, h.app.kernel.deps.log, at(`${day}T23:00:00Z`));
  }
  // December 1st: the maintenance drafts November's invoices; the MSPs make theirs again on demand.
  await runMaintenance(h.app.kernel.orm, h.app.kernel.deps.log, at('2026-12-01T01:00:00Z'));
}, 120_000);

afterAll(async () => {
  await h.close();
});

describe('a month of billing simulated with a moved clock', () => {
  it('samples the usage history every day of the month', async () => {
    expect(await em().count(UsageSample, { organization: alpha.id, day: { $like: '2026-11-%' } })).toBe(30);
  });

  it('Alpha (whole month, users 10 → 15 on the 11th → 12 on the 21st; stored 4 → 5.5 GiB on the 16th; 20 % tax) equals the hand computation', async () => {
    // users: maximum 15 over 30/30 days = 15: 10 × €3.00 + 5 × €2.50 = €42.50
    // team folders: maximum 2 = 2 × €1.50 = €3.00
    // stored: average (15 × 4 + 15 × 5.5) / 30 = 4.75 GiB × €0.10 = 47.5 cents → 48 (half up)
    // subtotal 4250 + 300 + 48 = 4598 ≥ minimum 2500; tax 20 % of 4598 = 919.6 → 920; total 5518
    expect(await linesOf(alpha)).toEqual([
      ['protected:user', '15', 4250],
      ['protected:team_folder', '2', 300],
      ['stored_gib', '4.75', 48],
    ]);
    expect(await invoiceOf(alpha)).toMatchObject({
      subtotalCents: 4598,
      taxRateBasisPoints: 2000,
      taxCents: 920,
      totalCents: 5518,
      billableDays: 30,
      monthDays: 30,
      status: 'draft',
      currency: 'EUR',
    });
  });

  it('Beta (added on the 16th: 15 of 30 days) is pro-rated and topped up to its share of the minimum', async () => {
    // users: maximum 4 × 15/30 = 2 → 2 × €3.00 = 600; no folders, no stored data
    // minimum €25.00 × 15/30 = 1250 > 600 → top-up 650; tax 0; total 1250
    expect(await linesOf(beta)).toEqual([
      ['protected:user', '2', 600],
      ['protected:team_folder', '0', 0],
      ['stored_gib', '0', 0],
      ['minimum', '1', 650],
    ]);
    expect(await invoiceOf(beta)).toMatchObject({
      subtotalCents: 1250,
      taxCents: 0,
      totalCents: 1250,
      billableDays: 15,
    });
  });

  it('Gamma (trial subscribed on the 10th: 21 of 30 days; users 3 → 10 on the 20th; 19 % tax) is billed from its subscription', async () => {
    // users: maximum over Nov 10–30 is 10 × 21/30 = 7 → 7 × €3.00 = 2100 ≥ minimum 2500 × 21/30 = 1750
    // tax 19 % of 2100 = 399; total 2499
    expect(await linesOf(gamma)).toEqual([
      ['protected:user', '7', 2100],
      ['protected:team_folder', '0', 0],
      ['stored_gib', '0', 0],
    ]);
    expect(await invoiceOf(gamma)).toMatchObject({
      subtotalCents: 2100,
      taxCents: 399,
      totalCents: 2499,
      billableDays: 21,
    });
  });

  it('Echo (removal requested on the 21st: 20 of 30 days) is pro-rated, the minimum rounded half up', async () => {
    // users: 6 × 20/30 = 4 → 1200; minimum 2500 × 20/30 = 1666.67 → 1667 → top-up 467; total 1667
    expect(await linesOf(echo)).toEqual([
      ['protected:user', '4', 1200],
      ['protected:team_folder', '0', 0],
      ['stored_gib', '0', 0],
      ['minimum', '1', 467],
    ]);
    expect(await invoiceOf(echo)).toMatchObject({ totalCents: 1667, billableDays: 20 });
  });

  it('an annual plan bills a whole term in its first month, not pro-rated, and nothing in the next', async () => {
    // Foxtrot started on Nov 5: the term starts in November; 8 users × CHF 30.00 a year = 240.00 ≥ 100.00
    expect(await linesOf(foxtrot)).toEqual([['protected:user', '8', 24000]]);
    expect(await invoiceOf(foxtrot)).toMatchObject({ currency: 'CHF', totalCents: 24000, billableDays: 30 });
    expect(await draftInvoice(em(), foxtrot, '2026-12', at('2027-01-01T01:00:00Z'))).toBeNull();
  });

  it('the expired trial (Delta) is not invoiced, its backups are held — scheduler and manual start — and its data is kept', async () => {
    expect(await invoiceOf(delta)).toBeNull();
    const org = await em().findOneOrFail(Organization, { id: delta.id });
    expect(org.backupHold).toBe(
      'The trial ended on 8 Nov 2026: backups are paused (the data is kept) until the account is subscribed.',
    );
    expect(await em().count(TaskEntity, { task: tasks.get(delta.id) })).toBe(2);
    expect(await em().count(UsageSample, { organization: delta.id, day: '2026-11-30' })).toBe(1);
    // The scheduler skips the held account's task and enqueues the others'.
    await enqueueDueWork(h.ctx, at('2026-12-02T12:00:00Z'));
    expect(await em().count(Job, { task: tasks.get(delta.id) })).toBe(0);
    expect(await em().count(Job, { task: tasks.get(alpha.id) })).toBeGreaterThan(0);
    // A manual start says why.
    const e = em();
    const task = await e.findOneOrFail(BackupTask, { id: tasks.get(delta.id) as string });
    const ids = (await e.find(TaskEntity, { task })).map((x) => x.id);
    await expect(
      backupNow(e, task, ids, { kind: 'user', label: 'admin', id: null }, at('2026-12-02T12:00:00Z'), 3),
    ).rejects.toMatchObject({ status: 409, message: org.backupHold });
    // The partner's recipients got one Trial accounts report naming it.
    const reports = await em().find(Notification, { type: 'trials', organization: partner.id });
    expect(reports.map((r) => [r.createdAt.toISOString(), r.payload.items])).toEqual([
      ['2026-11-08T23:00:00.000Z', ['Delta Trial Account With A Rather Long Name']],
    ]);
    // Fanned out to the partner's recipient of the type, as the sender does every pass.
    await fanOutNotifications(
      h.app.kernel.orm.em,
      { mailRetryBaseSeconds: 1, mailMaxAttempts: 3 },
      at('2026-12-02T12:00:00Z'),
    );
    const mail = await em().findOneOrFail(MailMessage, { to: 'trials@harbour.example' });
    expect(mail.subject).toBe('Trial accounts report (Harbour IT)');
    expect(mail.text).toContain(
      '1 trial account of Harbour IT ended: backups are paused and the data is kept until the account is subscribed',
    );
    expect(mail.text).toContain('Delta Trial Account With A Rather Long Name');
  });

  it('tiles and the trial filter agree; subscribing resumes the backups', async () => {
    const ids = [alpha, beta, gamma, delta, echo].map((o) => o.id);
    const now = at('2026-12-02T12:00:00Z');
    expect(await trialCounts(em(), { id: { $in: ids } }, now)).toEqual({ in_progress: 0, expiring: 0, expired: 1 });
    const e = em();
    const heldAccount = await e.findOneOrFail(Organization, { id: delta.id });
    expect(trialStatus(await e.findOne(BillingAccount, { organization: delta.id }), now)).toBe('expired');
    const outcome = await subscribeAccounts(e, partner, [heldAccount], ACTOR, now);
    expect(outcome).toEqual({ done: ['Delta Trial Account With A Rather Long Name'], skipped: [] });
    expect((await em().findOneOrFail(Organization, { id: delta.id })).backupHold).toBeNull();
    expect(await trialCounts(em(), { id: { $in: ids } }, now)).toEqual({ in_progress: 0, expiring: 0, expired: 0 });
    await enqueueDueWork(h.ctx, at('2026-12-03T12:00:00Z'));
    expect(await em().count(Job, { task: tasks.get(delta.id) })).toBeGreaterThan(0);
  });

  it("the distributor's wholesale invoice of the partner prices the same usage: the sum of the retail quantities", async () => {
    // Retail user quantities: Alpha 15 + Beta 2 + Gamma 7 + Echo 4 (Delta: not billable) = 28 → 28 × €1.00 = 2800
    const retailUsers = await Promise.all(
      [alpha, beta, gamma, echo].map(async (o) => Number((await linesOf(o))[0]?.[1])),
    );
    expect(retailUsers.reduce((a, b) => a + b, 0)).toBe(28);
    expect(await linesOf(partner)).toEqual([['protected:user', '28', 2800]]);
    const wholesale = (await invoiceOf(partner)) as IInvoice;
    expect(wholesale.issuer.id).toBe(distributor.id);
    expect(wholesale.totalCents).toBe(2800);
    // Recomputed on demand by the partner, the drafts are the same.
    const drafts = await draftInvoicesOf(em(), partner, '2026-11', at('2026-12-02T12:00:00Z'));
    expect(drafts.map((d) => d.totalCents).sort((a, b) => a - b)).toEqual([1250, 1667, 2499, 5518]);
  });

  it("the Amount column's forecast equals each draft's total, in the same few queries for one account or a page", async () => {
    const listed = [alpha, beta, gamma, delta, echo, partner, foxtrot];
    const lastMinute = at('2026-11-30T23:59:00Z');
    const conn = h.app.kernel.orm.em.getConnection();
    const spy = vi.spyOn(conn, 'execute');
    const page = await forecasts(
      em(),
      listed.map((o) => o.id),
      lastMinute,
    );
    const pageQueries = spy.mock.calls.length;
    spy.mockClear();
    await forecasts(em(), [alpha.id], lastMinute);
    const oneQueries = spy.mock.calls.length;
    spy.mockRestore();
    expect(pageQueries).toBe(oneQueries);
    expect(pageQueries).toBeLessThanOrEqual(8);
    for (const org of listed) {
      const invoice = await invoiceOf(org);
      expect(page.get(org.id), org.name).toEqual(
        invoice ? { currency: invoice.currency, totalCents: invoice.totalCents } : undefined,
      );
    }
    expect(page.get(delta.id)).toBeUndefined();
  });

  it('issued invoices are numbered per issuer, mailed with the PDF, go overdue after the due date and are marked paid', async () => {
    const e = em();
    const issuedAt = at('2026-12-02T09:00:00Z');
    const invoices = await e.find(
      Invoice,
      { issuer: partner.id, period: '2026-11' },
      { orderBy: { account: { name: 'asc' } } },
    );
    for (const invoice of invoices) await issueInvoice(e, invoice, issuedAt, ACTOR);
    const wholesale = (await e.findOne(Invoice, { account: partner.id })) as IInvoice;
    await issueInvoice(e, wholesale, issuedAt, ACTOR);
    expect(invoices.map((i) => i.number)).toEqual([
      `${partner.code}-2026-00001`,
      `${partner.code}-2026-00002`,
      `${partner.code}-2026-00003`,
      `${partner.code}-2026-00004`,
    ]);
    expect(wholesale.number).toBe(`${distributor.code}-2026-00001`);
    const alphaInvoice = invoices.find((i) => i.account.id === alpha.id) as IInvoice;
    expect(alphaInvoice.dueAt?.toISOString()).toBe('2026-12-16T09:00:00.000Z');
    expect(shownStatus(alphaInvoice, at('2026-12-16T08:59:59Z'))).toBe('issued');
    expect(shownStatus(alphaInvoice, at('2026-12-16T09:00:01Z'))).toBe('overdue');
    await markInvoicePaid(e, alphaInvoice, at('2026-12-20T10:00:00Z'), { label: 'admin@harbour.example' });
    expect(shownStatus(alphaInvoice, at('2026-12-21T00:00:00Z'))).toBe('paid');
    const mail = await em().findOneOrFail(MailMessage, { to: 'billing@alpha.example' });
    expect(mail.subject).toBe(`Invoice ${alphaInvoice.number} from Harbour IT`);
    const file = await em().findOneOrFail(MailFile, { mail: mail.id }, { populate: ['content'] });
    expect(file.fileName).toBe(`${alphaInvoice.number}.pdf`);
    expect(
      Buffer.from(file.content as Buffer)
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');
  });

  it('the CSV of invoices and lines holds the same figures, and the PDF renders (pdftoppm) with the same totals', async () => {
    const now = at('2026-12-21T00:00:00Z');
    const rows: string[][] = [];
    for await (const row of invoiceCsvRows(em(), { issuer: partner, period: '2026-11' }, now)) rows.push(row);
    const alphaRow = rows.find((r) => r[3] === 'Alpha Dental') as string[];
    expect(alphaRow.slice(5)).toEqual([
      '2026-11',
      'Harbour Standard',
      'EUR',
      'paid',
      '2026-12-02',
      '2026-12-16',
      '2026-12-20',
      '30',
      '30',
      '45.98',
      '20.00',
      '9.20',
      '55.18',
    ]);
    const lines: string[][] = [];
    for await (const row of lineCsvRows(em(), { issuer: partner, accountId: alpha.id, period: '2026-11' }))
      lines.push(row);
    expect(lines.map((l) => [l[5], l[7], l[9]])).toEqual([
      ['protected:user', '15', '42.50'],
      ['protected:team_folder', '2', '3.00'],
      ['stored_gib', '4.75', '0.48'],
    ]);
    const pdf = await invoicePdfOf(em(), (await invoiceOf(alpha)) as IInvoice);
    const dir = mkdtempSync(join(tmpdir(), 'holdfast-invoice-'));
    writeFileSync(join(dir, 'invoice.pdf'), pdf);
    execFileSync('pdftoppm', ['-png', '-r', '80', '-singlefile', join(dir, 'invoice.pdf'), join(dir, 'invoice')]);
    expect(existsSync(join(dir, 'invoice.png'))).toBe(true);
    if (process.env.HOLDFAST_KEEP_INVOICE_PNG) writeFileSync(process.env.HOLDFAST_KEEP_INVOICE_PNG, pdf);
    const text = execFileSync('pdftotext', ['-layout', join(dir, 'invoice.pdf'), '-']).toString();
    expect(text).toContain('EUR 45.98');
    expect(text).toContain('EUR 9.20');
    expect(text).toContain('EUR 55.18');
    expect(text).toContain(`Invoice ${(await invoiceOf(alpha))?.number}`);
  });

  it('plans reject bad input with a message per field', async () => {
    await expect(
      createPlan(
        em(),
        partner,
        { name: '', currency: 'euro', period: 'monthly', meters: [{ meter: 'nonsense', measure: 'max', tiers: [] }] },
        at('2026-12-01T00:00:00Z'),
      ),
    ).rejects.toMatchObject({
      fields: {
        name: 'Enter a name.',
        currency: 'A three-letter currency code, such as EUR or USD.',
        meters: 'Unknown meter.',
      },
    });
    expect(await em().count(PricePlan, { issuer: partner.id })).toBe(1);
  });
});
