// docs/offboard-export.mjs against a real appliance process with the demo Dropbox team (demo/team.ts
// on the stand-in): the operator's API key backs the customer up through the API (following the
// backup jobs by the ids backup-now returns), then the script lists the customer's entities, picks
// each latest snapshot and exports everything to a storage location; the ZIPs it leaves hold what
// each member and team folder held.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../core/access/api-keys.ts';
import { principalForUser } from '../../../core/access/principal.ts';
import { type Kernel, openKernel } from '../../../core/appliance.ts';
import { type IOrganization, User } from '../../../core/identity/entities.ts';
import { createLogger } from '../../../core/logging.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import type { IBackupTask } from '../../../core/tasks/entities.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { seedDemoTeam } from '../../../demo/team.ts';
import { FakeDropbox } from '../../fakes/dropbox/index.ts';
import { basic, type Json } from '../../helpers/api.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { setupAdministrator } from '../../helpers/e2e.ts';
import { ADMIN } from '../../helpers/kernel.ts';
import { baseEnv, type RunningProcess, repoRoot, startApplianceProcess } from '../../helpers/process.ts';
import { makeOrganization } from '../../helpers/tenants.ts';

const data = tempDir();
const exportsDir = tempDir();
let fake: FakeDropbox;
let appliance: RunningProcess;
let kernel: Kernel;
let customer: IOrganization;
let task: IBackupTask;
let credentials: { clientId: string; secret: string };
let token = '';
let operatorId = '';

async function api(path: string, method = 'GET', body?: unknown): Promise<Json> {
  const res = await fetch(`${appliance.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const payload = (await res.json()) as Json;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(payload)}`);
  return payload;
}

/** Polls the job through the API until it is final (the appliance runs it in a worker). */
async function finalJob(id: string): Promise<Json> {
  for (let i = 0; i < 600; i++) {
    const job = await api(`/jobs/${id}`);
    if (['succeeded', 'partially_succeeded', 'failed', 'canceled'].includes(job.state)) return job;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`job ${id} did not finish\n${appliance.stderr()}`);
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .map((p) => join(folder, p))
    .filter((p) => statSync(p).isFile());
}

beforeAll(async () => {
  fake = await new FakeDropbox({ teamName: 'Northwind Traders (demo)' }).start();
  seedDemoTeam(fake);
  const env = {
    HOLDFAST_DROPBOX_APP_KEY: fake.appKey,
    HOLDFAST_DROPBOX_APP_SECRET: fake.appSecret,
    HOLDFAST_DROPBOX_API_BASE: fake.url,
    HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1',
  };
  appliance = await startApplianceProcess(baseEnv(data.path, env));
  await setupAdministrator(appliance.url);
  kernel = await openKernel(testConfig(data.path, env), createLogger('silent'));
  const em = kernel.orm.em.fork();
  const admin = await em.findOneOrFail(User, { email: ADMIN.email }, { populate: ['organization'] });
  operatorId = admin.organization.id;
  customer = await makeOrganization(em, admin.organization, 'customer', 'Northwind (leaving)');
  task = await createTask(
    em,
    { credentials: kernel.credentials, services: servicePlugin, now: () => new Date(), log: kernel.deps.log },
    customer,
    {
      service: 'dropbox',
      name: 'Northwind Dropbox',
      connection: { refreshToken: fake.grant().refreshToken, teamId: fake.team.id, teamName: fake.team.name },
    },
    { label: ADMIN.email },
  );
  await discoverEntities(em, task, servicePlugin('dropbox') as never, kernel.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: kernel.deps.log,
    now: new Date(),
  });
  // The operator's own key: it reaches the customer below it.
  const created = await createApiKey(em, admin.organization, principalForUser(admin), { label: ADMIN.email });
  credentials = { clientId: created.key.id, secret: created.secret };
  const res = await fetch(`${appliance.url}/api/v1/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(credentials.clientId, credentials.secret),
    },
    body: 'grant_type=client_credentials',
  });
  token = ((await res.json()) as Json).access_token;
}, 60_000);

afterAll(async () => {
  await kernel?.close();
  appliance?.child.kill('SIGTERM');
  await appliance?.exited;
  await fake?.stop();
  data.remove();
  exportsDir.remove();
});

describe('the off-boarding script', () => {
  it("exports each entity's latest snapshot of a leaving customer to a storage location", async () => {
    // Back the customer up through the API, following the backup jobs by id.
    const { items: entities } = await api(`/tasks/${task.id}/entities?pageSize=200`);
    const ids = entities.map((e: Json) => e.id);
    await api(`/tasks/${task.id}/entities/activate`, 'POST', { ids });
    const { jobIds } = await api(`/tasks/${task.id}/entities/backup-now`, 'POST', { ids });
    const backups = await Promise.all((jobIds as string[]).map(finalJob));
    expect(backups.every((j) => j.kind === 'backup')).toBe(true);
    const backedUp = backups.filter((j) => j.state === 'succeeded').map((j) => j.account as string);
    // Three active members and two team folders; the suspended member cannot be read.
    expect(backedUp.sort()).toEqual(
      [
        'Finance',
        'Marketing',
        'ada.admin@northwind.example',
        'bo.chen@northwind.example',
        'cy.dumont@northwind.example',
      ].sort(),
    );

    // The operator's local disk, available to every account below it.
    const { location } = await api(`/organizations/${operatorId}/storage-locations`, 'POST', {
      name: 'Off-boarding disk',
      kind: 'local',
      settings: { path: exportsDir.path },
    });

    const script = spawn(
      process.execPath,
      [
        join(repoRoot, 'docs/offboard-export.mjs'),
        '--organization',
        customer.id,
        '--location',
        location.id,
        '--format',
        'zip',
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOLDFAST_URL: appliance.url,
          HOLDFAST_CLIENT_ID: credentials.clientId,
          HOLDFAST_CLIENT_SECRET: credentials.secret,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    script.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    script.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => script.on('exit', resolve));
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toContain('former.employee@northwind.example: no snapshot, nothing to export');
    for (const name of backedUp) expect(out).toMatch(new RegExp(`/ ${name}: snapshot of .*, succeeded`));

    const zips = filesUnder(join(exportsDir.path, 'exports', 'organizations', customer.id)).filter((f) =>
      f.endsWith('.zip'),
    );
    expect(zips).toHaveLength(backedUp.length);
    const listing = zips.map((z) => execFileSync('unzip', ['-Z1', z], { encoding: 'utf8' })).join('\n');
    for (const path of ['Reports/2026/12 Monthly report.txt', 'Budgets/Budget 2026.txt', 'Design/Logo brief.txt']) {
      expect(listing).toContain(path);
    }
  }, 180_000);
});
