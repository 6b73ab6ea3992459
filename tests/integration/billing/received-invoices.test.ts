// Invoices seen by those they are addressed to (issue 24; seed 000 §4.2–4.4, seed 003): the
// appliance owner bills a distributor wholesale, the distributor its partner, the partner its
// customer. Each organization reads (page and PDF) the issued invoices addressed to it and the
// ones it issued, never a draft addressed to it nor anyone else's (404), and changes only its
// own. History, Unpaid bills (due / overdue totals) and Payment details (never card data) are
// every organization's, customer accounts included.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BillingAccount, type IInvoice, Invoice, InvoiceLine } from '../../../core/billing/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let distributor: IOrganization;
let partner: IOrganization;
let otherPartner: IOrganization;
let customer: IOrganization;
const cookies: Record<string, string> = {};
const inv: Record<string, IInvoice> = {};
const em = () => t.kernel.orm.em.fork();
const DAY = 86_400_000;

async function invoice(
  issuer: IOrganization,
  account: IOrganization,
  period: string,
  status: 'draft' | 'issued' | 'paid',
  totalCents: number,
  dueInDays = 14,
): Promise<IInvoice> {
  const e = em();
  const now = Date.now();
  const seq = status === 'draft' ? null : Math.floor(Math.random() * 1e6);
  const made = e.create(Invoice, {
    issuer: issuer.id,
    account: account.id,
    period,
    planName: 'Plan',
    currency: 'EUR',
    status,
    sequence: seq,
    number: seq === null ? null : `${issuer.name.slice(0, 3).toUpperCase()}-2026-${String(seq).padStart(6, '0')}`,
    subtotalCents: totalCents,
    taxRateBasisPoints: 0,
    taxCents: 0,
    totalCents,
    billableDays: 30,
    monthDays: 30,
    createdAt: new Date(now),
    issuedAt: status === 'draft' ? null : new Date(now - 20 * DAY),
    dueAt: status === 'draft' ? null : new Date(now + dueInDays * DAY),
    paidAt: status === 'paid' ? new Date(now) : null,
  });
  await e.flush();
  return made;
}

