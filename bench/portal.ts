// The portal's accounts table and the Security Audit page on a large tenant tree: page latencies
// (in-process requests through the whole app, signed in as the operator), and the CSV export of
// every audit row against the bare query that feeds it (baseline: iterating `allAuditRows`
// without formatting or sending anything).
import { loadConfig } from '../config/load.ts';
import { principalForUser } from '../core/access/principal.ts';
import { createApp } from '../core/app.ts';
import { openKernel } from '../core/appliance.ts';
import { allAuditRows } from '../core/audit/audit-service.ts';
import { AuditEvent } from '../core/audit/entities.ts';
import { type IOrganization, Organization, User } from '../core/identity/entities.ts';
import { completeSetup } from '../core/identity/setup-service.ts';
import { createLogger } from '../core/logging.ts';
import { tempDir } from '../tests/helpers/config.ts';
import { row, summarize } from './stats.ts';

const PARTNERS = Number(process.env.BENCH_PORTAL_PARTNERS ?? 50);
const CUSTOMERS_PER_PARTNER = Number(process.env.BENCH_PORTAL_CUSTOMERS ?? 100);
const AUDIT_ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PASSWORD = 'Portal-Tree-Pass-42';

export async function benchPortal(): Promise<void> {
  const dir = tempDir('holdfast-bench-');
  const config = loadConfig({ env: { HOLDFAST_DATA_DIR: dir.path, HOLDFAST_LOG_LEVEL: 'silent' } });
  const kernel = await openKernel(config, createLogger('silent'));
  try {
    await completeSetup(kernel.orm.em, {
      organizationName: 'Bench MSP',
      email: 'operator@example.com',
      password: PASSWORD,
    });
    kernel.deps.setupState.complete = true;
    const em = kernel.orm.em.fork();
    const root = await em.findOneOrFail(Organization, { kind: 'root' });
    const orgs: IOrganization[] = [root];
    const rows: Record<string, unknown>[] = [];
    for (let p = 0; p < PARTNERS; p++) {
      const pid = crypto.randomUUID();
      const partnerPath = `${root.path}${pid}/`;
      rows.push({ id: pid, name: `Partner ${p}`, kind: 'partner', parent: root.id, path: partnerPath });
      for (let c = 0; c < CUSTOMERS_PER_PARTNER; c++) {
        const cid = crypto.randomUUID();
        rows.push({
          id: cid,
          name: `Customer ${p}-${c}`,
          kind: 'customer',
          parent: pid,
          path: `${partnerPath}${cid}/`,
          contactEmail: `it@customer-${p}-${c}.example`,
        });
      }
    }
    const now = new Date();
    for (let i = 0; i < rows.length; i += 2000) {
      await em.insertMany(
        Organization,
        rows.slice(i, i + 2000).map((r) => ({ ...r, status: 'active', createdAt: now, updatedAt: now })) as never,
      );
    }
    orgs.push(...(await em.find(Organization, { kind: 'partner' })));
    const activities = ['Sign-in', 'User added', 'Settings changed', 'Account accessed'];
    for (let i = 0; i < AUDIT_ROWS; i += 5000) {
      const batch = [];
      for (let j = i; j < Math.min(AUDIT_ROWS, i + 5000); j++) {
        batch.push({
          at: new Date(now.getTime() - j * 60_000),
          organization: (orgs[j % orgs.length] as IOrganization).id,
          activity: activities[j % activities.length] as string,
          status: j % 11 === 0 ? 'failed' : 'completed',
          account: `user${j}@example.com`,
          performedBy: `admin${j % 40}@example.com`,
          ip: '192.0.2.10',
          description: `Signed in with Chrome from 192.0.2.10, entry ${j}, "quoted", with a comma`,
        });
      }
      await em.insertMany(AuditEvent, batch as never);
    }

    const app = createApp(kernel.deps);
    const login = await app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
      body: new URLSearchParams({ email: 'operator@example.com', password: PASSWORD, next: '/' }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') as string).split(';')[0] as string;
    const time = async (path: string) => {
      const samples: number[] = [];
      await (await app.request(path, { headers: { cookie } })).arrayBuffer(); // warm-up
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        const res = await app.request(path, { headers: { cookie } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
        samples.push(performance.now() - t);
      }
      return summarize(samples);
    };
    const accounts = rows.length;
    console.log(
      `\nPortal and security audit: ${accounts} accounts (${PARTNERS} partners), ${AUDIT_ROWS} audit rows; in-process requests, ${RUNS} runs each`,
    );
    console.log(row('GET /portal (direct children)', await time('/portal'), 'ms'));
    console.log(row('GET /portal?all=1&q=customer-7 (search)', await time('/portal?all=1&q=customer-7'), 'ms'));
    console.log(row('GET /portal?all=1&page=100', await time('/portal?all=1&page=100'), 'ms'));
    console.log(row('GET /activity/security-audit', await time('/activity/security-audit'), 'ms'));
    console.log(
      row(
        '  … ?performer=admin3&status=failed',
        await time('/activity/security-audit?performer=admin3&status=failed'),
        'ms',
      ),
    );
    console.log(row('  … ?page=1000 (deep page)', await time('/activity/security-audit?page=1000'), 'ms'));

    const user = await em.findOneOrFail(User, { email: 'operator@example.com' }, { populate: ['organization'] });
    const principal = principalForUser(user);
    const queryOnly: number[] = [];
    const exportRuns: number[] = [];
    let bytes = 0;
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      let t = performance.now();
      let n = 0;
      for await (const _ of allAuditRows(kernel.orm.em.fork(), principal, root, {})) n++;
      queryOnly.push(performance.now() - t);
      t = performance.now();
      const res = await app.request('/activity/security-audit/export.csv', { headers: { cookie } });
      bytes = (await res.arrayBuffer()).byteLength;
      exportRuns.push(performance.now() - t);
      if (n < AUDIT_ROWS) throw new Error(`query returned ${n} rows`);
    }
    const q = summarize(queryOnly);
    const e = summarize(exportRuns);
    const perSecond = (ms: number) => ((AUDIT_ROWS / ms) * 1000).toFixed(0);
    console.log(row(`allAuditRows, ${AUDIT_ROWS} rows (baseline)`, q, 'ms'));
    console.log(row('CSV export, all rows', e, 'ms'));
    console.log(
      `${''.padEnd(34)} ${perSecond(e.median)} rows/s, ${((bytes / 1_048_576 / e.median) * 1000).toFixed(1)} MiB/s (${(bytes / 1_048_576).toFixed(1)} MiB), ${(e.median / q.median).toFixed(2)}x the bare query (${perSecond(q.median)} rows/s)`,
    );
  } finally {
    await kernel.close();
    dir.remove();
  }
}

if (import.meta.main) await benchPortal();
