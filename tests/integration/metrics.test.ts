// GET /metrics: off until the operator sets a token or an address list; the token and the list
// are enforced; the exposition parses as Prometheus text and its figures equal what the API
// (which the pages read through the same services) says about the same jobs, tasks and storage.
import { readFileSync } from 'node:fs';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { IOrganization } from '../../core/identity/entities.ts';
import { Job } from '../../core/jobs/entities.ts';
import { VALID_TOKEN } from '../fakes/test-service.ts';
import {
  addOrganization,
  getTokens,
  type Json,
  type KeyCredentials,
  makeKey,
  rootOrganization,
  withBearer,
} from '../helpers/api.ts';
import { createJobsHarness, type JobsHarness } from '../helpers/jobs.ts';
import { completeSetupVia, createTestApp, fromAddress } from '../helpers/kernel.ts';

const METRICS_TOKEN = 'metrics-token-5f1c0a9e27d4b8c3a6e1';

type Family = ReturnType<typeof parsePrometheusTextFormat>[number];

function parse(text: string): Map<string, Family> {
  return new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
}

function values(family: Family | undefined, key: (labels: Record<string, string>) => string): Record<string, number> {
  return Object.fromEntries((family?.metrics ?? []).map((m) => [key(m.labels ?? {}), Number(m.value)]));
}