const get = (who: string, path: string) => t.app.request(path, { headers: { cookie: cookies[who] as string } });
const post = (who: string, path: string, fields: [string, string][] = []) =>
  t.app.request(path, {
    method: 'POST',
    headers: { cookie: cookies[who] as string, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
const invoiceLinks = (html: string) =>
  [...html.matchAll(/href="\/billing\/invoices\/([0-9a-f-]{36})"/g)].map((m) => m[1]).sort();
const ids = (...names: string[]) => names.map((n) => (inv[n] as IInvoice).id).sort();

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  root = await rootOf(em());
  distributor = await makeOrganization(em(), root, 'distributor', 'Northwind Distribution');
  partner = await makeOrganization(em(), distributor, 'partner', 'Harbour IT');
  otherPartner = await makeOrganization(em(), distributor, 'partner', 'Other Partner');
  customer = await makeOrganization(em(), partner, 'customer', 'Pottery With A Rather Long Name Limited');
  const otherCustomer = await makeOrganization(em(), otherPartner, 'customer', 'Other Customer');
  inv.wholesale = await invoice(root, distributor, '2026-10', 'issued', 10_000);
  inv.wholesaleDraft = await invoice(root, distributor, '2026-11', 'draft', 11_000);
  inv.toPartner = await invoice(distributor, partner, '2026-10', 'paid', 5_000);
  inv.toPartnerOverdue = await invoice(distributor, partner, '2026-11', 'issued', 5_500, -3);
  inv.toOtherPartner = await invoice(distributor, otherPartner, '2026-10', 'issued', 4_000);
  inv.toCustomer = await invoice(partner, customer, '2026-10', 'issued', 1_234);
  inv.toCustomerDraft = await invoice(partner, customer, '2026-11', 'draft', 1_300);
  inv.toOtherCustomer = await invoice(otherPartner, otherCustomer, '2026-10', 'issued', 999);
  for (const [who, org] of [
    ['distributor', distributor],
    ['partner', partner],
    ['customer', customer],
  ] as const) {
    await makeUser(em(), org, `admin@${who}.example`);
    cookies[who] = await signIn(t.app, `admin@${who}.example`, TEST_PASSWORD);
  }
  await makeUser(em(), customer, 'viewer@customer.example', { role: 'custom', permissions: ['view_dashboard'] });
  cookies.viewer = await signIn(t.app, 'viewer@customer.example', TEST_PASSWORD);
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('invoices seen by those they are addressed to', () => {
  it('lists in History the issued invoices addressed to each organization, never a draft', async () => {
    expect(invoiceLinks(await (await get('distributor', '/billing/history')).text())).toEqual(ids('wholesale'));
    expect(invoiceLinks(await (await get('partner', '/billing/history')).text())).toEqual(
      ids('toPartner', 'toPartnerOverdue'),
    );
    expect(invoiceLinks(await (await get('customer', '/billing/history')).text())).toEqual(ids('toCustomer'));
  });

  it("lists on a portal's Status the invoices it issued", async () => {
    const distributorStatus = await (await get('distributor', '/billing?period=2026-10')).text();
    expect(invoiceLinks(distributorStatus)).toEqual(ids('toPartner', 'toOtherPartner'));
    const partnerStatus = await (await get('partner', '/billing?period=2026-10')).text();
    expect(invoiceLinks(partnerStatus)).toEqual(ids('toCustomer'));
  });

  it('opens a customer account’s Billing at History, with no Status tab', async () => {
    const res = await get('customer', '/billing');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/billing/history');
    const html = await (await get('customer', '/billing/history')).text();
    expect(
      [...html.matchAll(/<nav class="tabs" aria-label="Billing sections">([\s\S]*?)<\/nav>/g)][0]?.[1],
    ).not.toContain('>Status<');
    expect(html).toContain('>Payment details<');
  });

  it('opens the invoice page and PDF for its issuer and its recipient, read-only for the recipient', async () => {
    for (const who of ['partner', 'customer']) {
      const res = await get(who, `/billing/invoices/${inv.toCustomer?.id}`);
      expect(res.status, who).toBe(200);
      const html = await res.text();
      expect(html.includes('/paid"><button'), who).toBe(who === 'partner');
      const pdf = await get(who, `/billing/invoices/${inv.toCustomer?.id}/pdf`);
      expect(pdf.headers.get('content-type'), who).toBe('application/pdf');
    }
    expect((await post('customer', `/billing/invoices/${inv.toCustomer?.id}/paid`)).status).toBe(404);
    expect((await em().findOneOrFail(Invoice, { id: inv.toCustomer?.id as string })).status).toBe('issued');
  });

  it("answers 404 for a draft addressed to you and for anyone else's invoice", async () => {
    const refused: [string, string][] = [
      ['distributor', 'wholesaleDraft'],
      ['customer', 'toCustomerDraft'],
      ['customer', 'toPartner'],
      ['customer', 'toOtherCustomer'],
      ['partner', 'wholesale'],
      ['partner', 'toOtherPartner'],
      ['partner', 'toOtherCustomer'],
      ['distributor', 'toCustomer'],
    ];
    for (const [who, name] of refused) {
      for (const suffix of ['', '/pdf']) {
        const res = await get(who, `/billing/invoices/${inv[name]?.id}${suffix}`);
        expect(res.status, `${who} ${name}${suffix}`).toBe(404);
      }
    }
  });

  it('reads the invoices addressed to it through the API: list by month and status, lines, PDF; 404 otherwise', async () => {
    const e = em();
    e.create(InvoiceLine, {
      invoice: inv.toCustomer?.id as string,
      position: 0,
      meter: 'protected:user',
      description: 'Users (maximum over the month)',
      quantity: '4',
      amountCents: 1_234,
    });
    await e.flush();
    const api = async (who: string, path: string) => {
      const res = await get(who, `/api/v1/organizations/${path}`);
      return {
        status: res.status,
        body: res.headers.get('content-type')?.startsWith('application/json') ? await res.json() : null,
        res,
      };
    };
    const listed = async (who: string, org: IOrganization, query = '') =>
      (
        (await api(who, `${org.id}/received-invoices${query}`)).body as { invoices: { id: string; status: string }[] }
      ).invoices.map((i) => [i.id, i.status]);
    // Most recently issued first.
    await em().nativeUpdate(
      Invoice,
      { id: inv.toPartner?.id as string },
      { issuedAt: new Date(Date.now() - 40 * DAY) },
    );
    expect(await listed('partner', partner)).toEqual([
      [inv.toPartnerOverdue?.id, 'overdue'],
      [inv.toPartner?.id, 'paid'],
    ]);
    expect(await listed('partner', partner, '?status=overdue')).toEqual([[inv.toPartnerOverdue?.id, 'overdue']]);
    expect(await listed('partner', partner, '?status=issued')).toEqual([]);
    expect(await listed('partner', partner, '?period=2026-10')).toEqual([[inv.toPartner?.id, 'paid']]);
    expect(await listed('distributor', distributor)).toEqual([[inv.wholesale?.id, 'issued']]);
    // The partner reads what its customer received too (the customer is in its reach).
    expect(await listed('partner', customer)).toEqual([[inv.toCustomer?.id, 'issued']]);
    expect((await api('customer', `${customer.id}/received-invoices?status=draft`)).status).toBe(422);

    const one = await api('customer', `${customer.id}/received-invoices/${inv.toCustomer?.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: inv.toCustomer?.id,
      number: inv.toCustomer?.number,
      issuerId: partner.id,
      issuerName: 'Harbour IT',
      accountId: customer.id,
      status: 'issued',
      total: '12.34',
      lines: [
        {
          position: 1,
          meter: 'protected:user',
          description: 'Users (maximum over the month)',
          quantity: '4',
          amount: '12.34',
        },
      ],
    });
    expect(one.body).not.toHaveProperty('paidBy');
    const pdf = await api('customer', `${customer.id}/received-invoices/${inv.toCustomer?.id}/pdf`);
    expect(pdf.status).toBe(200);
    expect(pdf.res.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.res.headers.get('content-disposition')).toBe(`attachment; filename="${inv.toCustomer?.number}.pdf"`);
    expect(
      Buffer.from(await pdf.res.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');

    const refused: [string, IOrganization, string][] = [
      ['distributor', distributor, 'wholesaleDraft'],
      ['customer', customer, 'toCustomerDraft'],
      ['customer', customer, 'toOtherCustomer'],
      ['partner', partner, 'toOtherPartner'],
      // Issued by the partner, not addressed to it: its issuer reads it under /invoices.
      ['partner', partner, 'toCustomer'],
      ['customer', partner, 'toPartner'],
    ];
    for (const [who, org, name] of refused) {
      for (const suffix of ['', '/pdf']) {
        const res = await api(who, `${org.id}/received-invoices/${inv[name]?.id}${suffix}`);
        expect(res.status, `${who} ${name}${suffix}`).toBe(404);
      }
    }
  });

  it('sums Unpaid bills into due and overdue per currency', async () => {
    const figures = (html: string) =>
      ['total', 'due', 'overdue'].map(
        (tile) =>
          new RegExp(
            `unpaid-tile-${tile}"><span class="tile-title[^"]*">[^<]*</span>\\s*<span class="tile-figure[^"]*">([^<]*)<`,
          ).exec(html)?.[1],
      );
    const partnerHtml = await (await get('partner', '/billing/unpaid')).text();
    expect(invoiceLinks(partnerHtml)).toEqual(ids('toPartnerOverdue'));
    expect(figures(partnerHtml)).toEqual(['EUR 55.00', 'EUR 0.00', 'EUR 55.00']);
    expect(partnerHtml).toContain('1 invoice past the due date');
    const customerHtml = await (await get('customer', '/billing/unpaid')).text();
    expect(figures(customerHtml)).toEqual(['EUR 12.34', 'EUR 12.34', 'EUR 0.00']);
    await post('distributor', `/billing/invoices/${inv.toPartnerOverdue?.id}/paid`);
    const paidUp = await (await get('partner', '/billing/unpaid')).text();
    expect(figures(paidUp)).toEqual(['None', 'None', 'None']);
    expect(paidUp).toContain('Nothing to pay');
    // Who marked it paid (the issuer's staff or key) shows to the issuer only.
    const seen = async (who: string) => (await get(who, `/billing/invoices/${inv.toPartnerOverdue?.id}`)).text();
    expect(await seen('distributor')).toContain(
      'marked by <span class="wrap-anywhere">admin@distributor.example</span>',
    );
    expect(await seen('partner')).not.toContain('admin@distributor.example');
  });

  it('saves payment details (bad input on its fields), prints them on the invoice; never card data', async () => {
    const bad = await post('customer', '/billing/payment-details', [
      ['billingName', 'Accounts payable'],
      ['billingEmail', 'not-an-address'],
      ['billingAddress', '1 Kiln Lane'],
      ['taxId', 'GB 123<script>'],
    ]);
    expect(bad.status).toBe(422);
    const badHtml = await bad.text();
    expect(badHtml).toContain('<p class="field-error" id="billingEmail-error">Not an email address.</p>');
    expect(badHtml).toContain(
      '<p class="field-error" id="taxId-error">Letters, digits, spaces, dots, dashes or slashes, at most 64.</p>',
    );
    expect(badHtml).not.toMatch(/card number|cvc|iban/i);
    const ok = await post('customer', '/billing/payment-details', [
      ['billingName', 'Accounts payable'],
      ['billingEmail', 'ap@pottery.example'],
      ['billingAddress', '1 Kiln Lane\r\nStoke'],
      ['taxId', 'GB 123 4567 89'],
    ]);
    expect(ok.status).toBe(303);
    expect(await em().findOneOrFail(BillingAccount, { organization: customer.id })).toMatchObject({
      billingName: 'Accounts payable',
      billingEmail: 'ap@pottery.example',
      billingAddress: '1 Kiln Lane\nStoke',
      taxId: 'GB 123 4567 89',
    });
    const page = await (await get('partner', `/billing/invoices/${inv.toCustomer?.id}`)).text();
    expect(page).toContain('Pottery With A Rather Long Name Limited, attn. Accounts payable');
    expect(page).toContain('Tax id: GB 123 4567 89');
    expect(page).toContain('ap@pottery.example');
  });

  it('lets only administrators change payment details (403), showing them read-only', async () => {
    const html = await (await get('viewer', '/billing/payment-details')).text();
    expect(html).toContain('Only administrators change these details.');
    expect(html).toMatch(/id="taxId"[^>]* readonly/);
    const res = await post('viewer', '/billing/payment-details', [['taxId', 'X1']]);
    expect(res.status).toBe(403);
    expect((await em().findOneOrFail(BillingAccount, { organization: customer.id })).taxId).toBe('GB 123 4567 89');
  });

  it('keeps an issued invoice’s parties as they were when it was issued', async () => {
    const id = inv.toCustomerDraft?.id as string;
    expect((await post('partner', `/billing/invoices/${id}/issue`)).status).toBe(303);
    const changed = await post('customer', '/billing/payment-details', [
      ['billingName', 'Someone else'],
      ['billingEmail', 'new@pottery.example'],
      ['billingAddress', '2 New Street'],
      ['taxId', 'GB 999'],
    ]);
    expect(changed.status).toBe(303);
    const html = await (await get('customer', `/billing/invoices/${id}`)).text();
    expect(html).toContain('Tax id: GB 123 4567 89');
    expect(html).toContain('attn. Accounts payable');
    expect(html).not.toContain('GB 999');
    expect((await em().findOneOrFail(Invoice, { id })).parties?.account).toEqual({
      name: 'Pottery With A Rather Long Name Limited, attn. Accounts payable',
      address: '1 Kiln Lane\nStoke',
      email: 'ap@pottery.example',
      taxId: 'GB 123 4567 89',
    });
  });
});
