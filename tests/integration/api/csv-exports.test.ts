// The API's CSV exports stream like the pages' ones: the first rows reach the client before the
// last are read (the export's audit entry, written after the last row, does not exist yet), and
// the whole file holds every row once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { getTokens, makeKey, rootOrganization, withBearer } from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, type TestApp } from '../../helpers/kernel.ts';

const ROWS = 1000;

let t: TestApp;
let root: IOrganization;
let token: string;

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  root = await rootOrganization(t);
  token = (await getTokens(t.app, await makeKey(t, root))).access_token;
  const em = t.kernel.orm.em.fork();
  const at = new Date();
  for (let i = 0; i < ROWS; i++) {
    em.create(AuditEvent, {
      organization: root.id,
      activity: 'Account added',
      status: 'completed',
      account: root.name,
      description: `entry ${i}`,
    });
    em.create(ActivityEvent, {
      at,
      organization: root.id,
      activity: 'Backup',
      status: 'succeeded',
      summary: `row ${i}`,
    });
  }
  await em.flush();
}, 60_000);

afterAll(async () => {
  await t.close();
});

const exportsOf = (activity: string) => t.kernel.orm.em.fork().count(AuditEvent, { activity });

describe('API CSV exports', () => {
  for (const [path, activity] of [
    ['/audit/export.csv', 'Audit exported'],
    ['/activity/export.csv', 'Activity exported'],
  ] as const) {
    it(`streams ${path}: rows arrive before the last is read`, async () => {
      const before = await exportsOf(activity);
      const res = await t.app.request(`/api/v1${path}`, withBearer(token, 'GET'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value, { stream: true });
      expect(text.split('\r\n').length).toBeLessThan(ROWS);
      expect(await exportsOf(activity)).toBe(before);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      expect(text.trimEnd().split('\r\n').length).toBeGreaterThanOrEqual(ROWS + 1);
      expect(await exportsOf(activity)).toBe(before + 1);
    });
  }
});
