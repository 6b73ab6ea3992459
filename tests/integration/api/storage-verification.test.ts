// /api/v1 verification of a storage location with API keys: the schedule read and set (422 naming
// the field), a verification started as a background job (202, 409 while one waits) whose result
// the GET then shows, a repair refused for an unknown operation, and other tenants answering 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workContext } from '../../../core/appliance.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { InlineExecutor } from '../../../core/jobs/executors.ts';
import { JobRunner } from '../../../core/jobs/runner.ts';
import { BUILTIN_LOCATION_ID } from '../../../core/storage-locations/locations.ts';
import {
  addOrganization,
  getTokens,
  type Json,
  json,
  makeKey,
  rootOrganization,
  withBearer,
} from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp;
let root: IOrganization;
let partner: IOrganization;
let rootToken: string;
let partnerToken: string;

async function call(token: string, method: string, path: string, body?: unknown): Promise<[number, Json]> {
  const res = await t.app.request(`/api/v1${path}`, withBearer(token, method, body));
  const text = await res.text();
  return [res.status, text ? (JSON.parse(text) as Json) : {}];
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  root = await rootOrganization(t);
  partner = await addOrganization(t, root, 'partner', 'Partner A');
  rootToken = (await getTokens(t.app, await makeKey(t, root))).access_token;
  partnerToken = (await getTokens(t.app, await makeKey(t, partner))).access_token;
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('the verification API of a storage location', () => {
  const path = () => `/organizations/${root.id}/storage-locations/${BUILTIN_LOCATION_ID}/verification`;

  it('reads and sets the schedule, naming a bad field', async () => {
    const [status, body] = await call(rootToken, 'GET', path());
    expect(status).toBe(200);
    expect([body.samplePercent, body.intervalHours, body.cycleRuns, body.lastResult, body.jobs]).toEqual([
      10,
      24,
      10,
      null,
      [],
    ]);
    const [bad, error] = await call(rootToken, 'PUT', path(), { samplePercent: 0, intervalHours: 24 });
    expect(bad).toBe(422);
    expect(JSON.stringify(error)).toContain('samplePercent');
    const [saved, after] = await call(rootToken, 'PUT', path(), { samplePercent: 25, intervalHours: 12 });
    expect(saved).toBe(200);
    expect([after.samplePercent, after.intervalHours, after.cycleRuns]).toEqual([25, 12, 4]);
    const audit = await t.kernel.orm.em.fork().find(AuditEvent, { activity: 'Storage location changed' });
    expect(audit.map((a) => a.description)).toContain(
      'Verification of Local disk (built-in): 25% of the packs every 12 hours',
    );
  });

  it('starts a verification as a job, refuses a second while it waits, and shows its result', async () => {
    const [started, body] = await call(rootToken, 'POST', `${path()}/jobs`, { operation: 'verify' });
    expect(started).toBe(202);
    const jobId = body.jobId as string;
    const [again, refused] = await call(rootToken, 'POST', `${path()}/jobs`, { operation: 'verify' });
    expect(again).toBe(409);
    expect((refused.error as Json).message).toBe('A verification of this storage location is already running.');
    const [unknown] = await call(rootToken, 'POST', `${path()}/jobs`, { operation: 'prune' });
    expect(unknown).toBe(422);

    const ctx = workContext(t.kernel);
    await new JobRunner(ctx, new InlineExecutor(ctx), t.kernel.deps.metrics).runUntilIdle();
    const [, after] = await call(rootToken, 'GET', path());
    const jobs = after.jobs as Json[];
    expect(jobs.map((j) => [j.id, j.operation, j.state])).toEqual([[jobId, 'verify', 'succeeded']]);
    expect((after.lastResult as Json).ok).toBe(true);
    expect(after.runs).toBe(1);
  });

  it('answers 404 for a location the caller does not own or cannot reach', async () => {
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { samplePercent: 50, intervalHours: 1 }],
    ] as const) {
      // The partner's own organization does not own the operator's location …
      const [own] = await call(
        partnerToken,
        method,
        `/organizations/${partner.id}/storage-locations/${BUILTIN_LOCATION_ID}/verification`,
        body,
      );
      expect(own).toBe(404);
      // … and the operator's organization is out of its reach.
      const [foreign] = await call(partnerToken, method, path(), body);
      expect(foreign).toBe(404);
    }
    const [start] = await call(partnerToken, 'POST', `${path()}/jobs`, { operation: 'verify' });
    expect(start).toBe(404);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await json(await t.app.request('/api/v1/openapi.json'));
    expect(Object.keys(doc.paths as Json)).toEqual(
      expect.arrayContaining([
        '/organizations/{id}/storage-locations/{locationId}/verification',
        '/organizations/{id}/storage-locations/{locationId}/verification/jobs',
      ]),
    );
  });
});
