// Annual plans mid-term (issue 24, docs/BILLING.md "Billable days, pro-rating, wholesale"):
// November 2026 to January 2027 simulated with a moved clock — the hourly maintenance runs at
// 23:00 every day, samples the usage history and drafts each month's invoices on the 1st. Oak
// Legal and its partner Cedar IT start on 5 Nov 2026 (term 5 Nov 2026 – 4 Nov 2027, 365 days);
// Oak adds users in December and January, archives some in December (not refunded) and stores
// more in January; Pine Clinic starts on 14 Dec on an annual plan and does not grow. Every line
// is checked against the hand computation written out below, Cedar's wholesale true-ups against
// Oak's retail ones (same quantities and days, amounts differing by the price only), and the
// Amount column's forecast against the drafts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forecasts } from '../../../core/billing/billing-status.ts';
import { BillingAccount, type IInvoice, Invoice } from '../../../core/billing/entities.ts';
import { draftInvoice, invoiceLines } from '../../../core/billing/invoices.ts';
import { createPlan } from '../../../core/billing/plans.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { runMaintenance } from '../../../core/maintenance.ts';
import { TaskEntity } from '../../../core/tasks/entities.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { completeSetupVia } from '../../helpers/kernel.ts';
import { makeOrganization, rootOf } from '../../helpers/tenants.ts';
import { usageFixtures } from './usage-fixtures.ts';

const GIB = 1024 ** 3;
let h: JobsHarness;
const em = () => h.em();
let cedar: IOrganization;
let oak: IOrganization;
let pine: IOrganization;
const { tasks, entities, setStatus } = usageFixtures(em);
const at = (iso: string) => new Date(iso);

async function account(parent: IOrganization, name: string, createdAt: string): Promise<IOrganization> {
  const org = await makeOrganization(em(), parent, parent.kind === 'distributor' ? 'partner' : 'customer', name);
  await em().nativeUpdate(Organization, { id: org.id }, { createdAt: at(createdAt) });
  return em().findOneOrFail(Organization, { id: org.id });
}

async function invoiceOf(org: IOrganization, period: string): Promise<IInvoice | null> {
  return em().findOne(Invoice, { account: org.id, period });
}

async function linesOf(org: IOrganization, period: string) {
  const invoice = (await invoiceOf(org, period)) as IInvoice;
  return (await invoiceLines(em(), invoice)).map((l) => [l.meter, l.quantity, l.amountCents]);
}

async function descriptionsOf(org: IOrganization, period: string) {
  return (await invoiceLines(em(), (await invoiceOf(org, period)) as IInvoice)).map((l) => l.description);
}

