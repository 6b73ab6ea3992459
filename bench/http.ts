// Request cost of the kernel's middleware and page rendering, against a bare Hono app on the
// same server adapter in the same process as the baseline. Sequential keep-alive requests.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { loadConfig } from '../config/load.ts';
import { createApp } from '../core/app.ts';
import { openKernel } from '../core/appliance.ts';
import { completeSetup } from '../core/identity/setup-service.ts';
import { createLogger } from '../core/logging.ts';
import { tempDir } from '../tests/helpers/config.ts';
import { percentile } from './stats.ts';

const requests = Number(process.env.BENCH_REQUESTS ?? 2000);

async function measure(app: { fetch: (r: Request) => Response | Promise<Response> }, path: string) {
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  for (let i = 0; i < 100; i++) await (await fetch(url)).arrayBuffer(); // warm-up
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    await (await fetch(url)).arrayBuffer();
    latencies.push(performance.now() - t);
  }
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => server.close(r));
  return { rps: requests / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}

export async function benchHttp(): Promise<void> {
  const dir = tempDir('holdfast-bench-');
  const config = loadConfig({ env: { HOLDFAST_DATA_DIR: dir.path, HOLDFAST_LOG_LEVEL: 'silent' } });
  const kernel = await openKernel(config, createLogger('silent'));
  try {
    await completeSetup(kernel.orm.em, {
      organizationName: 'Bench',
      email: 'bench@example.com',
      password: 'Throughput-Check-42',
    });
    kernel.deps.setupState.complete = true;
    const bare = new Hono();
    bare.get('/', (c) => c.text('ok'));
    const base = await measure(bare, '/');
    const app = createApp(kernel.deps);
    const health = await measure(app, '/healthz');
    const login = await measure(app, '/login');
    const line = (label: string, r: typeof base) =>
      `${label.padEnd(34)} ${r.rps.toFixed(0).padStart(6)} req/s   p50 ${r.p50.toFixed(2)} ms   p95 ${r.p95.toFixed(2)} ms   (${(base.rps / r.rps).toFixed(2)}x baseline cost)`;
    console.log(`\nHTTP, ${requests} sequential keep-alive requests each (one client, same process)`);
    console.log(line('bare Hono text route (baseline)', base));
    console.log(line('GET /healthz (all middleware)', health));
    console.log(line('GET /login (rendered page)', login));
  } finally {
    await kernel.close();
    dir.remove();
  }
}

if (import.meta.main) await benchHttp();
