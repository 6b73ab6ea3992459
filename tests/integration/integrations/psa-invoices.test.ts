// Issued invoices marked paid by a PSA integration (issue 24, docs/BILLING.md "PSA"), against the
// Autotask and ConnectWise stand-ins on loopback (tests/fakes/psa/): the MSP records the
// appliance's invoice in its PSA with the invoice number as the reference (ConnectWise's
// `reference`, Autotask's Purchase Order Number) and takes the payment there; the integration's
// hourly check marks the invoice paid "by the integration", audited once, never for an account
// without a company mapping nor for an invoice the PSA still has open; a PSA refusing the
// credentials makes the integration Failing (one exceptions mail) and the check is retried until
// it answers.
import { describe, expect, it } from 'vitest';
import type { Kernel } from '../../../core/appliance.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { type IInvoice, Invoice } from '../../../core/billing/entities.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Integration } from '../../../core/integrations/entities.ts';
import { createIntegration, integrationState } from '../../../core/integrations/integrations.ts';
import { mapCompany } from '../../../core/integrations/psa-companies.ts';
import { type IntegrationDeps, runIntegrationSender } from '../../../core/integrations/sender.ts';
import { createRecipient } from '../../../core/notifications/recipients.ts';
import { runNotificationSender } from '../../../core/notifications/sender.ts';
import type { AutotaskStandIn } from '../../fakes/psa/autotask.ts';
import type { PsaStandIn } from '../../fakes/psa/common.ts';
import { AUTOTASK, CONNECTWISE, type PsaConnection } from '../../fakes/psa/connections.ts';
import type { ConnectwiseStandIn } from '../../fakes/psa/connectwise.ts';
import { cleanUpAfterEach, mailedAppliance, silentLog } from '../../helpers/integration-world.ts';
import { makeOrganization } from '../../helpers/tenants.ts';

const cleanUp = cleanUpAfterEach();
const log = silentLog;
const ACTOR = { label: 'tech@msp.example', id: 'u1', ip: '192.0.2.7' };

/** A stand-in's connection, and how the MSP records and pays an invoice in it. */
interface Psa extends PsaConnection {
  /** The MSP records the appliance's invoice in the PSA (its own invoice, our number as the reference). */
  record(s: PsaStandIn, companyId: number, number: string, total: number): number;
  /** The payment taken in the PSA. */
  pay(s: PsaStandIn, id: number): Promise<void>;
}

const PSAS: Psa[] = [
  {
    ...AUTOTASK,
    record: (s, companyID, number, total) => {
      const invoices = (s as AutotaskStandIn).invoices;
      const id = 5000 + invoices.length;
      invoices.push({
        id,
        companyID,
        invoiceNumber: String(id),
        orderNumber: number,
        invoiceTotal: total,
        paidDate: null,
        isVoided: false,
      });
      return id;
    },
    pay: async (s, id) => {
      const invoice = (s as AutotaskStandIn).invoices.find((i) => i.id === id);
      if (invoice) invoice.paidDate = '2026-12-20T00:00:00';
    },
  },
  {
    ...CONNECTWISE,
    record: (s, company, number, total) => {
      const invoices = (s as ConnectwiseStandIn).invoices;
      const id = 7000 + invoices.length;
      invoices.push({
        id,
        invoiceNumber: `CW${id}`,
        type: 'Standard',
        company: { id: company },
        reference: number,
        total,
        payments: 0,
        credits: 0,
        balance: total,
      });
      return id;
    },
    pay: async (s, id) => {
      const cw = s as ConnectwiseStandIn;
      const invoice = cw.invoices.find((i) => i.id === id);
      const res = await fetch(`${cw.url}/v4_6_release/apis/3.0/finance/invoices/${id}/payments`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${cw.companyId}+${cw.publicKey}:${cw.privateKey}`).toString('base64')}`,
          clientid: cw.clientId,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ type: 'Payment', amount: invoice?.total, paymentDate: '2026-12-20T00:00:00Z' }),
      });
      expect(res.status).toBe(201);
    },
  },
];

let sequence = 0;

/** An issued invoice of the partner to the account. */
async function issued(k: Kernel, issuer: IOrganization, account: IOrganization, totalCents: number) {
  const em = k.orm.em.fork();
  const seq = ++sequence;
  const invoice = em.create(Invoice, {
    issuer: issuer.id,
    account: account.id,
    period: `${2000 + seq}-11`,
    planName: 'Standard',
    currency: 'EUR',
    status: 'issued',
    sequence: seq,
    number: `MSP-2026-${String(seq).padStart(5, '0')}`,
    subtotalCents: totalCents,
    taxRateBasisPoints: 0,
    taxCents: 0,
    totalCents,
    billableDays: 30,
    monthDays: 30,
    createdAt: new Date('2026-12-01T00:00:00Z'),
    issuedAt: new Date('2026-12-02T09:00:00Z'),
    dueAt: new Date('2026-12-16T09:00:00Z'),
  });
  await em.flush();
  return invoice;
}

