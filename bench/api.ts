// Cost of API authentication: issuing tokens at the token endpoint, and one GET of
// /api/v1/organizations/{id} with a bearer token, next to the same request with a browser
// session, and /healthz (all middleware, no authentication) as the baseline. Sequential
// keep-alive requests against the real app on the Node server adapter, in one process.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { loadConfig } from '../config/load.ts';
import { createApiKey } from '../core/access/api-keys.ts';
import { principalForUser } from '../core/access/principal.ts';
import { createApp } from '../core/app.ts';
import { openKernel } from '../core/appliance.ts';
import { type IOrganization, User } from '../core/identity/entities.ts';
import { completeSetup } from '../core/identity/setup-service.ts';
import { createLogger } from '../core/logging.ts';
import { tempDir } from '../tests/helpers/config.ts';
import { percentile } from './stats.ts';

const requests = Number(process.env.BENCH_REQUESTS ?? 2000);

type Init = () => RequestInit;

async function measure(base: string, path: string, init: Init) {
  for (let i = 0; i < 100; i++) await (await fetch(`${base}${path}`, init())).arrayBuffer(); // warm-up
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    const res = await fetch(`${base}${path}`, init());
    await res.arrayBuffer();
    if (res.status >= 400) throw new Error(`${path} answered ${res.status}`);
    latencies.push(performance.now() - t);
  }
  const seconds = (performance.now() - started) / 1000;
  return { rps: requests / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}

export async function benchApi(): Promise<void> {
  const dir = tempDir('holdfast-bench-');
  const config = loadConfig({ env: { HOLDFAST_DATA_DIR: dir.path, HOLDFAST_LOG_LEVEL: 'silent' } });
  const kernel = await openKernel(config, createLogger('silent'));
  const server = serve({ fetch: createApp(kernel.deps).fetch, hostname: '127.0.0.1', port: 0 });
  const listening = new Promise((r) => server.once('listening', r));
  try {
    const password = 'Throughput-Check-42';
    const { user } = await completeSetup(kernel.orm.em.fork(), {
      organizationName: 'Bench',
      email: 'bench@example.com',
      password,
    });
    kernel.deps.setupState.complete = true;
    const em = kernel.orm.em.fork();
    const admin = await em.findOneOrFail(User, { id: user.id }, { populate: ['organization'] });
    const org = admin.organization as IOrganization;
    const { key, secret } = await createApiKey(em, org, principalForUser(admin), { label: 'bench' });
    await listening;
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const basic = `Basic ${Buffer.from(`${key.id}:${secret}`).toString('base64')}`;
    const tokenInit: Init = () => ({
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const tokenRes = await fetch(`${base}/api/v1/oauth/token`, tokenInit());
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
      body: new URLSearchParams({ email: 'bench@example.com', password }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const path = `/api/v1/organizations/${org.id}`;

    const health = await measure(base, '/healthz', () => ({}));
    const bearer = await measure(base, path, () => ({ headers: { authorization: `Bearer ${access_token}` } }));
    const session = await measure(base, path, () => ({ headers: { cookie } }));
    const tokens = await measure(base, '/api/v1/oauth/token', tokenInit);
    const line = (label: string, r: typeof health) =>
      `${label.padEnd(40)} ${r.rps.toFixed(0).padStart(6)} req/s   p50 ${r.p50.toFixed(2)} ms   p95 ${r.p95.toFixed(2)} ms   (${(health.rps / r.rps).toFixed(2)}x baseline cost)`;
    console.log(`\nAPI authentication, ${requests} sequential keep-alive requests each (one client, same process)`);
    console.log(line('GET /healthz (baseline)', health));
    console.log(line('GET organization, bearer token', bearer));
    console.log(line('GET organization, browser session', session));
    console.log(line('POST /oauth/token (client_credentials)', tokens));
  } finally {
    await new Promise((r) => server.close(r));
    await kernel.close();
    dir.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchApi();
