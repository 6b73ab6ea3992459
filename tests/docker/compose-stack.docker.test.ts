// docker/compose.yml end to end, as an MSP following docker/README.md would run it: build the
// image, start the stack (Holdfast, MinIO, the bucket), complete setup, connect the demo Dropbox
// team (the stand-in runs on this host; the container reaches it through host.docker.internal),
// back everything up — into MinIO, the stack's default storage location — and restore a member's
// files. Run only by `npm run test:docker` (vitest.docker.config.ts): without a Docker engine it
// fails and says why, and .ci/run reports the Docker suite as not run instead of running it.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoTeam } from '../../demo/team.ts';
import { FakeDropbox } from '../fakes/dropbox/index.ts';
import { dockerStatus } from '../helpers/docker.ts';
import { ADMIN } from '../helpers/kernel.ts';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '../..');
const project = `holdfast-smoke-${randomBytes(3).toString('hex')}`;
const MINIO = { user: 'holdfast-smoke', password: `smoke-${randomBytes(9).toString('hex')}`, bucket: 'holdfast' };
/** Ceiling of each wait on a condition (the image build is not inside one). */
const WAIT_MS = 180_000;

let dropbox: FakeDropbox;
let work: string;
let url = '';
let minioUrl = '';
let cookie = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function compose(...args: string[]) {
  return run(
    'docker',
    ['compose', '-p', project, '-f', join(repoRoot, 'docker/compose.yml'), '-f', join(work, 'override.yml'), ...args],
    {
      cwd: repoRoot,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        MINIO_ROOT_USER: MINIO.user,
        MINIO_ROOT_PASSWORD: MINIO.password,
        MINIO_BUCKET: MINIO.bucket,
      },
    },
  );
}

/** Polls `check` until it returns a value (not undefined), or fails after WAIT_MS naming `what`. */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function post(path: string, fields: Record<string, string>, extraCookie = ''): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: url,
      cookie: [cookie, extraCookie].filter(Boolean).join('; '),
    },
    body: new URLSearchParams(fields).toString(),
  });
}

async function api<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}/api/v1${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { cookie, origin: url, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  const docker = await dockerStatus();
  if (!docker.reachable)
    throw new Error(`the compose smoke test needs a Docker engine, and none answers: ${docker.reason}`);
  work = mkdtempSync(join(tmpdir(), 'holdfast-compose-'));
  dropbox = await new FakeDropbox({ teamName: 'Northwind Traders (demo)' }).start({
    host: '0.0.0.0',
    advertisedHost: 'host.docker.internal',
  });
  seedDemoTeam(dropbox);
  const [port, minioPort] = [await freePort(), await freePort()];
  url = `http://127.0.0.1:${port}`;
  minioUrl = `http://127.0.0.1:${minioPort}`;
  // Ports of their own (another stack may hold 8080 and 9000), and the demo team's Dropbox app.
  writeFileSync(
    join(work, 'override.yml'),
    [
      'services:',
      '  holdfast:',
      `    ports: !override ["127.0.0.1:${port}:8080"]`,
      '    extra_hosts: ["host.docker.internal:host-gateway"]',
      '    environment:',
      `      HOLDFAST_PUBLIC_URL: "${url}"`,
      `      HOLDFAST_DROPBOX_APP_KEY: "${dropbox.appKey}"`,
      `      HOLDFAST_DROPBOX_APP_SECRET: "${dropbox.appSecret}"`,
      `      HOLDFAST_DROPBOX_API_BASE: "${dropbox.url}"`,
      '  minio:',
      `    ports: !override ["127.0.0.1:${minioPort}:9000"]`,
      '',
    ].join('\n'),
  );
  await compose('up', '-d', '--build', '--wait');
  await until('the appliance to answer', async () => ((await fetch(`${url}/api/v1/status`)).ok ? true : undefined));
}, 1_200_000);