beforeAll(async () => {
  h = await createJobsHarness();
  await completeSetupVia(h.app.app);
  const root = await rootOf(em());
  const summit = await account(root, 'Summit Distribution', '2026-09-01T00:00:00Z');
  cedar = await account(summit, 'Cedar IT', '2026-11-05T10:00:00Z');
  oak = await account(cedar, 'Oak Legal', '2026-11-05T11:00:00Z');
  const birch = await account(summit, 'Birch IT', '2026-09-01T00:00:00Z');
  pine = await account(birch, 'Pine Clinic', '2026-12-14T09:00:00Z');
  await entities(oak, [
    ['user', 'user', 6, true, 0],
    ['new', 'user', 10, false, 0],
    ['folder', 'team_folder', 1, true, 10 * GIB],
  ]);
  await entities(pine, [['user', 'user', 4, true, 0]]);

  const created = at('2026-10-01T00:00:00Z');
  // Cedar's retail plan for Oak: users in two bands a year, stored GiB averaged, a minimum.
  const retail = await createPlan(
    em(),
    cedar,
    {
      name: 'Cedar yearly',
      currency: 'EUR',
      period: 'annual',
      minimumCents: 10000,
      meters: [
        {
          meter: 'protected:user',
          measure: 'max',
          tiers: [
            { upTo: 5, unitCents: 3000 },
            { upTo: null, unitCents: 2400 },
          ],
        },
        { meter: 'stored_gib', measure: 'average', tiers: [{ upTo: null, unitCents: 120 }] },
      ],
    },
    created,
  );
  // Summit's wholesale price of a protected user a year, paid by its partners.
  const wholesale = await createPlan(
    em(),
    summit,
    {
      name: 'Summit wholesale yearly',
      currency: 'EUR',
      period: 'annual',
      meters: [{ meter: 'protected:user', measure: 'max', tiers: [{ upTo: null, unitCents: 1200 }] }],
    },
    created,
  );
  const birchPlan = await createPlan(
    em(),
    birch,
    {
      name: 'Birch yearly',
      currency: 'EUR',
      period: 'annual',
      meters: [{ meter: 'protected:user', measure: 'max', tiers: [{ upTo: null, unitCents: 3600 }] }],
    },
    created,
  );
  const b = em();
  b.create(BillingAccount, { organization: summit.id, defaultPlan: wholesale.id, updatedAt: created });
  b.create(BillingAccount, { organization: cedar.id, defaultPlan: retail.id, updatedAt: created });
  b.create(BillingAccount, { organization: birch.id, defaultPlan: birchPlan.id, updatedAt: created });
  b.create(BillingAccount, { organization: oak.id, taxRateBasisPoints: 1000, updatedAt: created });
  await b.flush();

  for (let t = Date.parse('2026-11-04T23:00:00Z'); t <= Date.parse('2027-01-31T23:00:00Z'); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    if (day === '2026-12-10') await setStatus(oak, 'new', [1, 2, 3], 'scheduled');
    if (day === '2026-12-18') await setStatus(oak, 'new', [4, 5], 'scheduled');
    if (day === '2026-12-20') await setStatus(oak, 'user', [1, 2, 3, 4], 'archived');
    if (day === '2027-01-05') await setStatus(oak, 'new', [6, 7], 'scheduled');
    if (day === '2027-01-16') {
      await em().nativeUpdate(
        TaskEntity,
        { task: tasks.get(oak.id), externalId: 'Oak Legal-folder-1' },
        { storedBytes: 16 * GIB },
      );
    }
    if (day === '2027-01-20') await setStatus(oak, 'new', [8, 9, 10], 'scheduled');
    await runMaintenance(h.app.kernel.orm, h.app.kernel.deps.log, new Date(t));
  }
  await runMaintenance(h.app.kernel.orm, h.app.kernel.deps.log, at('2027-02-01T01:00:00Z'));
}, 180_000);

afterAll(async () => {
  await h.close();
});