describe('/metrics switched off', () => {
  it('answers 404 when neither a token nor an address list is set', async () => {
    const t = await createTestApp();
    try {
      const res = await t.app.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(res.status).toBe(404);
      expect(t.kernel.deps.metrics).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});

describe('/metrics access', () => {
  it('refuses a missing or wrong token with 401, an address outside the list with 403', async () => {
    const t = await createTestApp({ HOLDFAST_METRICS_TOKEN: METRICS_TOKEN, HOLDFAST_METRICS_ALLOW: '10.0.0.5' });
    try {
      const scraper = fromAddress('10.0.0.5');
      const none = await t.app.request('/metrics', {}, scraper);
      expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="holdfast-metrics"']);
      const wrong = await t.app.request('/metrics', { headers: { authorization: 'Bearer not-the-token' } }, scraper);
      expect(wrong.status).toBe(401);
      const elsewhere = await t.app.request(
        '/metrics',
        { headers: { authorization: `Bearer ${METRICS_TOKEN}` } },
        fromAddress('10.0.0.6'),
      );
      expect(elsewhere.status).toBe(403);
      const ok = await t.app.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }, scraper);
      expect([ok.status, ok.headers.get('content-type'), ok.headers.get('cache-control')]).toEqual([
        200,
        'text/plain; version=0.0.4; charset=utf-8',
        'no-store',
      ]);
      const text = await ok.text();
      expect(text).not.toContain(METRICS_TOKEN);
      expect(t.logs.join('')).not.toContain(METRICS_TOKEN);
    } finally {
      await t.close();
    }
  });

  it('refuses a token shorter than 24 characters at start, naming the setting', async () => {
    await expect(createTestApp({ HOLDFAST_METRICS_TOKEN: 'short' })).rejects.toThrow(/HOLDFAST_METRICS_TOKEN/);
  });
});

describe('/metrics figures', () => {
  let h: JobsHarness;
  let api: string;
  let customer: IOrganization;
  let key: KeyCredentials;

  const scrape = async () => {
    const res = await h.app.app.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    return Object.assign(parse(text), { text });
  };
  const call = async (method: string, path: string, body?: unknown): Promise<Json> => {
    const res = await h.app.app.request(`/api/v1${path}`, withBearer(api, method, body));
    const answer = (await res.json()) as Json;
    expect([method, path, res.status < 300 ? 'ok' : answer]).toEqual([method, path, 'ok']);
    return answer;
  };

  beforeAll(async () => {
    h = await createJobsHarness({ HOLDFAST_METRICS_TOKEN: METRICS_TOKEN });
    h.app.kernel.deps.now = () => h.clock.now;
    await completeSetupVia(h.app.app);
    const root = await rootOrganization(h.app);
    const partner = await addOrganization(h.app, root, 'partner', 'Partner');
    customer = await addOrganization(h.app, partner, 'customer', 'Metrics Customer');
    key = await makeKey(h.app, partner);
    api = (await getTokens(h.app.app, key)).access_token;
  }, 60_000);

  afterAll(async () => {
    await h.close();
  });

  it('equal the API: jobs by kind and state, last backup per task, entities by status, stored bytes', async () => {
    const make = async (name: string, connection: Json) =>
      (
        await call('POST', `/tasks?organization=${customer.id}`, {
          service: 'test-service',
          name,
          connection: { token: VALID_TOKEN, entities: 3, items: 2, ...connection },
        })
      ).task as Json;
    const healthy = await make('Healthy task', { account: 'healthy' });
    const failing = await make('Failing task', { account: 'failing', failEntities: ['user-002'] });
    await h.runner.runUntilIdle();
    for (const task of [healthy, failing]) {
      const ids = (await call('GET', `/tasks/${task.id}/entities`)).items.map((e: Json) => e.id);
      await call('POST', `/tasks/${task.id}/entities/activate`, { ids });
      await call('POST', `/tasks/${task.id}/entities/backup-now`, { ids });
    }
    await h.runner.runUntilIdle();
    h.advance(90 * 60_000);
    api = (await getTokens(h.app.app, key)).access_token;

    const m = await scrape();
    // Jobs by kind and state, as the jobs API lists them.
    const jobs = values(m.get('holdfast_jobs'), (l) => `${l.kind}/${l.state}`);
    const all = await h.em().find(Job, {}, { fields: ['kind', 'state'] });
    const counted: Record<string, number> = {};
    for (const j of all) counted[`${j.kind}/${j.state}`] = (counted[`${j.kind}/${j.state}`] ?? 0) + 1;
    expect(jobs).toEqual(counted);
    // The backup runs as the Jobs page lists them.
    const listed = await call('GET', `/jobs?organization=${customer.id}&activity=backup&pageSize=100`);
    const listedRuns: Record<string, number> = {};
    for (const j of listed.items as Json[])
      listedRuns[`backup/${j.state}`] = (listedRuns[`backup/${j.state}`] ?? 0) + 1;
    expect(Object.fromEntries(Object.entries(jobs).filter(([k]) => k.startsWith('backup/')))).toEqual(listedRuns);
    expect(listedRuns['backup/failed']).toBeGreaterThan(0);
    expect(values(m.get('holdfast_job_queue_depth'), () => 'depth')).toEqual({ depth: 0 });

    for (const task of [healthy, failing]) {
      const page = await call('GET', `/tasks/${task.id}`);
      const label = (l: Record<string, string>) => l.task_id === task.id;
      const last = m.get('holdfast_task_last_backup_timestamp_seconds')?.metrics.find((s) => label(s.labels ?? {}));
      expect([last?.labels?.task, last?.labels?.organization]).toEqual([task.name, 'Metrics Customer']);
      expect(Number(last?.value) * 1000).toBe(Date.parse(page.lastBackupAt));
      const age = m.get('holdfast_task_last_backup_age_seconds')?.metrics.find((s) => label(s.labels ?? {}));
      expect(Number(age?.value)).toBe((h.clock.now.getTime() - Date.parse(page.lastBackupAt)) / 1000);
      const statuses = Object.fromEntries(
        (m.get('holdfast_task_entities')?.metrics ?? [])
          .filter((s) => label(s.labels ?? {}))
          .map((s) => [s.labels?.status, Number(s.value)]),
      );
      const expected = Object.fromEntries(Object.entries(page.entities as Record<string, number>).filter(([, n]) => n));
      expect(statuses).toEqual(expected);
    }

    // Stored bytes per location: the usage report's "Stored size" column, summed.
    const usage = await h.app.app.request(`/api/v1/usage?account=${customer.id}`, withBearer(api));
    const lines = (await usage.text()).trim().split(/\r?\n/).slice(1);
    expect(lines).toHaveLength(6);
    const storedByApi = lines.reduce((sum, line) => sum + Number(line.split(',').at(-1)), 0);
    const stored = m.get('holdfast_storage_location_stored_bytes')?.metrics ?? [];
    expect(stored.map((x) => [x.labels, Number(x.value)])).toEqual([
      [{ location_id: 'builtin-local-disk', location: 'Local disk (built-in)' }, storedByApi],
    ]);
    expect(storedByApi).toBeGreaterThan(0);

    // Durations of the jobs this node ran, and the requests it answered, by route pattern.
    // Histograms by their _count series (the parser keeps no labels of histogram samples).
    const counts = (name: string) =>
      [...m.text.matchAll(new RegExp(`^${name}_count\\{(.*)\\} (\\d+)$`, 'gm'))].map((x) => ({
        labels: Object.fromEntries([...(x[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]])),
        count: Number(x[2]),
      }));
    const runs = counts('holdfast_job_run_duration_seconds');
    expect(Object.fromEntries(runs.map((r) => [`${r.labels.kind}/${r.labels.state}`, r.count]))).toEqual(jobs);
    const routes = counts('holdfast_http_request_duration_seconds').map(
      (r) => `${r.labels.method} ${r.labels.route} ${r.labels.status}`,
    );
    expect(routes).toContain('GET /api/v1/tasks/:id/entities 200');
    expect(routes.some((r) => r.includes(String(healthy.id)))).toBe(false);
    expect(Number(m.get('holdfast_database_size_bytes')?.metrics[0]?.value)).toBeGreaterThan(0);
  });

  it('the documented alert rules name only metrics the appliance exports', async () => {
    const m = await scrape();
    const rules = parseYaml(readFileSync(new URL('../../docs/prometheus-alerts.yml', import.meta.url), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const exprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(4);
    for (const expr of exprs) {
      const names = [...expr.matchAll(/\bholdfast_[a-z_]+/g)].map((x) => x[0].replace(/_(bucket|count|sum)$/, ''));
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect([expr, m.has(name)]).toEqual([expr, true]);
    }
  });
});
