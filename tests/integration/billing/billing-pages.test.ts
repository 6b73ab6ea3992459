// MSP billing through the pages and the API (issue 24): a partner adds a plan (bad input answered
// on its fields), a trial account (14 days by default) and a paying one; the Trial Status tiles
// and the trial filter agree; Subscribe converts the ticked trial; invoices are prepared from the
// usage history, issued (numbered, mailed with the PDF), marked paid through the API by a key;
// the page's and the API's CSV are the same rows; the Billing Status tiles follow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../core/access/api-keys.ts';
import { principalForUser } from '../../../core/access/principal.ts';
import { BillingAccount, Invoice, PricePlan } from '../../../core/billing/entities.ts';
import { startTrial } from '../../../core/billing/trials.ts';
import type { IOrganization, IUser } from '../../../core/identity/entities.ts';
import { MailMessage } from '../../../core/mail/entities.ts';
import { runMaintenance } from '../../../core/maintenance.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { getTokens, json } from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let partner: IOrganization;
let paying: IOrganization;
let admin: IUser;
let cookie: string;
const em = () => t.kernel.orm.em.fork();

async function post(path: string, fields: [string, string][]): Promise<Response> {
  return t.app.request(path, {
    method: 'POST',
    headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

async function page(path: string, flashFrom?: Response): Promise<string> {
  const flash = flashFrom ? `; ${(flashFrom.headers.get('set-cookie') ?? '').split(';')[0]}` : '';
  return (await t.app.request(path, { headers: { cookie: `${cookie}${flash}` } })).text();
}

const banner = (html: string) =>
  /class="alert alert-(?:success|error)" role="(?:status|alert)">([^<]*)</.exec(html)?.[1];
const tile = (html: string, kind: string, value: string) =>
  new RegExp(
    `${kind}-tile-${value}[^>]*>\\s*<span class="tile-title">[^<]*</span>\\s*<span class="tile-figure[^"]*">([^<]*)<`,
  ).exec(html)?.[1];

/** The Amount cell of an account's row on the Accounts page. */
const amountCell = (html: string, accountId: string) =>
  html
    .split('<tr')
    .find((row) => row.includes(`value="${accountId}"`))
    ?.match(/data-label="Amount"[^>]*>([^<]*)</)?.[1];

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  const root = await rootOf(em());
  partner = await makeOrganization(em(), root, 'partner', 'Harbour IT');
  paying = await makeOrganization(em(), partner, 'customer', 'Paying Pottery');
  admin = await makeUser(em(), partner, 'admin@harbour.example');
  cookie = await signIn(t.app, admin.email, TEST_PASSWORD);
  // Paying Pottery has 3 protected users.
  const e = em();
  const task = e.create(BackupTask, {
    organization: paying.id,
    service: 'test-service',
    name: 'Pottery',
    connection: 'not-a-sealed-connection',
  });
  for (let i = 0; i < 3; i++) {
    e.create(TaskEntity, {
      task,
      externalId: `u${i}`,
      name: `User ${i}`,
      kind: 'user',
      pluginState: null,
      status: 'success',
    });
  }
  await e.flush();
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('billing pages', () => {
  it('answers a bad plan on its fields and adds a good one', async () => {
    const bad = await post('/billing/plans/new', [
      ['name', ''],
      ['currency', 'euro'],
      ['period', 'monthly'],
      ['meter0', 'protected:user'],
      ['measure0', 'max'],
      ['bands0', '10 @ three'],
      ['minimum', 'x'],
    ]);
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toContain('An amount such as 25.00.');
    expect(html).toContain('<p class="field-error" id="name-error">Enter a name.</p>');
    expect(html).toContain(
      '<p class="field-error" id="currency-error">A three-letter currency code, such as EUR or USD.</p>',
    );
    expect(html).toContain('A price such as 2.50, or bands such as &quot;10 @ 3.00, * @ 2.50&quot;.');
    const good = await post('/billing/plans/new', [
      ['name', 'Harbour Standard'],
      ['currency', 'eur'],
      ['period', 'monthly'],
      ['meter0', 'protected:user'],
      ['measure0', 'max'],
      ['bands0', '10 @ 3.00, * @ 2.50'],
      ['minimum', '5'],
    ]);
    expect(good.status).toBe(303);
    expect(banner(await page('/billing', good))).toBe('The plan &quot;Harbour Standard&quot; has been added.');
    const plan = await em().findOneOrFail(PricePlan, { issuer: partner.id });
    expect(plan).toMatchObject({
      currency: 'EUR',
      minimumCents: 500,
      meters: [
        {
          meter: 'protected:user',
          measure: 'max',
          tiers: [
            { upTo: 10, unitCents: 300 },
            { upTo: null, unitCents: 250 },
          ],
        },
      ],
    });
    const res = await post('/billing/default', [['planId', String(plan.id)]]);
    expect(banner(await page('/billing', res))).toBe('The default plan has been saved.');
  });

  it('adds a trial account ending in 14 days; tiles and the trial filter agree; Subscribe converts it', async () => {
    const res = await post('/portal/new', [
      ['kind', 'customer'],
      ['name', 'Trial Tiles'],
      ['storageLocationId', ''],
      ['trial', 'yes'],
      ['trialEndsOn', ''],
    ]);
    expect(res.status).toBe(303);
    const trialId = /\/portal\/accounts\/([0-9a-f-]{36})/.exec(res.headers.get('location') ?? '')?.[1] as string;
    const billing = await em().findOneOrFail(BillingAccount, { organization: trialId });
    const days = ((billing.trialEndsAt as Date).getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(14);
    const portal = await page('/portal');
    expect([
      tile(portal, 'trial', 'in_progress'),
      tile(portal, 'trial', 'expiring'),
      tile(portal, 'trial', 'expired'),
    ]).toEqual(['1', '0', '0']);
    const filtered = await page('/portal?all=1&trial=in_progress');
    expect([...filtered.matchAll(/name="account" value="([^"]+)"/g)].map((m) => m[1])).toEqual([trialId]);
    expect(filtered).toContain('Trial: In progress');
    const subscribed = await post('/portal/bulk', [
      ['account', trialId],
      ['action', 'subscribe'],
    ]);
    expect(banner(await page('/portal', subscribed))).toBe('Subscribed 1 account.');
    expect(tile(await page('/portal'), 'trial', 'in_progress')).toBe('0');
    const again = await post('/portal/bulk', [
      ['account', trialId],
      ['action', 'subscribe'],
    ]);
    expect(banner(await page('/portal', again))).toBe(
      'No account changed. Trial Tiles left as it was: it is not a trial.',
    );
  });

  it('filters 33,000 trial accounts by trial status (more than SQLite binds variables in one query)', async () => {
    // Copies of one trial account made in SQL: its row and its billing row, with new ids and paths.
    const model = await makeOrganization(em(), partner, 'customer', 'Trial copy');
    await startTrial(em(), model, new Date());
    const conn = em().getConnection();
    // The model row's own column names: the same on SQLite and PostgreSQL.
    const [row] = (await conn.execute('select * from organizations where id = ?', [model.id], 'all')) as object[];
    const columns = Object.keys(row ?? {});
    const copied = columns.map((c) =>
      c === 'id' ? 'n.id' : c === 'path' ? `o.parent_path || n.id || '/'` : c === 'code' ? 'null' : `o.${c}`,
    );
    await conn.execute(
      `with recursive seq(i) as (select 1 union all select i + 1 from seq where i < 33000),
         n(id) as (select 'trial-copy-' || i from seq)
       insert into organizations (${columns.join(', ')})
       select ${copied.join(', ')}
       from n, (select *, substr(path, 1, length(path) - length(id) - 1) as parent_path from organizations where id = ?) o`,
      [model.id],
    );
    await conn.execute(
      `insert into billing_accounts (organization_id, tax_rate_basis_points, payment_terms_days, trial_ends_at, updated_at)
       select o.id, 0, 14, b.trial_ends_at, b.updated_at
       from organizations o, billing_accounts b
       where o.name = 'Trial copy' and o.id <> ? and b.organization_id = ?`,
      [model.id, model.id],
    );
    const res = await t.app.request('/portal?all=1&trial=in_progress', { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Trial copy');
    expect(tile(await page('/portal'), 'trial', 'in_progress')).toBe('33001');
    await conn.execute(`delete from organizations where name = 'Trial copy'`, [], 'run');
  }, 120_000);

  it('saves an account’s billing settings and refuses bad ones on their fields', async () => {
    const bad = await post(`/portal/accounts/${paying.id}/billing`, [
      ['planId', ''],
      ['taxRate', 'lots'],
      ['billingEmail', 'not-an-address'],
      ['paymentTermsDays', '400'],
      ['trialEndsOn', ''],
    ]);
    expect(bad.status).toBe(422);
    const html = await bad.text();
    for (const message of [
      'A percentage from 0 to 100, such as 20 or 7.5.',
      'Not an email address.',
      'Days from 0 to 365.',
    ]) {
      expect(html).toContain(message);
    }
    const ok = await post(`/portal/accounts/${paying.id}/billing`, [
      ['planId', ''],
      ['taxRate', '20'],
      ['billingEmail', 'accounts@pottery.example'],
      ['paymentTermsDays', '30'],
      ['trialEndsOn', ''],
    ]);
    expect(banner(await page(`/portal/accounts/${paying.id}/billing`, ok))).toBe(
      'The billing settings have been saved.',
    );
    expect(await em().findOneOrFail(BillingAccount, { organization: paying.id })).toMatchObject({
      taxRateBasisPoints: 2000,
      billingEmail: 'accounts@pottery.example',
      paymentTermsDays: 30,
    });
  });

  it('prepares, issues and mails an invoice; a key marks it paid; page and API CSV agree; tiles follow', async () => {
    const now = new Date();
    await runMaintenance(t.kernel.orm, t.kernel.deps.log, now);
    const month = now.toISOString().slice(0, 7);
    const prepared = await post('/billing/prepare', [['period', month]]);
    expect(banner(await page(`/billing?period=${month}`, prepared))).toMatch(/^2 invoices of \d{4}-\d{2} prepared/);
    const invoice = await em().findOneOrFail(Invoice, { account: paying.id, period: month });
    // The Amount column forecasts the same month on the same plan (the partner's default).
    expect(amountCell(await page('/portal'), paying.id)).toBe(`EUR ${(invoice.totalCents / 100).toFixed(2)}`);
    // 3 users × €3.00 pro-rated by the days billed this month; at least the €5.00 minimum share; 20 % tax.
    expect(invoice.taxRateBasisPoints).toBe(2000);
    const issued = await post(`/billing/invoices/${invoice.id}/issue`, []);
    const issuedPage = await page(`/billing/invoices/${invoice.id}`, issued);
    expect(banner(issuedPage)).toBe(
      `Issued as ${partner.code}-${now.getUTCFullYear()}-00001 and mailed to accounts@pottery.example.`,
    );
    const mail = await em().findOneOrFail(MailMessage, { to: 'accounts@pottery.example' });
    expect(mail.subject).toBe(`Invoice ${partner.code}-${now.getUTCFullYear()}-00001 from Harbour IT`);
    const pdf = await t.app.request(`/billing/invoices/${invoice.id}/pdf`, { headers: { cookie } });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');
    const portalBefore = await page('/portal');
    expect(tile(portalBefore, 'billing', 'due')).toBe(`EUR ${(invoice.totalCents / 100).toFixed(2)}`);

    const e = em();
    const made = await createApiKey(e, e.merge(partner), principalForUser(e.merge(admin)), {
      label: 'Accounting sync',
    });
    const token = (await getTokens(t.app, { clientId: made.key.id, secret: made.secret })).access_token;
    const bearer = { authorization: `Bearer ${token}` };
    const paid = await t.app.request(`/api/v1/organizations/${partner.id}/invoices/${invoice.id}/paid`, {
      method: 'POST',
      headers: bearer,
    });
    expect(paid.status).toBe(200);
    expect(await json(paid)).toMatchObject({ status: 'paid', number: `${partner.code}-${now.getUTCFullYear()}-00001` });
    const portalAfter = await page('/portal');
    expect(tile(portalAfter, 'billing', 'current')).toBe('1');
    expect(tile(portalAfter, 'billing', 'due')).toBe('None');

    const pageCsv = await (
      await t.app.request(`/billing/invoices.csv?period=${month}`, { headers: { cookie } })
    ).text();
    const apiCsv = await (
      await t.app.request(`/api/v1/organizations/${partner.id}/invoices.csv?period=${month}`, { headers: bearer })
    ).text();
    expect(pageCsv.replace(/^\uFEFF/, '')).toBe(apiCsv);
    expect(apiCsv.split('\r\n')[0]).toBe(
      'invoice_id,number,issuer,account,account_id,period,plan,currency,status,issued_on,due_on,paid_on,billable_days,month_days,subtotal,tax_rate_percent,tax,total',
    );
    const list = await json(
      await t.app.request(`/api/v1/organizations/${partner.id}/invoices?period=${month}&status=paid`, {
        headers: bearer,
      }),
    );
    expect(list.invoices.map((i: { id: string }) => i.id)).toEqual([invoice.id]);
  });
});