afterAll(async () => {
  if (work) {
    await compose('down', '-v', '--remove-orphans').catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
  await dropbox?.stop();
});

describe('docker compose with MinIO', () => {
  it('sets up, backs the demo team up into MinIO and restores it', async () => {
    // Setup, then sign in.
    const setup = await post('/setup', { ...ADMIN, confirmPassword: ADMIN.password });
    expect(setup.status).toBe(303);
    const login = await post('/login', { email: ADMIN.email, password: ADMIN.password, next: '/' });
    expect(login.status).toBe(303);
    cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;

    // The stack's MinIO is the default storage location, without touching Settings.
    const me = await api<{ organization: { id: string } }>('/me');
    const locations = await api<{ items: { name: string; kind: string }[] }>(
      `/organizations/${me.organization.id}/storage-locations`,
    );
    expect(locations.items.map((l) => [l.name, l.kind])).toContainEqual(['On-premises MinIO', 's3']);

    // Connect the demo team: the stand-in's sign-in approves at once.
    const adding = await post('/tasks/new', {
      service: 'dropbox',
      name: 'Northwind Dropbox',
      frequency: 'daily',
      backupHour: '4',
    });
    expect(adding.status).toBe(200);
    const oauthCookie = (adding.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const refresh = (await adding.text()).match(/<meta http-equiv="refresh" content="0;url=([^"]+)">/)?.[1] ?? '';
    const authorize = new URL(refresh.replaceAll('&amp;', '&').replace('host.docker.internal', '127.0.0.1'));
    const approved = await fetch(authorize, { redirect: 'manual' });
    const back = new URL(approved.headers.get('location') as string);
    const created = await fetch(`${url}${back.pathname}${back.search}`, {
      redirect: 'manual',
      headers: { cookie: `${cookie}; ${oauthCookie}` },
    });
    const taskId = (created.headers.get('location') ?? '').match(/\/tasks\/([0-9a-f-]{36})/)?.[1] as string;
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);

    // Discovery, then Backup now of everything that can be backed up.
    type Entity = { id: string; name: string; status: string; lastSnapshotId: string | null };
    const entities = await until('discovery', async () => {
      const page = await api<{ items: Entity[] }>(`/tasks/${taskId}/entities?pageSize=100`);
      return page.items.length >= 6 ? page.items : undefined;
    });
    const eligible = entities.filter((e) => e.status !== 'unavailable');
    await api(`/tasks/${taskId}/entities/backup-now`, { ids: eligible.map((e) => e.id) });
    const backedUp = await until('the backups', async () => {
      const page = await api<{ items: Entity[] }>(`/tasks/${taskId}/entities?pageSize=100`);
      const done = page.items.filter((e) => e.status !== 'unavailable');
      return done.every((e) => ['success', 'partial', 'failed'].includes(e.status)) ? page.items : undefined;
    });
    expect(backedUp.filter((e) => e.status !== 'unavailable').map((e) => e.status)).toEqual(
      eligible.map(() => 'success'),
    );

    // The snapshots are in MinIO's bucket.
    const s3 = new S3Client({
      endpoint: minioUrl,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: MINIO.user, secretAccessKey: MINIO.password },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: MINIO.bucket, Prefix: 'organizations/' }));
    s3.destroy();
    expect(listed.KeyCount ?? 0).toBeGreaterThan(0);

    // Restore a member's files next to the originals, read back from MinIO.
    const member = backedUp.find((e) => e.name.startsWith('ada.admin@')) as Entity;
    const restore = await api<{ id: string }>('/jobs', {
      kind: 'restore',
      taskId,
      entityId: member.id,
      snapshotId: member.lastSnapshotId,
      mode: 'non_destructive',
    });
    const job = await until('the restore', async () => {
      const j = await api<{ state: string }>(`/jobs/${restore.id}`);
      return ['succeeded', 'partially_succeeded', 'failed', 'canceled'].includes(j.state) ? j : undefined;
    });
    expect(job.state).toBe('succeeded');
    const ada = dropbox.team.members.find((m) => m.email.startsWith('ada.admin@'));
    const folders = (ada?.namespace.list('', false) ?? []).map((n) => (n as { pathDisplay: string }).pathDisplay);
    expect(folders.some((p) => /^\/Restored [^/]+$/.test(p))).toBe(true);
  }, 900_000);
});
