// Date ranges on /api/v1/audit and /api/v1/activity (and their CSV exports): a day or an ISO
// date-time with its offset, checked against the calendar. A day that does not exist
// (2026-02-31), a time past 23:59 or a free-form date is refused with a field message instead of
// rolling over into another day.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTokens, json, makeKey, rootOrganization, withBearer } from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp;
let token: string;

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  token = (await getTokens(t.app, await makeKey(t, await rootOrganization(t)))).access_token;
}, 60_000);

afterAll(async () => {
  await t.close();
});

const call = (path: string) => t.app.request(`/api/v1${path}`, withBearer(token, 'GET'));

describe('API date ranges', () => {
  for (const path of ['/audit', '/audit/export.csv', '/activity', '/activity/export.csv']) {
    it(`refuses days and times that do not exist on ${path}, naming the field`, async () => {
      for (const [query, field] of [
        ['from=2026-02-31', 'from'],
        ['to=2026-02-30', 'to'],
        ['from=2026-13-01', 'from'],
        ['to=2026-03-01T24:30:00Z', 'to'],
        ['from=2026-03-01T08:61:00Z', 'from'],
        ['from=March%207%2C%202026', 'from'],
      ] as const) {
        const res = await call(`${path}?${query}`);
        expect(res.status, query).toBe(422);
        const body = await json(res);
        expect(body.error.code).toBe('validation_failed');
        expect(body.error.fields[field], query).toMatch(/2026-11-01/);
      }
    });
  }

  it('still takes a day, a date-time with its offset, and a leap day', async () => {
    for (const query of [
      'from=2026-11-01&to=2026-11-30',
      'from=2026-11-01T08:00:00Z',
      'to=2028-02-29T23:59:59.500%2B02:00',
    ]) {
      expect((await call(`/audit?${query}`)).status, query).toBe(200);
      expect((await call(`/activity?${query}`)).status, query).toBe(200);
    }
  });
});
