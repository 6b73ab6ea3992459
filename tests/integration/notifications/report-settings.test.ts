// The summary report's settings on Settings › Notifications and at
// /api/v1/organizations/{id}/summary-report-settings: saved per organization, bad input answered on
// its field with nothing saved, one file per customer refused at a customer account.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { SummaryReportSettings } from '../../../core/notifications/summary-entities.ts';
import { completeSetupVia, createTestApp, signIn, type TestApp } from '../../helpers/kernel.ts';
import { sessionRequests } from '../../helpers/session-requests.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let cookie: string;
const em = () => t.kernel.orm.em.fork();

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
  root = await rootOf(em());
}, 60_000);

afterAll(async () => {
  await t.close();
});

const { get, post, api } = sessionRequests(
  () => t.app,
  () => cookie,
);

const saved = (org: IOrganization) => em().findOne(SummaryReportSettings, { organization: org.id });

const GOOD: [string, string][] = [
  ['enabled', 'on'],
  ['format', 'failures'],
  ['delivery', 'link'],
  ['frequency', 'weekly'],
  ['hour', '6'],
  ['timeZone', 'Europe/Berlin'],
  ['onlyWhenFailed', 'on'],
  ['split', 'per_customer'],
];

describe('Settings › Notifications, summary report', () => {
  it('shows the settings and saves them', async () => {
    const page = await (await get('/settings/notifications')).text();
    expect(page).toContain('id="report-heading"');
    expect(page).toContain('Backup failure details');
    expect(page).toContain('One file (and mail) per account');
    const res = await post('/settings/notifications/report', GOOD);
    expect(res.status).toBe(303);
    expect(await saved(root)).toMatchObject({
      enabled: true,
      format: 'failures',
      delivery: 'link',
      frequency: 'weekly',
      hour: 6,
      timeZone: 'Europe/Berlin',
      onlyWhenFailed: true,
      split: 'per_customer',
    });
    const again = await (await get('/settings/notifications')).text();
    expect(again).toMatch(/<option value="Europe\/Berlin" selected>/);
    expect(again).toMatch(/value="per_customer" checked/);
  });

  it('answers bad input on its field and saves nothing', async () => {
    const before = JSON.stringify(await saved(root));
    const res = await post(
      '/settings/notifications/report',
      GOOD.map(([k, v]) => [k, k === 'hour' ? '24' : k === 'timeZone' ? 'Mars/Olympus' : v] as [string, string]),
    );
    expect(res.status).toBe(422);
    const page = await res.text();
    expect(page).toContain('Choose an hour from 0 to 23.');
    expect(page).toContain('Choose a time zone from the list.');
    expect(JSON.stringify(await saved(root))).toBe(before);
  });

  it('offers no per-customer split at a customer account and refuses one', async () => {
    const customer = await makeOrganization(em(), root, 'customer', 'Report Customer');
    await makeUser(em(), customer, 'admin@report-customer.example');
    const theirs = await signIn(t.app, 'admin@report-customer.example', TEST_PASSWORD);
    const page = await (await get('/settings/notifications', theirs)).text();
    expect(page).toContain('id="report-heading"');
    expect(page).not.toContain('per_customer');
    const res = await post('/settings/notifications/report', GOOD, theirs);
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('A customer account has one report: choose one file.');
    expect(await saved(customer)).toBeNull();
  });
});

describe('/api/v1/organizations/{id}/summary-report-settings', () => {
  const body = {
    enabled: true,
    format: 'overview',
    delivery: 'attachment',
    frequency: 'monthly',
    hour: 23,
    timeZone: 'America/New_York',
    onlyWhenFailed: false,
    split: 'consolidated',
  };

  it('reads and replaces the summary report settings', async () => {
    const partner = await makeOrganization(em(), root, 'partner', 'Api Partner');
    const fresh = await api('GET', `/organizations/${partner.id}/summary-report-settings`);
    expect(fresh.status).toBe(200);
    expect(await fresh.json()).toMatchObject({ enabled: false, frequency: 'daily', timeZone: 'UTC' });
    const put = await api('PUT', `/organizations/${partner.id}/summary-report-settings`, body);
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual(body);
    expect(await (await api('GET', `/organizations/${partner.id}/summary-report-settings`)).json()).toEqual(body);
  });

  it('answers a bad field with 422 naming it, and saves nothing', async () => {
    const partner = await makeOrganization(em(), root, 'partner', 'Bad Api Partner');
    for (const [field, value] of [
      ['hour', -1],
      ['timeZone', 'Nowhere/Town'],
      ['frequency', 'hourly'],
    ] as const) {
      const res = await api('PUT', `/organizations/${partner.id}/summary-report-settings`, { ...body, [field]: value });
      expect(res.status).toBe(422);
      const { error } = (await res.json()) as { error: { fields: Record<string, string> } };
      expect(Object.keys(error.fields)).toEqual([field]);
    }
    expect(await saved(partner)).toBeNull();
  });
});