describe('annual plans mid-term, simulated with a moved clock', () => {
  it("bills the term up front in its first month at that month's quantity", async () => {
    // users: maximum 6 = 5 × €30.00 + 1 × €24.00 = 17400; stored: average 10 GiB × €1.20 = 1200
    // subtotal 18600 ≥ minimum 10000; tax 10 % = 1860; total 20460
    expect(await linesOf(oak, '2026-11')).toEqual([
      ['protected:user', '6', 17400],
      ['stored_gib', '10', 1200],
    ]);
    expect(await invoiceOf(oak, '2026-11')).toMatchObject({ subtotalCents: 18600, taxCents: 1860, totalCents: 20460 });
    expect((await descriptionsOf(oak, '2026-11'))[0]).toBe(
      'Protected items: Users (maximum over the first month of the term 5 Nov 2026 – 4 Nov 2027, prepaid: decreases are not refunded)',
    );
  });

  it('adds each rise above the highest billed quantity, pro-rated from its day; decreases are not refunded', async () => {
    // Users 6 → 9 on Dec 10 (term days left 365 − 35 = 330), → 11 on Dec 18 (322 left), → 7 on Dec 20.
    // Above the 6 billed: units 7–9 and 10–11, all in the €24.00 band:
    // (3 × 2400 × 330 + 2 × 2400 × 322) / 365 = 3921600 / 365 = 10744.11 → 10744
    // Stored: average 10 GiB, not above the 10 billed: no line. No minimum on a true-up.
    // tax 10 % of 10744 = 1074.4 → 1074; total 11818
    expect(await linesOf(oak, '2026-12')).toEqual([['protected:user', '5', 10744]]);
    expect(await invoiceOf(oak, '2026-12')).toMatchObject({ subtotalCents: 10744, taxCents: 1074, totalCents: 11818 });
    expect(await descriptionsOf(oak, '2026-12')).toEqual([
      'Mid-term addition: Protected items: Users above the 6 billed in the term 5 Nov 2026 – 4 Nov 2027, from 10 Dec 2026 (330 of 365 days; prepaid: decreases are not refunded)',
    ]);
  });

  it('measures a later month against the highest of the term, averages included', async () => {
    // Users 7 → 9 on Jan 5 (not above the 11 billed), → 12 on Jan 20 (365 − 76 = 289 days left):
    // 1 × 2400 × 289 / 365 = 1900.27 → 1900.
    // Stored 10 → 16 GiB on Jan 16: average (15 × 10 + 16 × 16) / 31 = 406/31 = 13.0968, above the
    // 10 billed by 96/31 = 3.0968, an average counted from the month's first day (365 − 57 = 308 left):
    // 120 × 96/31 × 308/365 = 3548160 / 11315 = 313.58 → 314
    // subtotal 2214; tax 221.4 → 221; total 2435
    expect(await linesOf(oak, '2027-01')).toEqual([
      ['protected:user', '1', 1900],
      ['stored_gib', '3.0968', 314],
    ]);
    expect(await invoiceOf(oak, '2027-01')).toMatchObject({ subtotalCents: 2214, taxCents: 221, totalCents: 2435 });
  });

  it('an account starting mid-month starts its term that day; a later month without additions has no invoice', async () => {
    // Pine: 4 users × €36.00 = 14400, term 14 Dec 2026 – 13 Dec 2027
    expect(await linesOf(pine, '2026-12')).toEqual([['protected:user', '4', 14400]]);
    expect((await descriptionsOf(pine, '2026-12'))[0]).toContain('term 14 Dec 2026 – 13 Dec 2027');
    expect(await invoiceOf(pine, '2027-01')).toBeNull();
    expect(await draftInvoice(em(), pine, '2027-01', at('2027-02-02T00:00:00Z'))).toBeNull();
    expect(await invoiceOf(pine, '2026-11')).toBeNull();
  });

  it("the distributor's wholesale true-ups come from the partner's retail quantities and days: the amounts differ by price only", async () => {
    // Cedar started on Nov 5 like Oak, its only customer: same term, same quantities, same days.
    // Nov: 6 × 1200 = 7200. Dec: (3 × 1200 × 330 + 2 × 1200 × 322) / 365 = 1960800 / 365 = 5372.05 → 5372
    // (Oak's exact 3921600 / 365 at €24.00 is twice that at €12.00). Jan: 1200 × 289 / 365 = 950.14 → 950.
    expect(await linesOf(cedar, '2026-11')).toEqual([['protected:user', '6', 7200]]);
    expect(await linesOf(cedar, '2026-12')).toEqual([['protected:user', '5', 5372]]);
    expect(await linesOf(cedar, '2027-01')).toEqual([['protected:user', '1', 950]]);
    for (const period of ['2026-11', '2026-12', '2027-01']) {
      const [wholesaleUsers] = await linesOf(cedar, period);
      const [retailUsers] = await linesOf(oak, period);
      expect(wholesaleUsers?.[1], period).toBe(retailUsers?.[1]);
    }
    expect((await descriptionsOf(cedar, '2026-12'))[0]).toBe((await descriptionsOf(oak, '2026-12'))[0]);
    expect((await invoiceOf(cedar, '2026-12'))?.issuer.id).not.toBe((await invoiceOf(oak, '2026-12'))?.issuer.id);
  });

  it("the Amount column's forecast on a month's last minute equals the drafts", async () => {
    const page = await forecasts(em(), [oak.id, cedar.id, pine.id], at('2027-01-31T23:59:00Z'));
    expect(page.get(oak.id)).toEqual({ currency: 'EUR', totalCents: 2435 });
    expect(page.get(cedar.id)).toEqual({ currency: 'EUR', totalCents: 950 });
    expect(page.get(pine.id)).toBeUndefined();
  });
});
