// MSP billing on a large partner (issue 24): BENCH_BILLING_ACCOUNTS (2,000) customer accounts
// under one partner, each with a month of daily usage samples (all protected items and one entity
// kind), priced by a plan of three meters. Timed: the month's drafts of every account (what the
// maintenance and Prepare invoices do), the partner's wholesale quantity over its whole subtree,
// and the Accounts page's Amount column (the forecast of a page of 25 rows). Baseline: reading the
// month's samples of the subtree once, without pricing. Peak RSS is printed: memory grows with
// the accounts of one page of drafts, not with the samples of the subtree.
import { loadConfig } from '../config/load.ts';
import { type Kernel, openKernel } from '../core/appliance.ts';
import { monthSpan } from '../core/billing/billable-days.ts';
import { forecasts } from '../core/billing/billing-status.ts';
import { BillingAccount } from '../core/billing/entities.ts';
import { draftInvoicesOf } from '../core/billing/invoices.ts';
import { meterAccount } from '../core/billing/metering.ts';
import { createPlan } from '../core/billing/plans.ts';
import { type IOrganization, Organization } from '../core/identity/entities.ts';
import { createLogger } from '../core/logging.ts';
import { tempDir } from '../tests/helpers/config.ts';
import { row, summarize } from './stats.ts';

const ACCOUNTS = Number(process.env.BENCH_BILLING_ACCOUNTS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MONTH = '2026-11';

async function time<T>(run: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await run();
  return [performance.now() - start, value];
}

async function seed(kernel: Kernel): Promise<IOrganization> {
  const em = kernel.orm.em.fork();
  const root = await em.findOneOrFail(Organization, { kind: 'root' });
  const partnerId = crypto.randomUUID();
  const partner = em.create(Organization, {
    id: partnerId,
    kind: 'partner',
    name: 'Bench partner',
    parent: root,
    path: `${root.path}${partnerId}/`,
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
  await em.flush();
  const span = monthSpan(MONTH);
  const conn = em.getConnection();
  for (let i = 0; i < ACCOUNTS; i += 100) {
    const ids: string[] = [];
    for (let j = i; j < Math.min(ACCOUNTS, i + 100); j++) {
      const id = crypto.randomUUID();
      em.create(Organization, {
        id,
        kind: 'customer',
        name: `Customer ${String(j).padStart(5, '0')}`,
        parent: partner,
        path: `${partner.path}${id}/`,
        createdAt: new Date(Date.UTC(2026, 10, 1 + (j % 20))),
      });
      ids.push(id);
    }
    await em.flush();
    // One multi-row insert per table and batch (a few thousand rows each).
    const samples: unknown[] = [];
    const kinds: unknown[] = [];
    for (const [k, id] of ids.entries()) {
      for (let d = 0; d < span.days; d++) {
        const day = `${MONTH}-${String(d + 1).padStart(2, '0')}`;
        samples.push(id, day, 20 + ((k + d) % 7), 8e9, 3e9 + d * 1e7);
        kinds.push(id, day, 'member', 15 + ((k + d) % 5));
      }
    }
    await conn.execute(
      `insert into usage_samples (organization_id, day, protected, logical_bytes, stored_bytes) values ${Array(
        samples.length / 5,
      )
        .fill('(?, ?, ?, ?, ?)')
        .join(', ')}`,
      samples,
      'run',
    );
    await conn.execute(
      `insert into usage_kind_samples (organization_id, day, kind, protected) values ${Array(kinds.length / 4)
        .fill('(?, ?, ?, ?)')
        .join(', ')}`,
      kinds,
      'run',
    );
  }
  const plan = await createPlan(
    em,
    partner,
    {
      name: 'Bench plan',
      currency: 'EUR',
      period: 'monthly',
      minimumCents: 2500,
      meters: [
        {
          meter: 'protected:member',
          measure: 'max',
          tiers: [
            { upTo: 10, unitCents: 300 },
            { upTo: null, unitCents: 250 },
          ],
        },
        { meter: 'protected', measure: 'average', tiers: [{ upTo: null, unitCents: 50 }] },
        { meter: 'stored_gib', measure: 'average', tiers: [{ upTo: null, unitCents: 12 }] },
      ],
    },
    new Date(),
  );
  em.create(BillingAccount, { organization: partner, defaultPlan: plan, updatedAt: new Date() });
  await em.flush();
  return partner;
}

export async function benchBilling(): Promise<void> {
  const dir = tempDir('holdfast-bench-');
  const kernel = await openKernel(
    loadConfig({ env: { HOLDFAST_DATA_DIR: dir.path, HOLDFAST_LOG_LEVEL: 'silent' } }),
    createLogger('silent'),
  );
  try {
    const em0 = kernel.orm.em.fork();
    if (!(await em0.count(Organization, { kind: 'root' }))) {
      em0.create(Organization, { id: 'root-bench', kind: 'root', name: 'Root', path: '/root-bench/' });
      await em0.flush();
    }
    const [seedMs, partner] = await time(() => seed(kernel));
    console.log(`\nMSP billing — ${ACCOUNTS} accounts × 30 days of samples (seeded in ${Math.round(seedMs)} ms)`);
    const baseline: number[] = [];
    const drafts: number[] = [];
    const wholesale: number[] = [];
    const amount: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      baseline.push(
        (
          await time(() =>
            kernel.orm.em
              .fork()
              .getConnection()
              .execute(
                'select s.organization_id, s.day, s.protected, s.stored_bytes from usage_samples s join organizations o on o.id = s.organization_id where o.path >= ? and o.path < ? and s.day >= ? and s.day < ?',
                [partner.path, `${partner.path.slice(0, -1)}0`, '2026-11-01', '2026-12-01'],
                'all',
              ),
          )
        )[0],
      );
      drafts.push((await time(() => draftInvoicesOf(kernel.orm.em.fork(), partner, MONTH, new Date())))[0]);
      wholesale.push(
        (
          await time(() =>
            meterAccount(
              kernel.orm.em.fork(),
              partner,
              [{ meter: 'protected:member', measure: 'max', tiers: [{ upTo: null, unitCents: 100 }] }],
              'monthly',
              monthSpan(MONTH),
            ),
          )
        )[0],
      );
      const page = await kernel.orm.em.fork().find(Organization, { parent: partner.id }, { limit: 25 });
      amount.push(
        (
          await time(() =>
            forecasts(
              kernel.orm.em.fork(),
              page.map((o) => o.id),
              new Date('2026-11-20T12:00:00Z'),
            ),
          )
        )[0],
      );
    }
    const base = summarize(baseline).median;
    console.log(row('baseline: the month’s samples of the subtree, read once', summarize(baseline), 'ms'));
    const d = summarize(drafts);
    console.log(row(`drafts of every account (${(d.median / ACCOUNTS).toFixed(2)} ms each)`, d, 'ms'));
    console.log(`  ratio to baseline: ${(d.median / base).toFixed(1)}×`);
    const w = summarize(wholesale);
    console.log(row('wholesale quantity of the partner (whole subtree)', w, 'ms'));
    console.log(`  ratio to baseline: ${(w.median / base).toFixed(1)}×`);
    console.log(row('Amount column: forecast of a page of 25 accounts', summarize(amount), 'ms'));
    console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
  } finally {
    await kernel.close();
    dir.remove();
  }
}

if (import.meta.main) await benchBilling();