describe.each(PSAS)('$label marks issued invoices paid', (p) => {
  it('once the PSA has them paid, hourly, audited once; retried through a refusal with one mail', async () => {
    const { smtp, open } = await mailedAppliance(cleanUp);
    const psa = await p.start();
    cleanUp(() => psa.close());
    const k = await open();
    cleanUp(() => k.close());
    const deps: IntegrationDeps = { orm: k.orm, cipher: k.credentials, settings: k.deps.config, log };
    const t0 = new Date('2026-12-20T10:00:00Z');
    const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
    const pass = (seconds: number) => runIntegrationSender(deps, at(seconds));

    const em = k.orm.em.fork();
    const id = crypto.randomUUID();
    const root = em.create(Organization, { id, kind: 'root', path: `/${id}/`, name: 'Appliance' });
    await em.flush();
    const distributor = await makeOrganization(em, root, 'distributor', 'Dist One');
    const partner = await makeOrganization(em, distributor, 'partner', 'MSP One');
    const northwind = await makeOrganization(em, partner, 'customer', 'Northwind');
    const contoso = await makeOrganization(em, partner, 'customer', 'Contoso');
    await createRecipient(em, partner, { email: 'noc@msp.example', displayName: 'NOC', types: ['exceptions'] }, t0);
    const integration = await createIntegration(
      k.orm.em.fork(),
      k.credentials,
      partner,
      { kind: p.kind, streams: [], settings: p.settings(psa), secret: p.secret },
      { allowPrivate: true },
      ACTOR,
      t0,
    );
    await mapCompany(
      k.orm.em.fork(),
      partner,
      integration,
      northwind.id,
      String(p.northwind),
      { cipher: k.credentials, allowPrivate: true },
      ACTOR,
      t0,
    );
    const paidInPsa = await issued(k, partner, northwind, 5518);
    const openInPsa = await issued(k, partner, northwind, 1250);
    const unmapped = await issued(k, partner, contoso, 999);
    await p.pay(psa, p.record(psa, p.northwind, paidInPsa.number as string, 55.18));
    const openId = p.record(psa, p.northwind, openInPsa.number as string, 12.5);
    // Contoso has no company mapping: its invoice is never looked for, even if the PSA had one.
    await p.pay(psa, p.record(psa, p.northwind, unmapped.number as string, 9.99));

    const state = async (invoice: IInvoice) => {
      const row = await k.orm.em.fork().findOneOrFail(Invoice, { id: invoice.id });
      return [row.status, row.paidBy];
    };
    const paidAudits = () => k.orm.em.fork().find(AuditEvent, { activity: 'Invoice paid' }, { orderBy: { id: 'asc' } });
    // The integration's calls about invoices (not the payments the test takes in the PSA).
    const invoiceCalls = () => psa.requests.filter((r) => /invoices/i.test(r.path) && !/payments/.test(r.path)).length;

    await pass(1);
    expect(await state(paidInPsa)).toEqual(['paid', `${p.label} integration`]);
    expect(await state(openInPsa)).toEqual(['issued', null]);
    expect(await state(unmapped)).toEqual(['issued', null]);
    expect((await paidAudits()).map((a) => [a.organization?.id, a.account, a.performedBy, a.description])).toEqual([
      [
        partner.id,
        'Northwind',
        `${p.label} integration`,
        `Marked invoice ${paidInPsa.number} of Northwind paid: EUR 55.18.`,
      ],
    ]);

    // The check's time is kept with the integration, not in this process: whichever node sends
    // next (the sender's lease moves between nodes) knows the PSA was asked.
    const checkedAt = async () =>
      (await k.orm.em.fork().findOneOrFail(Integration, { id: integration.id })).invoicesCheckedAt;
    expect(await checkedAt()).toEqual(at(1));

    // Within the hour: the PSA is not asked again.
    const calls = invoiceCalls();
    await pass(600);
    expect(invoiceCalls()).toBe(calls);

    // Paid in the PSA later: the next hourly check marks it; the one paid before is not asked about again.
    await p.pay(psa, openId);
    await pass(3601);
    expect(await state(openInPsa)).toEqual(['paid', `${p.label} integration`]);
    expect(await paidAudits()).toHaveLength(2);
    expect(invoiceCalls() - calls).toBe(2);
    expect(await checkedAt()).toEqual(at(3601));

    // The PSA refuses the credentials: Failing, one mail, retried with the backoff until it answers.
    const late = await issued(k, partner, northwind, 4200);
    await p.pay(psa, p.record(psa, p.northwind, late.number as string, 42));
    psa.revokeCredentials();
    for (const s of [7202, 7263, 7384]) {
      await pass(s);
      await runNotificationSender(k.orm, k.deps.mailer, k.deps.config, log, at(s));
    }
    const failing = await k.orm.em.fork().findOneOrFail(Integration, { id: integration.id });
    expect(integrationState(failing)).toBe('failing');
    expect(failing.lastError).toBe(p.refusal);
    expect(failing.attempts).toBe(3);
    expect(await state(late)).toEqual(['issued', null]);
    expect(smtp.received.map((m) => m.subject)).toEqual([
      expect.stringMatching(new RegExp(`^Integration failing: ${p.label} \\(.*\\) \\(MSP One\\)$`)),
    ]);
    psa.restoreCredentials();
    await pass(7625);
    expect(await state(late)).toEqual(['paid', `${p.label} integration`]);
    expect(await k.orm.em.fork().findOneOrFail(Integration, { id: integration.id })).toMatchObject({
      failingSince: null,
      attempts: 0,
    });
    expect(await paidAudits()).toHaveLength(3);
  });
});
